/**
 * Every client authentication method against the real provider: client_secret_basic is the
 * suite's default; here client_secret_post and private_key_jwt (RFC 7523) sign in too, and the
 * client assertion's `aud` is chosen to suit providers that accept only one form of it.
 */
import { generateKeyPairSync } from 'node:crypto'
import { startDevProvider, type DevClient, type DevProvider } from '@codegrant/dev-provider'
import type { OAuthOptions } from '@codegrant/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgent, login } from './support/agent.js'
import { buildHandler, openStage, type Stage } from './support/apps.js'
import { captureLogs, SECRET_A } from './support/provider.js'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'suite-key', alg: 'ES256', use: 'sig' }
const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()

/** A dev provider whose private_key_jwt client accepts any aud (`undefined`), or only one form. */
let provider: DevProvider
const strict: Partial<Record<'issuer' | 'endpoint', DevProvider>> = {}
const stages: Record<'post' | 'jwt', Stage> = {} as Record<'post' | 'jwt', Stage>

const jwtClient = (stage: Stage): DevClient => ({
  client_id: 'jwt-client',
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  jwks: { keys: [publicJwk] },
  redirect_uris: [`${stage.url}/auth/callback`],
  post_logout_redirect_uris: [`${stage.url}/`],
})

beforeAll(async () => {
  stages.post = await openStage()
  stages.jwt = await openStage()
  ;[provider, strict.issuer, strict.endpoint] = await Promise.all([
    startDevProvider({
      quiet: true,
      clients: [
        { client_id: 'post-client', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post', redirect_uris: [`${stages.post.url}/auth/callback`] },
        jwtClient(stages.jwt),
      ],
    }),
    startDevProvider({ quiet: true, clientAssertionAudience: 'issuer', clients: [jwtClient(stages.jwt)] }),
    startDevProvider({ quiet: true, clientAssertionAudience: 'endpoint', clients: [jwtClient(stages.jwt)] }),
  ])
})
afterAll(async () => {
  await Promise.all(Object.values(stages).map((stage) => stage.close()))
  await Promise.all([provider, ...Object.values(strict)].map((p) => p.close()))
})

const mountJwt = async (at: DevProvider, logs: ReturnType<typeof captureLogs>, extra: OAuthOptions = {}) => {
  stages.jwt.mount(await buildHandler('express5', {
    issuer: at.issuer, clientId: 'jwt-client', clientAuthMethod: 'private_key_jwt', privateKey: pem,
    baseUrl: stages.jwt.url, cookieSecret: SECRET_A, logger: logs, ...extra,
  }, `${at.issuer}/me`))
}
const clientEvents = (at: DevProvider, name: string) => at.events.filter((e) => e.name === name && e.clientId === 'jwt-client')

describe('client authentication', () => {
  it('signs in with client_secret_post', async () => {
    const stage = stages.post
    stage.mount(await buildHandler('express5', {
      issuer: provider.issuer, clientId: 'post-client', clientSecret: 'post-secret', clientAuthMethod: 'client_secret_post',
      baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs(),
    }, `${provider.issuer}/me`))
    const result = await login(createAgent(), stage.url, 'alice')
    expect(result.last.body).toBe('signed in as alice')
  })

  it('signs in with private_key_jwt from a PEM key', async () => {
    await mountJwt(provider, captureLogs())
    const result = await login(createAgent(), stages.jwt.url, 'bob')
    expect(result.last.body).toBe('signed in as bob')
    expect(clientEvents(provider, 'grant.success')).toHaveLength(1)
  })
})

describe('private_key_jwt client assertion audience', () => {
  /** Login (through PAR), a refresh-free API call, logout with revocation: every authenticated endpoint. */
  const fullRound = async (at: DevProvider) => {
    const agent = createAgent()
    const result = await login(agent, stages.jwt.url, 'alice')
    const logout = await agent.request(`${stages.jwt.url}/auth/logout`, { method: 'POST', headers: { origin: stages.jwt.url } })
    return { result, logout }
  }

  it('sends each endpoint\'s own URL by default: PAR, token and revocation all accept it where only that is accepted', async () => {
    const at = strict.endpoint!
    const logs = captureLogs()
    await mountJwt(at, logs, { par: true })
    const { result, logout } = await fullRound(at)
    expect(result.last.body).toBe('signed in as alice')
    expect(clientEvents(at, 'pushed_authorization_request.success')).toHaveLength(1)
    expect(clientEvents(at, 'grant.success')).toHaveLength(1)
    expect(logout.status).toBe(302)
    expect(at.events.filter((e) => e.name === 'revocation.success' && e.tokenType === 'refresh_token')).toHaveLength(1)
    expect(logs.lines).toEqual([expect.stringContaining('plain http')])
  })

  it('sends the issuer with clientAssertionAud: issuer, where only the issuer is accepted', async () => {
    const at = strict.issuer!
    const logs = captureLogs()
    await mountJwt(at, logs, { par: true, clientAssertionAud: 'issuer' })
    const { result, logout } = await fullRound(at)
    expect(result.last.body).toBe('signed in as alice')
    expect(clientEvents(at, 'pushed_authorization_request.success')).toHaveLength(1)
    expect(logout.status).toBe(302)
    expect(at.events.filter((e) => e.name === 'revocation.success' && e.tokenType === 'refresh_token')).toHaveLength(1)
    expect(logs.lines.filter((line) => /revocation|invalid_client/.test(line))).toEqual([])
  })

  it('OAUTH_CLIENT_ASSERTION_AUD from the environment; a refused assertion is a 502 and the log names the aud sent and the option', async () => {
    const at = strict.endpoint!
    const logs = captureLogs()
    // the environment is read by the adapter: OAUTH_CLIENT_ASSERTION_AUD=issuer against a provider that wants the endpoint
    process.env.OAUTH_CLIENT_ASSERTION_AUD = 'issuer'
    try {
      await mountJwt(at, logs)
    } finally {
      delete process.env.OAUTH_CLIENT_ASSERTION_AUD
    }
    const result = await login(createAgent(), stages.jwt.url, 'alice')
    expect(result.callback?.status).toBe(502)
    expect(result.callback?.body).not.toContain('BEGIN PRIVATE KEY')
    const hint = logs.lines.find((line) => line.includes('aud'))
    expect(hint).toContain(`aud "${at.issuer}"`)
    expect(hint).toContain('OAUTH_CLIENT_ASSERTION_AUD=token_endpoint')
    expect(hint).toContain('clientAssertionAud')
    for (const line of logs.lines) expect(line).not.toMatch(/eyJ|PRIVATE KEY/)
  })

  it('an invalid OAUTH_CLIENT_ASSERTION_AUD is refused at start-up', async () => {
    await expect(mountJwt(provider, captureLogs(), { clientAssertionAud: 'audience' as never })).rejects.toMatchObject({
      code: 'codegrant/config_invalid',
      message: expect.stringContaining('OAUTH_CLIENT_ASSERTION_AUD must be issuer or token_endpoint'),
    })
  })
})
