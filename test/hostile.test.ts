/**
 * codegrant against a deliberately misbehaving authorization server (support/hostile-provider.ts),
 * once per framework: SECURITY-PLAN sections B, C, D and I. Every failure must answer with the
 * status DESIGN.md gives (400 rejected response or ID token, 502 provider fails or talks
 * nonsense, 504 no answer in time, 503 metadata unavailable), start no session, leak nothing,
 * and leave the app serving. Time-outs come from the app's own short `httpTimeout`: no sleeps.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { API, createAgent, HTML, type Agent, type Hop } from './support/agent.js'
import { FRAMEWORKS, type Framework, type Stage } from './support/apps.js'
import type { HostileProvider, HostileSettings } from './support/hostile-provider.js'
import { useHostileStage } from './support/hostile-stage.js'
import { CLIENT_ID, SECRET_A } from './support/provider.js'

const TIMEOUT = 1000 // OAUTH_HTTP_TIMEOUT for every app in this file, milliseconds (wide enough that a loaded machine never turns a normal answer into a timeout)
const SESSION = 'codegrant.session'
const STACK = /at .*\(.*:\d+:\d+\)/

const isSessionCookie = (line: string) => line.startsWith(`${SESSION}=`) || line.startsWith(`${SESSION}.`)
const setsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line))
const clearsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && /Max-Age=0/i.test(line))
const epoch = () => Math.floor(Date.now() / 1000)
const b64u = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
/** A compact JWS with a dummy signature: the checks it must fail come before signature verification. */
const rawJwt = (header: unknown, payload: unknown) => `${b64u(header)}.${b64u(payload)}.${b64u('not a signature')}`

