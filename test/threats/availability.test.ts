/**
 * Availability: a session store that fails, a provider that hangs behind another middleware's
 * timeout, a refresh answer without the optional fields, a callback on another instance — the
 * process keeps serving, answers 503 with Retry-After where it cannot, and loses nothing
 * (SECURITY-PLAN #68, #90; the review's findings 2 and 3); the memory store's bound.
 */
import { memoryStore, resolveConfig, type SessionData } from '@codegrant/core'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { API, HTML, type Agent } from '../support/agent.js'
import { FRAMEWORKS, type Framework, type Stage } from '../support/apps.js'
import { onceBack } from '../support/breaker.js'
import { useCaseStage } from '../support/case-stage.js'
import type { HostileProvider } from '../support/hostile-provider.js'
import { SECRET_A, type captureLogs } from '../support/provider.js'
import { faultyStore, nextTurn, SAME_ORIGIN, SESSION, setsSession, useReviewStage, type Handler } from '../support/review-stage.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const review = useReviewStage(framework)
  const { get, mount, toCallback, signedIn, signInAndExpire, expectUnavailable } = review
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  beforeEach(() => void ({ stage, hostile, logs, agent } = review.state))

  describe('finding 2: a failing session store never crashes the process', () => {
    let faulty: ReturnType<typeof faultyStore>
    beforeEach(async () => {
      faulty = faultyStore()
      await mount({ sessionStore: faulty.store })
    })

    it.each([0, 20])('get fails (delay %i ms): public pages signed out, 503 with Retry-After for what needs the session, cookie kept, logged once, then serves again', async (delay) => {
      await signedIn()
      faulty.fail('get', delay)
      const before = logs.lines.length
      // a public page is served, signed out, and writes no cookie
      const home = await get('/', HTML)
      expect([home.status, home.body, home.setCookies]).toEqual([200, 'signed out', []])
      expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: null })
      // the guard: 503, never 401 or a login (the session may well exist)
      expectUnavailable(await get('/me'))
      const page = await get('/me', HTML)
      expectUnavailable(page)
      expect([page.headers.get('location'), page.setCookies]).toEqual([null, []])
      expect(page.body).toContain('codegrant/store_unavailable')
      // what needs the session says why it cannot have it
      const token = await get('/api/token')
      expect([token.status, JSON.parse(token.body)]).toEqual([503, { error: 'codegrant/store_unavailable' }])
      // logout cannot end the stored session: 503, and the cookie is not cleared
      const logout = await get('/auth/logout', { ...HTML, ...SAME_ORIGIN })
      expectUnavailable(logout)
      expect(logout.setCookies).toEqual([])
      expectUnavailable(await get('/auth/login', HTML))
      // one line for the outage, however many requests met it; never the cookie
      const outage = logs.lines.slice(before)
      expect(outage.filter((line) => /session store failed/.test(line))).toHaveLength(1)
      const cookie = agent.cookies(stage.url).get(SESSION)!
      for (const line of outage) expect(line).not.toContain(cookie)
      await faulty.settled()
      faulty.fail()
      expect((await onceBack(() => get('/me'))).status).toBe(200)
      expect(logs.lines.some((line) => /session store answers again, after [1-9]\d* failed call/.test(line))).toBe(true)
    })

    it.each([0, 20])('get fails (delay %i ms): refresh() and login() reject 503 store_unavailable; a callback answers 503, keeps its sign-in cookie and signs in once the store answers', async (delay) => {
      await signedIn()
      const callback = await toCallback()
      faulty.fail('get', delay)
      const refresh = await agent.request(`${stage.url}/api/refresh`, { method: 'POST', headers: { ...API, ...SAME_ORIGIN } })
      expect([refresh.status, JSON.parse(refresh.body)]).toEqual([503, { error: 'codegrant/store_unavailable' }])
      const started = await get('/start-login?hint=x', HTML)
      expect([started.status, started.headers.get('location'), started.setCookies]).toEqual([503, null, []])
      // the code is not exchanged and nothing is cleared: neither the session nor the sign-in cookie
      const refused = await agent.request(callback, { headers: HTML })
      expectUnavailable(refused)
      expect(refused.setCookies).toEqual([])
      await faulty.settled()
      faulty.fail()
      const finished = await onceBack(() => agent.request(callback, { headers: HTML }))
      expect([finished.status, setsSession(finished.setCookies)]).toEqual([302, true])
      expect((await get('/me')).status).toBe(200)
    })

    it.each([0, 20])('set fails while the idle window is renewed (delay %i ms): the request is served, nothing leaks', async (delay) => {
      await signedIn()
      faulty.fail('set', delay)
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 2 * 3600_000)
      const served = await get('/', HTML)
      expect([served.status, served.body]).toEqual([200, `signed in as ${hostile.sub}`])
      expect(logs.lines.some((line) => /idle window could not be renewed/.test(line))).toBe(true)
      await faulty.settled()
      faulty.fail()
      const renewed = await get('/me')
      expect(renewed.status).toBe(200)
      expect(setsSession(renewed.setCookies)).toBe(true)
    })

    it.each([0, 20])('set fails at the end of a login (delay %i ms): 503, no session', async (delay) => {
      faulty.fail('set', delay)
      const response = await agent.request(await toCallback(), { headers: API })
      expectUnavailable(response)
      expect(setsSession(response.setCookies)).toBe(false)
      await faulty.settled()
      faulty.fail()
      expect((await get('/me')).status).toBe(401)
      await signedIn()
      expect((await get('/me')).status).toBe(200)
    })

    it.each([0, 20])('set fails when a refreshed session is saved (delay %i ms): 503, then recovers', async (delay) => {
      await signInAndExpire()
      faulty.fail('set', delay)
      // the app's own handler answers with the error's status; the guard answers for codegrant
      expect((await get('/api/token')).status).toBe(503)
      expectUnavailable(await get('/me'))
      await faulty.settled()
      faulty.fail()
      expect((await get('/api/token')).status).toBe(200)
    })

    it.each([0, 20])('destroy fails at logout (delay %i ms): 503, the session is not reported ended, logout works once it is back', async (delay) => {
      await signedIn()
      faulty.fail('destroy', delay)
      expectUnavailable(await get('/auth/logout', { ...HTML, ...SAME_ORIGIN }))
      await faulty.settled()
      faulty.fail()
      expect((await get('/me')).status).toBe(200)
      expect((await get('/auth/logout', { ...HTML, ...SAME_ORIGIN })).status).toBe(302)
      expect((await get('/me')).status).toBe(401)
      expect(faulty.records.size).toBe(0)
    })
  })

  describe('finding 3: nothing is written after another middleware answered', () => {
    /** A timeout middleware in front of the app: answers 503 after 30 ms, as connect-timeout does. */
    const timeoutInFront = (handler: Handler): Handler => (req, res) => {
      const timer = setTimeout(() => { if (!res.headersSent) res.writeHead(503, { 'content-type': 'text/plain' }).end('timed out') }, 30)
      res.on('close', () => clearTimeout(timer))
      handler(req, res)
    }
    const loggedOnce = (pattern: RegExp) => vi.waitFor(() => expect(logs.lines.some((line) => pattern.test(line))).toBe(true), { timeout: 5000, interval: 20 })

    it('oauth(): a login answered late (discovery hangs) after the timeout answered', async () => {
      await mount({}, hostile.userinfoUrl, timeoutInFront)
      hostile.set({ discovery: 'hang' })
      const response = await get('/auth/login', HTML)
      expect([response.status, response.body]).toEqual([503, 'timed out'])
      await loggedOnce(/metadata could not be loaded/)
      await nextTurn()
      hostile.reset()
      await mount()
      expect((await get('/auth/login', HTML)).status).toBe(302)
    })

    it('requireAuth(): a guard answered late (the refresh hangs) after the timeout answered', async () => {
      await signInAndExpire()
      await mount({}, hostile.userinfoUrl, timeoutInFront)
      hostile.set({ token: 'hang' })
      const response = await get('/me')
      expect([response.status, response.body]).toEqual([503, 'timed out'])
      await loggedOnce(/token refresh failed/)
      await nextTurn()
      hostile.reset()
      await mount()
      expect((await get('/', HTML)).status).toBe(200)
    })
  })
})

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const cases = useCaseStage(framework)
  const { mount, get, toCallback } = cases
  let hostile: HostileProvider
  let agent: Agent
  beforeEach(() => void ({ hostile, agent } = cases.fixture))

  it('#68 a refresh answer without refresh_token, id_token and expires_in keeps the user signed in', async () => {
    hostile.set({ tokenResponse: { expires_in: 2 } })
    await agent.request((await toCallback()).href, { headers: API })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 10_000)
    hostile.set({ tokenResponse: { refresh_token: undefined, id_token: undefined, expires_in: undefined } })
    const before = hostile.count('token', 'refresh_token')
    expect((await get('/api/token')).status).toBe(200)
    expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
    const me = await get('/me')
    expect([me.status, JSON.parse(me.body).user.sub]).toEqual([200, hostile.sub])
    // the lifetime is now unknown: no refresh on every request
    expect((await get('/api/token')).status).toBe(200)
    expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
  })

  it('#90 a callback that lands on another instance (same secret) completes', async () => {
    const url = await toCallback()
    await mount() // another instance: nothing shared but the configuration
    const response = await agent.request(url.href, { headers: API })
    expect([response.status, setsSession(response.setCookies)]).toEqual([302, true])
    expect((await get('/me')).status).toBe(200)
  })
})

