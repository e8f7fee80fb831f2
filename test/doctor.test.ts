/**
 * `codegrant doctor` as a user runs it: the bin, the OAUTH_* environment only. Against the dev
 * provider every check passes (exit 0) and the redirect URI to register is printed; a broken
 * configuration, an unreachable provider or an issuer mismatch fail (exit 1) with the cause.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLIENT_ID, CLIENT_SECRET, SECRET_A, startProvider } from './support/provider.js'
import { startRedis, type RedisServer } from './support/redis.js'

const BIN = fileURLToPath(new URL('../packages/core/bin/codegrant.js', import.meta.url))
const APP = 'http://127.0.0.1:3000'

/** Runs the bin; one that has not exited after `limit` ms is killed (its code is then null). */
async function run(args: string[], env: Record<string, string>, limit = 20_000): Promise<{ code: number | null; output: string; ms: number }> {
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const hung = setTimeout(() => child.kill('SIGKILL'), limit)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(hung)
  return { code, output, ms: performance.now() - started }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net')
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as { port: number }
  await new Promise((resolve) => closed.close(resolve))
  return port
}

describe('codegrant doctor', () => {
  let provider: DevProvider
  let env: Record<string, string>
  beforeAll(async () => {
    provider = await startProvider(APP)
    env = { OAUTH_ISSUER: provider.issuer, OAUTH_CLIENT_ID: CLIENT_ID, OAUTH_CLIENT_SECRET: CLIENT_SECRET, OAUTH_BASE_URL: APP, OAUTH_COOKIE_SECRET: SECRET_A }
  })
  afterAll(async () => {
    await provider.close()
  })

  it('passes against the dev provider and prints what to register and the clock difference', async () => {
    const { code, output } = await run(['doctor'], env)
    expect(output).toContain('✔ configuration valid')
    expect(output).toContain(`· redirect URI to register at the provider: ${APP}/auth/callback`)
    expect(output).toContain(`✔ provider reachable: ${provider.issuer}/.well-known/openid-configuration (issuer ${provider.issuer})`)
    expect(output).toContain('✔ endpoints https')
    expect(output).toContain('✔ PKCE S256 supported')
    expect(output).toContain('✔ iss in the authorization response (RFC 9207)')
    expect(output).toMatch(/✔ clock difference with the provider: [+-]\d+ s/)
    expect(output).toMatch(/✔ JWKS: \d+ key\(s\)/)
    expect(output).toContain('✔ ID token signing algorithm: RS256 (pinned)')
    expect(output).toContain('· PAR (RFC 9126): offered by the provider; OAUTH_PAR=true to use it')
    expect(output).toContain('✔ client authentication: accepted (client_secret_basic): a made-up code was refused with invalid_grant')
    expect(output).toContain('All checks passed.')
    expect(output).not.toContain(CLIENT_SECRET)
    expect(output).not.toContain(SECRET_A)
    expect(code).toBe(0)
  })

  it('fails on a broken configuration, listing every problem', async () => {
    const { code, output } = await run(['doctor'], { OAUTH_ISSUER: provider.issuer, OAUTH_COOKIE_SECRET: 'short' })
    expect(code).toBe(1)
    expect(output).toContain('✖ configuration:')
    expect(output).toContain('OAUTH_CLIENT_ID is required')
    expect(output).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters (got 5)')
  })

  it('fails when the provider cannot be reached, naming the cause once', async () => {
    const { code, output } = await run(['doctor'], { ...env, OAUTH_ISSUER: `http://127.0.0.1:${await closedPort()}` })
    expect(code).toBe(1)
    expect(output).toMatch(/✖ provider reachable: .*ECONNREFUSED/)
    expect(output.match(/ECONNREFUSED/g)).toHaveLength(1)
  })

  it('fails on a wrong client secret, naming the variables to check (and never the secret)', async () => {
    const wrong = 'not-the-registered-secret'
    const { code, output } = await run(['doctor'], { ...env, OAUTH_CLIENT_SECRET: wrong })
    expect(code).toBe(1)
    expect(output).toMatch(/✖ client authentication: the provider refused the client's credentials \(invalid_client.*\): check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_CLIENT_AUTH_METHOD/)
    expect(output).not.toContain(wrong)
  })

  describe('with OAUTH_SESSION_STORE=redis', () => {
    let redis: RedisServer
    beforeAll(async () => {
      redis = await startRedis()
    })
    afterAll(async () => {
      await redis?.close()
    })

    it('checks Redis with a PING and exits (Redis up)', async () => {
      const { code, output } = await run(['doctor'], { ...env, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: redis.url }, 15_000)
      expect(output).toContain(`✔ session store: Redis at 127.0.0.1:${redis.port}: answers PING`)
      expect(output).toContain('All checks passed.')
      expect(code).toBe(0)
    })

    it('fails within OAUTH_REDIS_TIMEOUT when Redis cannot be reached, naming the host and the cause, never the password, and exits', async () => {
      const port = await closedPort()
      const { code, output, ms } = await run(['doctor'], { ...env, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`, OAUTH_REDIS_TIMEOUT: '500' }, 15_000)
      expect(output).toMatch(new RegExp(`✖ session store: Redis at 127\\.0\\.0\\.1:${port}: no answer to PING within 500 ms \\(OAUTH_REDIS_TIMEOUT\\): .*ECONNREFUSED.*Check OAUTH_REDIS_URL`))
      expect(output).not.toContain('hunter2')
      expect(output).not.toContain('maxRetriesPerRequest')
      expect(code).toBe(1)
      expect(ms).toBeLessThan(10_000)
    })
  })

  it('fails on a wrong issuer, naming the discovery URL and the status', async () => {
    const { code, output } = await run(['doctor'], { ...env, OAUTH_ISSUER: `${provider.issuer}/realms/demo` })
    expect(code).toBe(1)
    expect(output).toContain(`✖ provider reachable: provider metadata could not be loaded: ${provider.issuer}/realms/demo/.well-known/openid-configuration answered HTTP 404`)
  })

  it('checks each provider of several, each line naming its provider', async () => {
    const { startDevProvider } = await import('@codegrant/dev-provider')
    const beta = await startDevProvider({ quiet: true, host: '127.0.0.2', clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${APP}/auth/callback/beta`] }] })
    try {
      const { code, output } = await run(['doctor'], {
        OAUTH_PROVIDERS: 'alpha,beta',
        OAUTH_BASE_URL: APP,
        OAUTH_COOKIE_SECRET: SECRET_A,
        OAUTH_ALPHA_ISSUER: `${provider.issuer}/realms/missing`,
        OAUTH_ALPHA_CLIENT_ID: CLIENT_ID,
        OAUTH_ALPHA_CLIENT_SECRET: CLIENT_SECRET,
        OAUTH_BETA_ISSUER: beta.issuer,
        OAUTH_BETA_CLIENT_ID: CLIENT_ID,
        OAUTH_BETA_CLIENT_SECRET: CLIENT_SECRET,
      })
      expect(output).toContain(`· alpha: redirect URI to register at the provider: ${APP}/auth/callback/alpha`)
      expect(output).toContain(`✖ alpha: provider reachable: provider metadata could not be loaded: ${provider.issuer}/realms/missing/.well-known/openid-configuration answered HTTP 404`)
      expect(output).toContain(`· beta: redirect URI to register at the provider: ${APP}/auth/callback/beta`)
      expect(output).toContain(`✔ beta: provider reachable: ${beta.issuer}/.well-known/openid-configuration (issuer ${beta.issuer})`)
      expect(output).toContain('✔ beta: ID token signing algorithm: RS256 (pinned)')
      expect(code).toBe(1)
    } finally {
      await beta.close()
    }
  })

  it('answers an unknown command with its usage and exit 2', async () => {
    const { code, output } = await run(['docter'], env)
    expect([code, output]).toEqual([2, expect.stringContaining('usage: npx @codegrant/core doctor')])
  })
})
