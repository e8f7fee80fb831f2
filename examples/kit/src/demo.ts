import { fork } from 'node:child_process'
import type { ApiOptions, OAuthOptions } from '@codegrant/core'
import { isProviderConfigured } from '@codegrant/dev-provider'
import type { DemoMessage } from './demo-child.js'

/** The demo, started: the app's options (the provider's client and secrets), the demo's APIs if it started them, and how to stop it. */
export interface Demo {
  options: OAuthOptions & { cookieSecret: string }
  apis: Record<string, ApiOptions> | undefined
  close(): Promise<void>
}

/**
 * With no provider configured (`OAUTH_ISSUER`, or `OAUTH_PROVIDERS` without issuers), starts the
 * demo — the dev provider(s) and, for the one-provider demo, its two APIs — in a process of its own
 * (`demo-child.ts`, with the example's environment and output), as a real provider and real APIs
 * are other servers; undefined when a provider is configured.
 *
 * Not in the example's process: oidc-provider runs each of its requests inside an
 * AsyncLocalStorage, and on Node.js 20 a storage once used turns on async hooks for every promise
 * and async resource of the process from then on, so every request the example served after the
 * first login paid for the provider's context tracking (bench/RESULTS.md, "The examples").
 */
export async function startDemo(port: number): Promise<Demo | undefined> {
  if (isProviderConfigured(process.env)) return undefined
  const child = fork(new URL('./demo-child.js', import.meta.url), [String(port)], { stdio: 'inherit' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const message = await new Promise<DemoMessage>((resolve, reject) => {
    child.once('message', (answer) => resolve(answer as DemoMessage))
    child.once('exit', (code) => reject(new Error(`codegrant demo: the demo's process exited (${code}) before it started`)))
  })
  if ('error' in message) {
    await exited
    throw new Error(message.error)
  }
  return {
    options: message.options as unknown as Demo['options'],
    apis: message.apis,
    close: async () => {
      if (child.connected) child.send('close')
      await exited
    },
  }
}
