/**
 * Shared Signals (issue 23 item 5): a loopback transmitter beside the dev provider (its metadata
 * at the provider's issuer, `/.well-known/ssf-configuration`, and its own JWKS) pushes Security
 * Event Tokens to `POST /auth/ssf` (RFC 8935), signed here with node:crypto. CAEP
 * `session-revoked` ends the user's sessions on every instance, `credential-change` and
 * `assurance-level-change` require a fresh sign-in at the next guarded request,
 * `token-claims-change` refreshes the claims, unknown events are acknowledged; forged, misaddressed,
 * replayed or stale SETs are refused with the RFC 8935 error and change nothing; a transmitter
 * whose keys rotate is followed. Cookie sessions with Redis on two instances of each framework,
 * and the memory store.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import type { OAuthOptions } from '@codegrant/core'
import type { DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, HTML, login, type Agent } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Stage } from './support/apps.js'
import { appOptions, captureLogs, CLIENT_ID, startProvider } from './support/provider.js'
import { startRedis, until, type RedisServer } from './support/redis.js'

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'

let stage: Stage
let provider: DevProvider
let redis: RedisServer
let transmitter: ReturnType<typeof loopbackTransmitter>
beforeAll(async () => {
  stage = await openStage()
  provider = await startProvider(stage.url)
  redis = await startRedis()
  transmitter = loopbackTransmitter(provider)
}, 30_000)
afterAll(async () => {
  await stage?.close()
  await provider?.close()
  await redis?.close()
})

/**
 * The transmitter: served by the dev provider's origin (so its metadata is at the provider's
 * issuer), with an ES256 key of its own that it can rotate, and a count of its JWKS fetches.
 */
