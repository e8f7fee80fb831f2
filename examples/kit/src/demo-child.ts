/**
 * The demo's own process (started by `demo.ts`, never by hand): the dev provider(s) and, for the
 * one-provider demo, its two APIs, exactly as the example used to start them in its own process.
 * Sends the app's options (`{ options, apis }`), or `{ error }` (the message) when they cannot
 * start, over IPC; stops them on 'close' or when the example goes away (the IPC channel closes).
 * Ctrl-C reaches this process too (the terminal's process group): the example stops it, in its order.
 */
import type { ApiOptions } from '@codegrant/core'
import { startDemoIfUnconfigured, startDemoProvidersIfUnconfigured } from '@codegrant/dev-provider'
import { startDemoApis, type DemoApis } from './demo-apis.js'

/** What the demo's process tells the example. */
export type DemoMessage = { options: Record<string, unknown>; apis?: Record<string, ApiOptions> } | { error: string }

const send = (message: DemoMessage) => new Promise<void>((resolve) => process.send!(message, () => resolve()))

// the example decides when this process stops (after the app, as before)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {})

let close: () => Promise<void> = async () => {}
process.on('message', (message) => {
  if (message === 'close') void close().finally(() => process.exit(0))
})
process.on('disconnect', () => void close().finally(() => process.exit(0)))

try {
  const port = Number(process.argv[2])
  // OAUTH_PROVIDERS without issuers: one dev provider per name; no provider at all: the one-provider demo
  const demo = (await startDemoProvidersIfUnconfigured(process.env, port)) ?? (await startDemoIfUnconfigured(process.env, port))
  if (!demo) throw new Error('codegrant demo: a provider is configured, there is no demo to start')
  let apis: DemoApis | undefined
  close = async () => {
    await apis?.close()
    await demo.close()
  }
  // the one-provider demo calls two small APIs of its own, unless the environment names APIs; not
  // the mTLS demo: its certificate-bound tokens need APIs that check the certificate (plain http here)
  const mtls = 'provider' in demo && demo.options.clientCert !== undefined
  apis = 'provider' in demo && !mtls && !process.env.OAUTH_APIS?.trim() ? await startDemoApis(demo.provider) : undefined
  await send({ options: demo.options, ...(apis ? { apis: apis.apis } : {}) })
} catch (error) {
  await close()
  await send({ error: error instanceof Error ? error.message : String(error) })
  process.exit(1)
}
