/**
 * The findings of the outside security review (issue 6), each reproduced on every framework
 * version against the hostile provider (support/hostile-provider.ts) on loopback: open redirects
 * after normalisation, failing session stores, writes after another middleware answered,
 * duplicate callbacks, tokens in error causes, unserialisable cookie names, logout CSRF, the
 * access token sent to foreign origins, oversize cookie sessions, and Set-Cookie lost on Koa's
 * error path. No sleeps: late failures are awaited through what the store or the log reports.
 */
import { inspect } from 'node:util'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { memoryStore, resolveConfig, type OAuthOptions, type SessionData, type SessionStore } from '@codegrant/core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { API, HTML, type Agent, type Hop } from './support/agent.js'
import { buildHandler, FRAMEWORKS, type Framework, type Stage } from './support/apps.js'
import type { HostileProvider } from './support/hostile-provider.js'
import { onceBack } from './support/breaker.js'
import { useHostileStage } from './support/hostile-stage.js'
import { appOptions, CLIENT_ID, CLIENT_SECRET, SECRET_A, type captureLogs } from './support/provider.js'

const TIMEOUT = 300 // OAUTH_HTTP_TIMEOUT, milliseconds
const SESSION = 'codegrant.session'
const STACK = /at .*\(.*:\d+:\d+\)/
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' }

const isSessionCookie = (line: string) => line.startsWith(`${SESSION}=`) || line.startsWith(`${SESSION}.`)
const setsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line))
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

type Op = 'get' | 'set' | 'destroy'

/**
 * A real SessionStore (our own interface) that keeps records in a Map and fails on command:
 * synchronously (`delay: 0`) or with a rejection after `delay` ms. `settled()` resolves once
 * every failure it handed out has been delivered, so a test can then look for what leaked.
 */