describe('configuration and the memory store', () => {
  const base = { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's', baseUrl: 'https://app.example.com', cookieSecret: SECRET_A }

  it('reads OAUTH_API_ORIGINS (comma list) and refuses plain http off loopback', () => {
    expect(resolveConfig(base, { OAUTH_API_ORIGINS: 'https://api.example.com, http://127.0.0.1:8080/x' }).providers[0]!.apiOrigins).toEqual(['https://api.example.com', 'http://127.0.0.1:8080'])
    expect(() => resolveConfig({ ...base, apiOrigins: ['http://api.example.com'] }, {})).toThrow(/OAUTH_API_ORIGINS/)
    expect(() => resolveConfig({ ...base, apiOrigins: ['not a url'] }, {})).toThrow(/OAUTH_API_ORIGINS/)
  })

  it('caps the memory store: expired records go first, then the least recently used', async () => {
    const session = (sid: string): SessionData => ({ sid, iat: 0, uat: 0, exp: 1, tokens: { accessToken: 'a', tokenType: 'bearer', scope: '', idToken: 'x.e30.y' } })
    const store = memoryStore({ maxSessions: 3 })
    await store.set('short', session('short'), 1)
    await store.set('a', session('a'), 60)
    await store.set('b', session('b'), 60)
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + 2000)
      expect(await store.get('a')).toBeDefined() // a is now the most recently used
      await store.set('c', session('c'), 60) // evicts the expired one, not a live one
      expect([await store.get('a'), await store.get('b'), await store.get('c')].every(Boolean)).toBe(true)
      await store.get('a')
      await store.set('d', session('d'), 60) // full of live records: the least recently used (b) goes
      expect(await store.get('b')).toBeUndefined()
      expect([await store.get('a'), await store.get('c'), await store.get('d')].every(Boolean)).toBe(true)
    } finally {
      vi.useRealTimers()
    }
  })
})