function loopbackTransmitter(dev: DevProvider) {
  const newKey = () => ({ kid: randomUUID(), ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) })
  let key = newKey()
  let jwksFetches = 0
  dev.intercept(async (ctx, next) => {
    if (ctx.path === '/.well-known/ssf-configuration') {
      ctx.type = 'application/json'
      ctx.body = JSON.stringify({ spec_version: '1_0', issuer: dev.issuer, jwks_uri: `${dev.issuer}/ssf/jwks`, delivery_methods_supported: ['urn:ietf:rfc:8935'] })
      return
    }
    if (ctx.path === '/ssf/jwks') {
      jwksFetches++
      ctx.type = 'application/json'
      ctx.body = JSON.stringify({ keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: key.kid, alg: 'ES256', use: 'sig' }] })
      return
    }
    await next()
  })
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const signed = (header: Record<string, unknown>, claims: Record<string, unknown>, with_: KeyObject = key.privateKey) => {
    const input = `${encode(header)}.${encode(claims)}`
    return `${input}.${sign('sha256', Buffer.from(input), { key: with_, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
  }
  return {
    get jwksFetches() {
      return jwksFetches
    },
    rotate() {
      key = newKey()
    },
    /** A SET about `sub` with one event of `type` (a CAEP name, or a whole URI), `claims` overriding. */
    set(sub: string, type: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signWith?: KeyObject) {
      const event = type.includes(':') ? type : `${CAEP}${type}`
      return signed(
        { alg: 'ES256', typ: 'secevent+jwt', kid: key.kid, ...header },
        { iss: dev.issuer, aud: CLIENT_ID, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), sub_id: { format: 'iss_sub', iss: dev.issuer, sub }, events: { [event]: { event_timestamp: Math.floor(Date.now() / 1000) } }, ...claims },
        signWith,
      )
    },
  }
}

let users = 0
function newUser(): string {
  const sub = `signals-${users++}`
  provider.addUser({ sub, name: sub, email: `${sub}@example.com`, groups: [] })
  return sub
}

const push = (set: string, instance = 'a', type = 'application/secevent+jwt') =>
  fetch(`${stage.url}/auth/ssf`, { method: 'POST', headers: { 'content-type': type, accept: 'application/json', 'x-instance': instance }, body: set })
const seconds = () => Math.floor(Date.now() / 1000)

describe.each(FRAMEWORKS)('%s: Shared Signals with cookie sessions and Redis (two instances)', (framework) => {
  const options = (extra: OAuthOptions = {}) => appOptions(provider, stage.url, captureLogs(), { redisUrl: redis.url, redisPrefix: `ssf-${framework}:`, ssf: true, ...extra })

  beforeAll(async () => {
    const [a, b] = [await buildHandler(framework, options(), `${provider.issuer}/me`), await buildHandler(framework, options(), `${provider.issuer}/me`)]
    stage.mount((req, res) => (req.headers['x-instance'] === 'b' ? b : a)(req, res))
  })

  const on = (agent: Agent, path: string, instance: 'a' | 'b', headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers: { ...headers, 'x-instance': instance } })
  const signedIn = async () => {
    const agent = createAgent()
    const sub = newUser()
    await login(agent, stage.url, sub)
    for (const instance of ['a', 'b'] as const) expect((await on(agent, '/me', instance)).status).toBe(200)
    return { agent, sub }
  }

  it('session-revoked ends the user\'s sessions on every instance', async () => {
    const { agent, sub } = await signedIn()
    const other = await signedIn()
    expect((await push(transmitter.set(sub, 'session-revoked'))).status).toBe(202)
    expect((await on(agent, '/me', 'b')).status).toBe(401)
    expect((await on(other.agent, '/me', 'b')).status).toBe(200)
  })

  it.each(['credential-change', 'assurance-level-change'])('%s requires a fresh sign-in at the next guarded request; public pages stay signed in', async (type) => {
    const { agent, sub } = await signedIn()
    expect((await push(transmitter.set(sub, type))).status).toBe(202)
    const api = await on(agent, '/me', 'b')
    expect(api.status).toBe(401)
    expect(JSON.parse(api.body)).toMatchObject({ error: 'insufficient_user_authentication', max_age: 0 })
    expect(api.headers.get('www-authenticate')).toContain('insufficient_user_authentication')
    const browser = await on(agent, '/me', 'a', HTML)
    expect(browser.status).toBe(302)
    expect(new URL(browser.headers.get('location')!).searchParams.get('max_age')).toBe('0')
    expect((await on(agent, '/', 'b', HTML)).body).toBe(`signed in as ${sub}`)
    // a sign-in after the event is fresh enough
    const after = seconds() + 1
    await until('the next second', async () => seconds() >= after, 3000)
    const again = createAgent()
    await login(again, stage.url, sub)
    for (const instance of ['a', 'b'] as const) expect((await on(again, '/me', instance)).status).toBe(200)
  })

  it('token-claims-change refreshes the claims at the next guarded request, once', async () => {
    const { agent, sub } = await signedIn()
    const refreshes = () => provider.count('grant.success', 'refresh_token')
    const before = refreshes()
    expect((await push(transmitter.set(sub, 'token-claims-change'))).status).toBe(202)
    // the ID token issued by the refresh must be newer than the event
    const after = seconds() + 1
    await until('the next second', async () => seconds() >= after, 3000)
    expect((await on(agent, '/me', 'b')).status).toBe(200)
    expect(refreshes()).toBe(before + 1)
    expect((await on(agent, '/me', 'a')).status).toBe(200)
    expect(refreshes()).toBe(before + 1)
  })

  it('unknown events are acknowledged and ignored', async () => {
    const { agent, sub } = await signedIn()
    expect((await push(transmitter.set(sub, 'https://schemas.example/event-type/something-else'))).status).toBe(202)
    expect((await on(agent, '/me', 'b')).status).toBe(200)
  })
})

describe('Shared Signals refused: the RFC 8935 error, nothing changed (memory store)', () => {
  let agent: Agent
  let sub: string
  beforeAll(async () => {
    stage.mount(await buildHandler('express5', appOptions(provider, stage.url, captureLogs(), { sessionStore: 'memory', ssf: true }), `${provider.issuer}/me`))
    agent = createAgent()
    sub = newUser()
    await login(agent, stage.url, sub)
  })
  const stillSignedIn = async () => expect((await agent.request(`${stage.url}/me`, { headers: API })).status).toBe(200)

  it('refuses forged, misaddressed, stale and malformed SETs with the RFC 8935 error', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    const refused: [string, string, string | undefined, string][] = [
      ['forged (another key)', transmitter.set(sub, 'session-revoked', {}, {}, stranger), undefined, 'invalid_key'],
      ['wrong aud', transmitter.set(sub, 'session-revoked', { aud: 'another-client' }), undefined, 'invalid_audience'],
      ['wrong iss', transmitter.set(sub, 'session-revoked', { iss: 'https://evil.example' }), undefined, 'invalid_issuer'],
      ['expired iat', transmitter.set(sub, 'session-revoked', { iat: seconds() - 3600 }), undefined, 'invalid_request'],
      ['future iat', transmitter.set(sub, 'session-revoked', { iat: seconds() + 3600 }), undefined, 'invalid_request'],
      ['another typ', transmitter.set(sub, 'session-revoked', {}, { typ: 'logout+jwt' }), undefined, 'invalid_request'],
      ['no jti', transmitter.set(sub, 'session-revoked', { jti: undefined }), undefined, 'invalid_request'],
      ['an email subject', transmitter.set(sub, 'session-revoked', { sub_id: { format: 'email', email: `${sub}@example.com` } }), undefined, 'invalid_request'],
      ['a form, not a SET', transmitter.set(sub, 'session-revoked'), 'application/x-www-form-urlencoded', 'invalid_request'],
      ['not a JWT', 'not-a-jwt', undefined, 'invalid_request'],
    ]
    for (const [why, set, type, err] of refused) {
      const response = await push(set, 'a', type)
      expect([why, response.status]).toEqual([why, 400])
      expect([why, (await response.json()) as unknown]).toEqual([why, { err, description: expect.any(String) }])
      await stillSignedIn()
    }
  })

  it('accepts a jti once: a replay is refused (and changes nothing)', async () => {
    const set = transmitter.set(sub, 'https://schemas.example/event-type/ignored')
    expect((await push(set)).status).toBe(202)
    const replayed = await push(set)
    expect(replayed.status).toBe(400)
    expect(await replayed.json()).toMatchObject({ err: 'invalid_request' })
    await stillSignedIn()
  })

  it('follows a transmitter whose keys rotate: an unknown kid refetches its JWKS', async () => {
    expect((await push(transmitter.set(sub, 'https://schemas.example/event-type/ignored'))).status).toBe(202)
    const fetched = transmitter.jwksFetches
    transmitter.rotate()
    expect((await push(transmitter.set(sub, 'https://schemas.example/event-type/ignored'))).status).toBe(202)
    expect(transmitter.jwksFetches).toBe(fetched + 1)
  })

  it('session-revoked ends the user\'s sessions in a server-side store', async () => {
    expect((await push(transmitter.set(sub, 'session-revoked'))).status).toBe(202)
    expect((await agent.request(`${stage.url}/me`, { headers: API })).status).toBe(401)
  })
})