/** A table row's settings; a function when they depend on the time of the test. */
type Settings = HostileSettings | (() => HostileSettings)
const resolve = (settings: Settings) => (typeof settings === 'function' ? settings() : settings)

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const fixture = useHostileStage(framework, { httpTimeout: TIMEOUT })
  const { mount, get } = fixture
  let stage: Stage
  let hostile: HostileProvider
  let agent: Agent
  beforeEach(() => void ({ stage, hostile, agent } = fixture))

  /** GET /auth/login, through the hostile /authorize, up to (not into) the app's callback. */
  const toCallback = async (): Promise<string> => {
    const isCallback = (url: string) => url.startsWith(`${stage.url}/auth/callback`)
    const started = await agent.follow(`${stage.url}/auth/login`, { headers: HTML }, isCallback)
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status} at ${started.last.url}: ${started.last.body.slice(0, 200)}`)
    return started.stoppedAt
  }
  /** A whole login; the callback's answer (JSON errors unless `headers` says otherwise) and how long it took. */
  const signIn = async (headers: Record<string, string> = API) => {
    const url = await toCallback()
    const started = performance.now()
    const response = await agent.request(url, { headers })
    return { response, elapsed: performance.now() - started, url }
  }

  /** No stack trace, no path into the code, and none of the secrets or what the provider issued. */
  const expectNoLeak = (hop: Hop) => {
    let seen = hop.body
    hop.headers.forEach((value, name) => void (seen += `\n${name}: ${value}`))
    expect(seen).not.toMatch(STACK)
    expect(seen).not.toContain('node_modules')
    for (const secret of [...hostile.secrets(), SECRET_A]) expect(seen).not.toContain(secret)
  }
  /** What every failed callback must look like, and the app keeps serving afterwards. */
  const expectRejected = async (response: Hop, status: number, code: string) => {
    expect({ status: response.status, code: JSON.parse(response.body).code }).toEqual({ status, code })
    expect(setsSession(response.setCookies)).toBe(false)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.setCookies.some((line) => line.startsWith('codegrant.tx.') && /Max-Age=0/i.test(line))).toBe(true)
    expectNoLeak(response)
    const home = await get('/', HTML)
    expect([home.status, home.body]).toEqual([200, 'signed out'])
    expect((await get('/me')).status).toBe(401)
  }
  const expectSignedIn = async (response: Hop) => {
    expect([response.status, response.headers.get('location')]).toEqual([302, '/'])
    expect(setsSession(response.setCookies)).toBe(true)
    const home = await get('/', HTML)
    expect([home.status, home.body]).toEqual([200, `signed in as ${hostile.sub}`])
  }


  describe('token endpoint (code exchange)', () => {
    it.each<[string, number, string, Settings]>([
      ['hangs', 504, 'codegrant/provider_timeout', { token: 'hang' }],
      ['stalls the body after the headers', 504, 'codegrant/provider_timeout', { token: 'stall-body' }],
      ['trickles the body a byte at a time, forever', 504, 'codegrant/provider_timeout', { token: 'trickle' }],
      ['drops the connection', 502, 'codegrant/provider_error', { token: 'reset' }],
      ['answers 500 with a text page', 502, 'codegrant/provider_error', { token: 'status-500' }],
      ['answers 503 temporarily_unavailable', 502, 'codegrant/provider_error', { token: 'status-503' }],
      ['answers 200 with HTML', 502, 'codegrant/provider_error', { token: 'not-json' }],
      ['answers a JSON array', 502, 'codegrant/provider_error', { token: 'array' }],
      ['answers 307 to another host', 502, 'codegrant/provider_error', { token: 'redirect' }],
      ['answers 2 MB (Content-Length)', 502, 'codegrant/provider_error', { token: 'huge' }],
      ['answers 2 MB (chunked)', 502, 'codegrant/provider_error', { token: 'huge-chunked' }],
      ['answers 200 with an error body', 502, 'codegrant/provider_error', { token: 'error-200' }],
      ['answers 401 invalid_client', 502, 'codegrant/provider_error', { token: 'invalid_client' }],
      ['answers 401 invalid_client with WWW-Authenticate', 502, 'codegrant/provider_error', { token: 'invalid_client-challenge' }],
      ['answers invalid_grant', 400, 'codegrant/invalid_grant', { token: 'invalid_grant' }],
      // the code decides: oauth4webapi's "id_token property must be a string" is not an ID token check
      ['omits id_token for an openid login', 502, 'codegrant/provider_error', { tokenResponse: { id_token: undefined } }],
      ['omits access_token', 502, 'codegrant/provider_error', { tokenResponse: { access_token: undefined } }],
      ['answers token_type "mac"', 502, 'codegrant/provider_error', { tokenResponse: { token_type: 'mac' } }],
      ['answers expires_in "abc"', 502, 'codegrant/provider_error', { tokenResponse: { expires_in: 'abc' } }],
      ['answers refresh_token 123', 502, 'codegrant/provider_error', { tokenResponse: { refresh_token: 123 } }],
      ['answers scope []', 502, 'codegrant/provider_error', { tokenResponse: { scope: [] } }],
    ])('%s: %i %s, one token request, never retried', async (_, status, code, settings) => {
      hostile.set(resolve(settings))
      const before = hostile.count('token')
      const { response, elapsed } = await signIn()
      await expectRejected(response, status, code)
      expect(hostile.count('token')).toBe(before + 1)
      expect(hostile.evil.count()).toBe(0) // a redirect is never followed: the code never leaves
      if (status === 504) {
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT - 20)
        expect(elapsed).toBeLessThan(TIMEOUT + 1500)
      }
    })

    it('shows a browser an escaped error page with a way to sign in again, and no leak', async () => {
      hostile.set({ token: 'not-json' })
      const { response } = await signIn(HTML)
      expect(response.status).toBe(502)
      expect(response.headers.get('content-type')).toMatch(/^text\/html/)
      expect(response.body).toContain('href="/auth/login"')
      expect(response.body).toContain('codegrant/provider_error')
      expect(setsSession(response.setCookies)).toBe(false)
      expectNoLeak(response)
      // "sign in again" starts a new transaction that succeeds once the provider behaves
      hostile.reset()
      await expectSignedIn((await signIn()).response)
    })

    it.each<[string, Settings]>([
      ['a well-behaved provider', {}],
      ['token_type "Bearer"', { tokenResponse: { token_type: 'Bearer' } }],
      ['token_type "bearer"', { tokenResponse: { token_type: 'bearer' } }],
      ['token_type "BEARER"', { tokenResponse: { token_type: 'BEARER' } }],
      ['no expires_in', { tokenResponse: { expires_in: undefined } }],
      ['no scope', { tokenResponse: { scope: undefined } }],
      ['no refresh_token', { tokenResponse: { refresh_token: undefined } }],
      ['aud as a one-element array', { idToken: { claims: { aud: [CLIENT_ID] } } }],
      ['two audiences with azp = client_id', { idToken: { claims: { aud: [CLIENT_ID, 'other'], azp: CLIENT_ID } } }],
      ['exp 20 s ago (inside the 30 s clock tolerance)', () => ({ idToken: { claims: { exp: epoch() - 20 } } })],
    ])('accepts %s (positive control)', async (_, settings) => {
      hostile.set(resolve(settings))
      const before = hostile.count('token')
      const { response } = await signIn()
      await expectSignedIn(response)
      expect(hostile.count('token')).toBe(before + 1)
      expect((await get('/api/token')).status).toBe(200)
    })
  })

  describe('ID token', () => {
    const now = epoch
    it.each<[string, Settings]>([
      ['iss of another issuer', { idToken: { claims: { iss: 'https://attacker.example' } } }],
      ['no iss', { idToken: { claims: { iss: undefined } } }],
      ['aud of another client', { idToken: { claims: { aud: 'another-client' } } }],
      ['no aud', { idToken: { claims: { aud: undefined } } }],
      ['an extra untrusted audience (no azp)', { idToken: { claims: { aud: [CLIENT_ID, 'other'] } } }],
      ['azp of another client', { idToken: { claims: { aud: [CLIENT_ID, 'other'], azp: 'other' } } }],
      ['no sub', { idToken: { claims: { sub: undefined } } }],
      ['another nonce', { idToken: { claims: { nonce: 'not-the-nonce-that-was-sent' } } }],
      ['no nonce', { idToken: { claims: { nonce: undefined } } }],
      ['expired (exp = now − 120)', () => ({ idToken: { claims: { exp: now() - 120 } } })],
      ['no exp', { idToken: { claims: { exp: undefined } } }],
      ['no iat', { idToken: { claims: { iat: undefined } } }],
      ['nbf = now + 120', () => ({ idToken: { claims: { nbf: now() + 120 } } })],
      ['exp as a string', () => ({ idToken: { claims: { exp: String(now() + 300) } } })],
      ['alg none', { idToken: { alg: 'none' } }],
      ['HS256 (keyed with the client secret)', { idToken: { alg: 'HS256' } }],
      ['ES256 with a published key while RS256 is pinned', { idToken: { alg: 'ES256' } }],
      ['a signature by a key not in the JWKS (same kid)', { idToken: { alg: 'wrong-key' } }],
      ['a kid that is not in the JWKS', { idToken: { alg: 'unknown-kid' } }],
      ['a crit header extension', { idToken: { header: { crit: ['urn:hostile'], 'urn:hostile': true } } }],
      ['two parts only', { idToken: { raw: `${b64u({ alg: 'RS256' })}.${b64u({ sub: 'alice' })}` } }],
      ['a payload that is a JSON array', { idToken: { raw: rawJwt({ alg: 'RS256', kid: 'rs-1' }, ['alice']) } }],
      ['a header that is not base64url JSON', { idToken: { raw: `%%%.${b64u({ sub: 'alice' })}.sig` } }],
      // SECURITY-PLAN #44 expects 400; the core answers 502 provider_error (see the report)
      ['a JWE (five parts) with no decryption configured', { idToken: { raw: 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d' } }],
    ])('%s: 400 codegrant/id_token_invalid, no session', async (_, settings) => {
      hostile.set(resolve(settings))
      const before = hostile.count('token')
      const { response } = await signIn()
      await expectRejected(response, 400, 'codegrant/id_token_invalid')
      expect(hostile.count('token')).toBe(before + 1)
    })

    it('an ID token without kid, when exactly one published key fits its algorithm: signed in with that key', async () => {
      hostile.set({ idToken: { header: { kid: undefined } } })
      await expectSignedIn((await signIn()).response)
    })

    it('an ID token without kid, when several published keys fit its algorithm: 400 codegrant/id_token_invalid, no session', async () => {
      // oidcc-client-test-kid-absent-multiple-jwks: the module accepts a refusal (or a try of each key)
      hostile.set({ idToken: { header: { kid: undefined } }, secondRsaKey: true })
      await expectRejected((await signIn()).response, 400, 'codegrant/id_token_invalid')
    })

    it('checks the nonce before any userinfo request (fetchUserinfo on)', async () => {
      await mount({ fetchUserinfo: true })
      hostile.set({ idToken: { claims: { nonce: 'not-the-nonce-that-was-sent' } } })
      const before = hostile.count('userinfo')
      const { response } = await signIn()
      await expectRejected(response, 400, 'codegrant/id_token_invalid')
      expect(hostile.count('userinfo')).toBe(before)
    })

    it.each<[string, number, string, Settings]>([
      ['the JWKS hangs', 504, 'codegrant/provider_timeout', { jwks: 'hang' }],
      ['the JWKS answers 500', 502, 'codegrant/provider_error', { jwks: 'status-500' }],
      ['the JWKS answers HTML', 502, 'codegrant/provider_error', { jwks: 'not-json' }],
      ['the JWKS answers 2 MB', 502, 'codegrant/provider_error', { jwks: 'huge' }],
    ])('%s: %i %s', async (_, status, code, settings) => {
      hostile.set(resolve(settings))
      const { response } = await signIn()
      await expectRejected(response, status, code)
    })
  })

  describe('ID token algorithm', () => {
    it('pins the provider\'s asymmetric algorithm when it does not sign with RS256', async () => {
      hostile.set({ metadata: { id_token_signing_alg_values_supported: ['none', 'HS256', 'ES256'] }, idToken: { alg: 'ES256' } })
      await expectSignedIn((await signIn()).response)
    })

    it('refuses that algorithm when RS256 is configured', async () => {
      await mount({ idTokenSigningAlg: 'RS256' })
      hostile.set({ metadata: { id_token_signing_alg_values_supported: ['ES256'] }, idToken: { alg: 'ES256' } })
      await expectRejected((await signIn()).response, 400, 'codegrant/id_token_invalid')
    })

    it('still refuses none when the provider only advertises none', async () => {
      hostile.set({ metadata: { id_token_signing_alg_values_supported: ['none'] }, idToken: { alg: 'none' } })
      await expectRejected((await signIn()).response, 400, 'codegrant/id_token_invalid')
    })
  })

  describe('authorization response', () => {
    it.each<[string, Record<string, string | undefined>, string]>([
      ['an iss of another issuer', { iss: 'https://attacker.example' }, 'codegrant/invalid_callback'],
      ['no iss although the provider advertises it', { iss: undefined }, 'codegrant/invalid_callback'],
      ['an error response with another issuer', { error: 'access_denied', code: undefined, iss: 'https://attacker.example' }, 'codegrant/invalid_callback'],
      ['an error response from the provider (control)', { error: 'access_denied', code: undefined }, 'codegrant/authorization_error'],
    ])('%s: 400 %s and no token request', async (_, authorize, code) => {
      hostile.set({ authorize })
      const before = hostile.count('token')
      const { response } = await signIn()
      await expectRejected(response, 400, code)
      expect(hostile.count('token')).toBe(before)
    })
  })

  describe('discovery', () => {
    const expectUnavailable = async (response: Hop) => {
      expect(response.status).toBe(503)
      const html = response.headers.get('content-type')?.startsWith('text/html')
      expect(html ? /codegrant\/provider_unavailable/.exec(response.body)?.[0] : JSON.parse(response.body).code).toBe('codegrant/provider_unavailable')
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(response.headers.get('location')).toBeNull()
      expectNoLeak(response)
      expect((await get('/', HTML)).status).toBe(200)
    }

    it.each<[string, Settings]>([
      ['answers 500', { discovery: 'status-500' }],
      ['drops the connection', { discovery: 'reset' }],
      ['hangs', { discovery: 'hang' }],
      ['answers HTML', { discovery: 'not-json' }],
      ['answers 2 MB', { discovery: 'huge' }],
      ['lists plain-http endpoints on another host', { discovery: 'http-endpoints' }],
    ])('that %s: /auth/login 503 with Retry-After; not cached: the next login works once fixed', async (_, settings) => {
      hostile.set(resolve(settings))
      const before = hostile.count('discovery')
      await expectUnavailable(await get('/auth/login'))
      hostile.reset()
      const next = await get('/auth/login', HTML)
      expect(next.status).toBe(302)
      expect(new URL(next.headers.get('location')!).origin).toBe(hostile.issuer)
      expect(hostile.count('discovery')).toBe(before + 2)
    })

    it('that names another issuer: 502 codegrant/issuer_mismatch (a configuration error, issue 8), not cached', async () => {
      hostile.set({ discovery: 'issuer-mismatch' })
      const before = hostile.count('discovery')
      const response = await get('/auth/login')
      expect([response.status, JSON.parse(response.body).code]).toEqual([502, 'codegrant/issuer_mismatch'])
      expect(response.headers.get('location')).toBeNull()
      expectNoLeak(response)
      hostile.reset()
      expect((await get('/auth/login', HTML)).status).toBe(302)
      expect(hostile.count('discovery')).toBe(before + 2)
    })

    it('refusing connections: /auth/login 503, then works when the provider is back', async () => {
      await hostile.offline()
      try {
        await expectUnavailable(await get('/auth/login', API))
        await expectUnavailable(await get('/auth/login', HTML))
      } finally {
        await hostile.online()
      }
      expect((await get('/auth/login', HTML)).status).toBe(302)
    })

    it('makes one discovery request for 100 concurrent cold logins', async () => {
      const before = hostile.count('discovery')
      const responses = await Promise.all(Array.from({ length: 100 }, () => createAgent().request(`${stage.url}/auth/login`, { headers: HTML })))
      expect(responses.map((response) => response.status)).toEqual(Array(100).fill(302))
      expect(hostile.count('discovery')).toBe(before + 1)
    })

    it('a callback reaching a restarted app while discovery is down: 503, no token request', async () => {
      const url = await toCallback()
      hostile.set({ discovery: 'status-500' })
      await mount() // a restarted app: no cached metadata
      const before = hostile.count('token')
      const response = await agent.request(url, { headers: API })
      expect(response.headers.get('retry-after')).toBeTruthy()
      await expectRejected(response, 503, 'codegrant/provider_unavailable')
      expect(hostile.count('token')).toBe(before)
    })

    it('makes one discovery request for 20 concurrent cold logins while it hangs: all 503', async () => {
      hostile.set({ discovery: 'hang' })
      const before = hostile.count('discovery')
      const responses = await Promise.all(Array.from({ length: 20 }, () => createAgent().request(`${stage.url}/auth/login`, { headers: API })))
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(503))
      expect(hostile.count('discovery')).toBe(before + 1)
    })

    it('keeps signed-in users working while discovery is down (a cold app)', async () => {
      await expectSignedIn((await signIn()).response)
      hostile.set({ discovery: 'status-500' })
      await mount() // a restarted app: no cached metadata
      expect((await get('/me')).status).toBe(200)
      expect((await get('/auth/login')).status).toBe(503)
    })
  })

  describe('userinfo (fetchUserinfo on)', () => {
    beforeEach(() => mount({ fetchUserinfo: true }))

    it('merges the userinfo claims into the user (control)', async () => {
      await expectSignedIn((await signIn()).response)
      expect(JSON.parse((await get('/me')).body).user).toMatchObject({ sub: hostile.sub, name: 'Alice Hostile' })
      expect(hostile.count('userinfo')).toBe(1)
    })

    it.each<[string, number, string, Settings]>([
      ['answers another sub', 502, 'codegrant/userinfo_invalid', { userinfo: { sub: 'mallory' } }],
      ['answers without sub', 502, 'codegrant/userinfo_invalid', { userinfo: { sub: undefined } }],
      ['hangs', 504, 'codegrant/provider_timeout', { userinfo: 'hang' }],
      ['answers 500', 502, 'codegrant/userinfo_invalid', { userinfo: 'status-500' }],
      ['answers HTML', 502, 'codegrant/userinfo_invalid', { userinfo: 'not-json' }],
      ['answers 2 MB', 502, 'codegrant/provider_error', { userinfo: 'huge' }],
    ])('that %s: %i %s, no session', async (_, status, code, settings) => {
      hostile.set(resolve(settings))
      const { response } = await signIn()
      await expectRejected(response, status, code)
    })
  })

  describe('refresh', () => {
    /** Signs in with a 2 s access token, then moves the clock 10 s on: the next use refreshes. */
    const signInAndExpire = async () => {
      hostile.set({ tokenResponse: { expires_in: 2 } })
      await expectSignedIn((await signIn()).response)
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 10_000)
    }

    it('a control: refreshes once when due', async () => {
      await signInAndExpire()
      const before = hostile.count('token', 'refresh_token')
      const response = await get('/api/token')
      expect([response.status, response.body]).toEqual([200, '{"token":true}'])
      expect(setsSession(response.setCookies)).toBe(true)
      expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
    })

    it.each<[string, number, string, Settings]>([
      ['answers 503', 502, 'codegrant/provider_error', { token: 'status-503' }],
      ['hangs', 504, 'codegrant/provider_timeout', { token: 'hang' }],
      ['answers 500', 502, 'codegrant/provider_error', { token: 'status-500' }],
    ])('a token endpoint that %s: /api/token %i %s, the session is kept and refreshes once fixed', async (_, status, code, settings) => {
      await signInAndExpire()
      hostile.set(resolve(settings))
      const before = hostile.count('token', 'refresh_token')
      const failed = await get('/api/token')
      expect([failed.status, JSON.parse(failed.body)]).toEqual([status, { error: code }])
      expect(failed.setCookies.filter(isSessionCookie)).toEqual([])
      expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
      expectNoLeak(failed)
      // the guard cannot refresh either, but does not sign the user out
      const guarded = await get('/me')
      expect([guarded.status, JSON.parse(guarded.body).code]).toEqual([status, code])
      expect(clearsSession(guarded.setCookies)).toBe(false)
      hostile.reset()
      const recovered = await get('/api/token')
      expect([recovered.status, recovered.body]).toEqual([200, '{"token":true}'])
      expect((await get('/me')).status).toBe(200)
    })

    it('20 concurrent requests during a hanging refresh: one refresh request, all 504, the session kept', async () => {
      await signInAndExpire()
      hostile.set({ token: 'hang' })
      const before = hostile.count('token', 'refresh_token')
      const responses = await Promise.all(Array.from({ length: 20 }, () => get('/api/token')))
      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(504))
      expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
      expect(responses.some((response) => clearsSession(response.setCookies))).toBe(false)
    })

    it.each<[string, Settings]>([
      ['an ID token for another sub', { idToken: { claims: { sub: 'mallory' } } }],
      ['an ID token for another audience', { idToken: { claims: { aud: 'another-client' } } }],
      ['an unsigned ID token', { idToken: { alg: 'none' } }],
      ['invalid_grant', { token: 'invalid_grant' }],
    ])('a refresh answered with %s ends the session', async (_, settings) => {
      await signInAndExpire()
      hostile.set(resolve(settings))
      const response = await get('/api/token')
      expect([response.status, JSON.parse(response.body)]).toEqual([401, { error: 'codegrant/session_ended' }])
      expect(clearsSession(response.setCookies)).toBe(true)
      expectNoLeak(response)
      expect((await get('/me')).status).toBe(401)
      expect((await get('/', HTML)).body).toBe('signed out')
    })
  })

  describe('lifetimes', () => {
    it('an expired access token without a refresh token: API calls get 401 token_expired, the session is kept', async () => {
      hostile.set({ tokenResponse: { expires_in: 2, refresh_token: undefined } })
      await expectSignedIn((await signIn()).response)
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 10_000)
      const before = hostile.count('token', 'refresh_token')
      const response = await get('/api/token')
      expect([response.status, JSON.parse(response.body)]).toEqual([401, { error: 'codegrant/token_expired' }])
      expect(clearsSession(response.setCookies)).toBe(false)
      expect((await get('/me')).status).toBe(200)
      expect(hostile.count('token', 'refresh_token')).toBe(before)
    })

    it('expires_in 0 is an unknown lifetime, not a refresh on every request', async () => {
      hostile.set({ tokenResponse: { expires_in: 0 } })
      await expectSignedIn((await signIn()).response)
      const before = hostile.count('token', 'refresh_token')
      for (let i = 0; i < 5; i++) expect((await get('/api/token')).status).toBe(200)
      expect(hostile.count('token', 'refresh_token')).toBe(before)
    })

    it('keeps using the last metadata while a refetch after its 10 minutes fails', async () => {
      expect((await get('/auth/login', HTML)).status).toBe(302)
      const before = hostile.count('discovery')
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 11 * 60_000)
      hostile.set({ discovery: 'status-500' })
      const stale = await get('/auth/login', HTML)
      expect(stale.status).toBe(302)
      expect(new URL(stale.headers.get('location')!).origin).toBe(hostile.issuer)
      expect(hostile.count('discovery')).toBe(before + 1)
      // retried after 30 s, not on every request
      expect((await get('/auth/login', HTML)).status).toBe(302)
      expect(hostile.count('discovery')).toBe(before + 1)
      hostile.reset()
      vi.setSystemTime(Date.now() + 31_000)
      expect((await get('/auth/login', HTML)).status).toBe(302)
      expect(hostile.count('discovery')).toBe(before + 2)
    })
  })

  describe('logout', () => {
    it.each<[string, Settings]>([
      ['hangs', { revoke: 'hang' }],
      ['answers 500', { revoke: 'status-500' }],
      ['redirects to another host', { revoke: 'redirect' }],
    ])('completes when the revocation endpoint %s, within about the timeout', async (_, settings) => {
      await expectSignedIn((await signIn()).response)
      hostile.set(resolve(settings))
      const before = hostile.count('revoke')
      const started = performance.now()
      const response = await get('/auth/logout', { ...HTML, 'sec-fetch-site': 'same-origin' })
      const elapsed = performance.now() - started
      expect(response.status).toBe(302)
      expect(new URL(response.headers.get('location')!).pathname).toBe('/end-session')
      expect(clearsSession(response.setCookies)).toBe(true)
      expect(elapsed).toBeLessThan(TIMEOUT + 1500)
      expect(hostile.count('revoke')).toBe(before + 1)
      expect(hostile.evil.count()).toBe(0)
      expect((await get('/me')).status).toBe(401)
      expect((await get('/', HTML)).body).toBe('signed out')
    })
  })
})