function faultyStore() {
  const records = new Map<string, SessionData>()
  const written: string[] = []
  const pending: Promise<unknown>[] = []
  let fault: { op: Op; delay: number } | undefined
  const act = <T>(op: Op, run: () => T): T | Promise<T> => {
    if (fault?.op !== op) return run()
    const error = Object.assign(new Error(`the store failed to ${op} (connection lost)`), { code: 'ECONNRESET' })
    if (fault.delay === 0) throw error
    const failure = new Promise<T>((_, reject) => setTimeout(() => reject(error), fault!.delay))
    pending.push(failure.catch(() => {}))
    return failure
  }
  const store: SessionStore = {
    get: (sid) => act('get', () => records.get(sid)),
    set: (sid, data) => act('set', () => { records.set(sid, data); written.push(sid) }),
    destroy: (sid) => act('destroy', () => { records.delete(sid) }),
  }
  return {
    store,
    records,
    written,
    fail: (op?: Op, delay = 0) => { fault = op ? { op, delay } : undefined },
    settled: async () => { await Promise.all(pending); await nextTurn(); await nextTurn() },
  }
}

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const fixture = useHostileStage(framework, { httpTimeout: TIMEOUT, mount: false })
  const { get } = fixture
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  let caught: unknown[]
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)

  const mount = async (extra: OAuthOptions = {}, userinfo = hostile.userinfoUrl, wrap = (h: Handler) => h) => {
    stage.mount(wrap(await buildHandler(framework, fixture.options(extra), userinfo, (error) => void caught.push(error))))
  }
  const isCallback = (url: string) => url.startsWith(`${stage.url}/auth/callback`)
  /** GET /auth/login (with `returnTo`), through the hostile /authorize, up to (not into) the callback. */
  const toCallback = async (returnTo?: string): Promise<string> => {
    const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
    const started = await agent.follow(`${stage.url}/auth/login${query}`, { headers: HTML }, isCallback)
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status} ${started.last.body.slice(0, 200)}`)
    return started.stoppedAt
  }
  const signIn = async (returnTo?: string) => agent.request(await toCallback(returnTo), { headers: HTML })
  const signedIn = async () => {
    const response = await signIn()
    expect([response.status, setsSession(response.setCookies)]).toEqual([302, true])
  }
  /** Signs in with a 2 s access token and moves the clock on: the next use refreshes. */
  const signInAndExpire = async () => {
    hostile.set({ tokenResponse: { expires_in: 2 } })
    await signedIn()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 10_000)
  }
  const expectNoLeak = (hop: Hop) => {
    let seen = hop.body
    hop.headers.forEach((value, name) => void (seen += `\n${name}: ${value}`))
    expect(seen).not.toMatch(STACK)
    for (const secret of [...hostile.secrets(), SECRET_A]) expect(seen).not.toContain(secret)
  }
  /** A Location a browser resolves to this app's origin, whatever it strips or normalises. */
  const expectLocal = (location: string | null, vector: string) => {
    expect(location, vector).toMatch(/^\/(?![/\\])[^\u0000-\u0020\u007f\\]*$/)
    expect(new URL(location!, `${stage.url}/some/page`).origin, vector).toBe(stage.url)
  }
  const expectUnavailable = (response: Hop) => {
    expect(response.status).toBe(503)
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
    expectNoLeak(response)
  }
  beforeAll(() => void process.on('unhandledRejection', onUnhandled))
  afterAll(() => void process.off('unhandledRejection', onUnhandled))
  beforeEach(async () => {
    ;({ stage, hostile, logs, agent } = fixture)
    caught = []
    unhandled.length = 0
    await mount()
  })
  afterEach(() => {
    expect(unhandled).toEqual([])
  })

  // dot-segments and their encodings that the URL parser turns into `//host` after the check
  const NORMALISED_AWAY = ['/.//evil.example', '/..//evil.example', '/%2e//evil.example', '/%2E%2E//evil.example/x', '/a/..//evil.example', '/./%2F/evil.example', '/.\\/evil.example']

  describe('finding 1: the final Location of a local redirect is same-origin', () => {
    it('after login, for returnTo values that normalise to another host', async () => {
      for (const vector of NORMALISED_AWAY) {
        const response = await signIn(vector)
        expect(response.status, vector).toBe(302)
        expectLocal(response.headers.get('location'), vector)
      }
    })

    it('after logout at a provider without end_session_endpoint', async () => {
      hostile.set({ metadata: { end_session_endpoint: undefined } })
      for (const vector of NORMALISED_AWAY) {
        await signedIn()
        const response = await get(`/auth/logout?returnTo=${encodeURIComponent(vector)}`, { ...HTML, ...SAME_ORIGIN })
        expect(response.status, vector).toBe(302)
        expectLocal(response.headers.get('location'), vector)
        expect((await get('/me')).status).toBe(401)
      }
      // a plain same-origin path is kept
      await signedIn()
      const kept = await get(`/auth/logout?returnTo=${encodeURIComponent('/bye?x=1')}`, { ...HTML, ...SAME_ORIGIN })
      expect(kept.headers.get('location')).toBe('/bye?x=1')
    })
  })

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

  describe('finding 5: one code exchange per state in flight', () => {
    it('the same callback delivered three times at once: one token request, one session', async () => {
      const faulty = faultyStore()
      await mount({ sessionStore: faulty.store })
      const url = await toCallback()
      const before = hostile.count('token', 'authorization_code')
      const responses = await Promise.all([1, 2, 3].map(() => agent.request(url, { headers: HTML })))
      expect(hostile.count('token', 'authorization_code')).toBe(before + 1)
      expect(new Set(faulty.written).size).toBe(1)
      for (const response of responses) expect([response.status, response.headers.get('location')]).toEqual([302, '/'])
      expect((await get('/me')).status).toBe(200)
    })

    it('the same callback delivered at once to two instances sharing a store: one token request', async () => {
      // two codegrant instances (as on two servers) behind one round-robin entry, one shared store
      const shared = memoryStore()
      const options = appOptions(hostile, stage.url, logs, { httpTimeout: TIMEOUT, sessionStore: shared })
      const instances = [await buildHandler(framework, options, hostile.userinfoUrl), await buildHandler(framework, options, hostile.userinfoUrl)]
      let next = 0
      stage.mount((req, res) => instances[next++ % 2]!(req, res))
      const url = await toCallback()
      const before = hostile.count('token', 'authorization_code')
      const responses = await Promise.all([1, 2].map(() => agent.request(url, { headers: API })))
      expect(hostile.count('token', 'authorization_code')).toBe(before + 1)
      const outcomes = responses.map((response) => (response.status === 302 ? 'signed in' : JSON.parse(response.body).code)).sort()
      expect(outcomes).toEqual(['codegrant/invalid_callback', 'signed in'])
      expect((await get('/me')).status).toBe(200)
      expect((await get('/me')).status).toBe(200) // on both instances
    })
  })

  describe('finding 6: no error references a token, code or secret at any depth', () => {
    it('a refresh answered with scope as an array', async () => {
      await signInAndExpire()
      hostile.set({ tokenResponse: { expires_in: 2, scope: ['openid', 'profile'] } })
      const response = await get('/api/token')
      expect(response.status).toBe(502)
      expect(caught).toHaveLength(1)
      const deep = inspect(caught[0], { depth: Infinity, showHidden: true })
      expect(deep).toContain('codegrant/provider_error')
      for (const secret of [...hostile.secrets(), SECRET_A]) expect(deep).not.toContain(secret)
      expect(JSON.stringify(caught[0])).not.toMatch(/rt-|at-/)
    })

    it('a code exchange answered with an ID token for another audience', async () => {
      hostile.set({ idToken: { claims: { aud: 'someone-else' } } })
      const response = await agent.request(await toCallback(), { headers: API })
      expect(response.status).toBe(400)
      expectNoLeak(response)
    })
  })

  describe('finding 7: cookie names the cookie library cannot serialise are ignored', () => {
    it('a callback whose state names such a cookie: 400, not 500', async () => {
      agent.setCookie(stage.url, 'codegrant.tx.a b', 'x')
      const response = await get('/auth/callback?state=a%20b&code=x', API)
      expect([response.status, JSON.parse(response.body).code]).toEqual([400, 'codegrant/transaction_invalid'])
      expect((await get('/', HTML)).status).toBe(200)
    })

    it('a login with planted transaction cookies of invalid names: 302', async () => {
      for (let i = 0; i < 6; i++) agent.setCookie(stage.url, `codegrant.tx.bad name ${i}`, 'x')
      const response = await get('/auth/login', HTML)
      expect(response.status).toBe(302)
      await signedIn()
    })
  })

  describe('finding 8: logout refuses every request that may be cross-site', () => {
    it.each<[string, Record<string, string>]>([
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['no fetch metadata at all', {}],
    ])('a GET with %s asks instead of logging out', async (_, headers) => {
      await signedIn()
      const response = await get('/auth/logout', { ...HTML, ...headers })
      expect(response.status).toBe(200)
      expect(response.body).toContain('method="post"')
      expect((await get('/me')).status).toBe(200)
    })

    it.each<[string, Record<string, string>]>([
      ['Origin: null and no fetch metadata', { origin: 'null' }],
      ['Origin: null from a cross-site (sandboxed) frame', { origin: 'null', 'sec-fetch-site': 'cross-site' }],
      ['Origin: a sibling', { origin: 'http://sibling.localhost' }],
      ['Sec-Fetch-Site: same-site and no Origin', { 'sec-fetch-site': 'same-site' }],
      ['Origin: this app but Sec-Fetch-Site: same-site', { origin: 'ORIGIN', 'sec-fetch-site': 'same-site' }],
    ])('a POST with %s is refused with 403', async (_, given) => {
      const headers = Object.fromEntries(Object.entries(given).map(([name, value]) => [name, value === 'ORIGIN' ? stage.url : value]))
      await signedIn()
      const response = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...API, ...headers }, body: '' })
      expect([response.status, JSON.parse(response.body).code]).toEqual([403, 'codegrant/cross_site_request'])
      expect((await get('/me')).status).toBe(200)
    })

    it.each<[string, Record<string, string>]>([
      ['a GET from this origin', SAME_ORIGIN],
      ['a GET the user typed (Sec-Fetch-Site: none)', { 'sec-fetch-site': 'none' }],
    ])('%s logs out', async (_, headers) => {
      await signedIn()
      expect((await get('/auth/logout', { ...HTML, ...headers })).status).toBe(302)
      expect((await get('/me')).status).toBe(401)
    })

    it.each<[string, (url: string) => Record<string, string>]>([
      ['the confirmation form, posted from this origin', (url) => ({ origin: url, ...SAME_ORIGIN })],
      // what Chromium sends for a same-origin form on a page with Referrer-Policy: no-referrer
      ['a form on a no-referrer page of this origin (Origin: null, Sec-Fetch-Site: same-origin)', () => ({ origin: 'null', ...SAME_ORIGIN })],
      ['a client without fetch metadata or Origin (curl)', () => ({})],
    ])('%s logs out on POST', async (_, headers) => {
      await signedIn()
      const response = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, ...headers(stage.url) }, body: '' })
      expect(response.status).toBe(302)
      expect((await get('/me')).status).toBe(401)
    })
  })

  describe('finding 9: oauth.fetch sends the access token only to allowed origins', () => {
    it('refuses another origin by default, and sends nothing there', async () => {
      await mount({}, `${hostile.evil.url}/userinfo`)
      await signedIn()
      const before = hostile.evil.count()
      const response = await get('/api/userinfo')
      expect([response.status, JSON.parse(response.body)]).toEqual([500, { error: 'codegrant/origin_not_allowed' }])
      expect(hostile.evil.count()).toBe(before)
    })

    it('refuses plain http off loopback, before any request', async () => {
      await mount({}, 'http://api.example.test/v1/me')
      await signedIn()
      const response = await get('/api/userinfo')
      expect([response.status, JSON.parse(response.body)]).toEqual([500, { error: 'codegrant/origin_not_allowed' }])
      expect(inspect(caught[0])).toMatch(/http:\/\/api\.example\.test/)
    })

    it('sends it to an origin the app named (apiOrigins) and to the provider', async () => {
      await mount({ apiOrigins: [hostile.evil.url] }, `${hostile.evil.url}/userinfo`)
      await signedIn()
      const before = hostile.evil.count()
      expect((await get('/api/userinfo')).status).toBe(200)
      expect(hostile.evil.count()).toBe(before + 1)
      await mount({ apiOrigins: [hostile.evil.url] })
      expect((await get('/api/userinfo')).status).toBe(200)
    })
  })

  describe('finding 10', () => {
    it('a session too large for a cookie fails the login with a clear error instead of locking the user out (431)', async () => {
      const groups = Array.from({ length: 700 }, (_, i) => `department-group-${String(i).padStart(4, '0')}`)
      hostile.set({ idToken: { claims: { groups } } })
      const response = await agent.request(await toCallback(), { headers: API })
      expect([response.status, JSON.parse(response.body).code]).toEqual([502, 'codegrant/session_too_large'])
      expect(JSON.parse(response.body).message).toMatch(/OAUTH_SESSION_STORE/)
      expect(setsSession(response.setCookies)).toBe(false)
      expect((await get('/', HTML)).status).toBe(200)
      // the same login with a server-side store works
      await mount({ sessionStore: 'memory' })
      await signedIn()
      expect((await get('/me')).status).toBe(200)
    })

    it('keeps the Set-Cookie of a refresh (rotated refresh token) when the app then fails', async () => {
      await signInAndExpire()
      const before = hostile.count('token', 'refresh_token')
      const response = await get('/api/token-then-fail')
      expect(response.status).toBe(500)
      expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
      expect(setsSession(response.setCookies)).toBe(true)
    })
  })

  describe('issue 18 finding 10: codegrant\'s own pages cannot be framed', () => {
    const expectUnframeable = (page: Hop, what: string) => {
      expect(page.headers.get('content-type'), what).toContain('text/html')
      const csp = (page.headers.get('content-security-policy') ?? '').split(';').map((directive) => directive.trim())
      expect(csp, what).toEqual(expect.arrayContaining(["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]))
      expect(page.headers.get('x-frame-options'), what).toBe('DENY')
    }

    it('the logout confirmation, the error pages (4xx and 503) and the provider chooser send frame-ancestors \'none\', base-uri \'none\' and X-Frame-Options: DENY', async () => {
      const confirmation = await get('/auth/logout', HTML)
      expect(confirmation.body).toContain('<form method="post"')
      expectUnframeable(confirmation, 'logout confirmation')
      const refused = await get('/auth/callback?code=x&state=y', HTML)
      expect(refused.status).toBe(400)
      expectUnframeable(refused, 'callback error page')
      hostile.set({ discovery: 'status-503' })
      const unavailable = await get('/auth/login', HTML)
      expect(unavailable.status).toBe(503)
      expectUnframeable(unavailable, 'provider unavailable page')
      stage.mount(await buildHandler(framework, {
        baseUrl: stage.url,
        cookieSecret: SECRET_A,
        logger: logs,
        providers: { alpha: { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }, beta: { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } },
      }, hostile.userinfoUrl))
      const chooser = await get('/auth/login', HTML)
      expect(chooser.body).toContain('Sign in with beta')
      expectUnframeable(chooser, 'provider chooser')
    })
  })
})

type Handler = (req: IncomingMessage, res: ServerResponse) => void

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
