/**
 * What the OpenID Foundation's relying-party certification asks (its test modules are named in
 * CONFORMANCE.md), run against every adapter and framework version with the dev provider:
 * signing-key rotation, RP-initiated logout with `state`, third-party-initiated login,
 * front-channel logout, `client_secret_jwt` and signed userinfo.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import type { OAuthOptions } from '@codegrant/core'
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { API, createAgent, formOf, HTML, login, type Agent, type Hop } from './support/agent.js'
import { launchChromium } from './support/chromium.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { appOptions, captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A, startProvider } from './support/provider.js'

const SESSION = 'codegrant.session'

let browser: Browser | undefined
/** Chromium, launched by the first test that needs it. */
const chromium = async () => (browser ??= await launchChromium())
afterAll(async () => {
  await browser?.close()
})
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  let stage: Stage
  let provider: DevProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  /** Requests the provider served for its JWKS since the test began. */
  let jwksFetches: number

  const mount = async (extra: OAuthOptions = {}) => {
    stage.mount(await buildHandler(framework, appOptions(provider, stage.url, logs, extra), `${provider.issuer}/me`))
  }
  const get = (path: string, headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers })

  beforeAll(async () => {
    stage = await openStage()
    provider = await startProvider(stage.url, { backchannel: true, frontchannel: true })
    provider.intercept(async (ctx, next) => {
      if (ctx.path === '/jwks') jwksFetches++
      await next()
    })
  })
  afterAll(async () => {
    await stage.close()
    await provider.close()
  })
  beforeEach(async () => {
    logs = captureLogs()
    agent = createAgent()
    jwksFetches = 0
    await mount()
  })
  afterEach(() => {
    for (const line of logs.lines) {
      expect(line).not.toContain(CLIENT_SECRET)
      expect(line).not.toContain(SECRET_A)
    }
  })

  describe('RP-initiated logout with state', () => {
    const LOGOUT_COOKIE = 'codegrant.logout'
    /** Alice logs in, logs out (the app's own link) and is at the provider's end-session page. */
    const logoutToProvider = async (returnTo?: string) => {
      await mount({ postLogoutRedirectUri: `${stage.url}/auth/logout/done` })
      await login(agent, stage.url, 'alice')
      const response = await get(`/auth/logout${returnTo ? `?returnTo=${encodeURIComponent(returnTo)}` : ''}`, { ...HTML, 'sec-fetch-site': 'same-origin' })
      expect(response.status).toBe(302)
      const endSession = new URL(response.headers.get('location')!)
      expect(`${endSession.origin}${endSession.pathname}`).toBe(`${provider.issuer}/session/end`)
      expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${stage.url}/auth/logout/done`)
      const state = endSession.searchParams.get('state')
      expect(state).toMatch(/^[\w-]{20,}$/)
      expect(agent.cookies(stage.url).has(LOGOUT_COOKIE)).toBe(true)
      return { endSession, state: state! }
    }
    /** The user confirms at the provider, which sends the browser back with its state (not followed). */
    const confirmAtProvider = async (endSession: URL) => {
      const confirm = await agent.follow(endSession.href, { headers: HTML })
      const { action, fields } = formOf(confirm.last, 'logout')
      const back = await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() }, (next) => next.startsWith(stage.url))
      return new URL(back.stoppedAt!)
    }

    it('sends a state to end_session and, back with the same state, goes on to the post-logout page', async () => {
      const { endSession, state } = await logoutToProvider('/me?tab=1')
      const back = await confirmAtProvider(endSession)
      expect(`${back.origin}${back.pathname}`).toBe(`${stage.url}/auth/logout/done`)
      expect(back.searchParams.get('state')).toBe(state)
      const done = await agent.request(back.href, { headers: HTML })
      expect([done.status, done.headers.get('location')]).toEqual([302, '/me?tab=1'])
      expect(agent.cookies(stage.url).has(LOGOUT_COOKIE)).toBe(false)
      expect((await get('/me')).status).toBe(401)
    })

    it.each([
      { what: 'another state', query: (_state: string) => `?state=${'x'.repeat(43)}` },
      { what: 'no state', query: (_state: string) => '' },
      { what: 'the state twice', query: (state: string) => `?state=${state}&state=${state}` },
    ])('a return with $what only shows the signed-out page, acting on nothing', async ({ query }) => {
      const { state } = await logoutToProvider('/me?tab=1')
      const done = await agent.request(`${stage.url}/auth/logout/done${query(state)}`, { headers: HTML })
      expect([done.status, done.headers.get('location')]).toEqual([200, null])
      expect(done.body).toContain('signed out')
      // the browser's own logout is still pending: its genuine return still works
      expect(agent.cookies(stage.url).has(LOGOUT_COOKIE)).toBe(true)
      const genuine = await agent.request(`${stage.url}/auth/logout/done?state=${state}`, { headers: HTML })
      expect([genuine.status, genuine.headers.get('location')]).toEqual([302, '/me?tab=1'])
    })

    it('another browser\'s state is not acted on: the state is bound to the browser that logged out', async () => {
      const { state } = await logoutToProvider('/me?tab=1')
      const other = createAgent()
      const done = await other.request(`${stage.url}/auth/logout/done?state=${state}`, { headers: HTML })
      expect([done.status, done.headers.get('location')]).toEqual([200, null])
    })

    it('sends no state when the post-logout redirect URI is not /auth/logout/done', async () => {
      await login(agent, stage.url, 'alice')
      const response = await get('/auth/logout', { ...HTML, 'sec-fetch-site': 'same-origin' })
      const endSession = new URL(response.headers.get('location')!)
      expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${stage.url}/`)
      expect(endSession.searchParams.has('state')).toBe(false)
      expect(agent.cookies(stage.url).has(LOGOUT_COOKIE)).toBe(false)
    })
  })

  describe('third-party-initiated login', () => {
    /** Signs in through the provider's form from `start` (a hop to the login route), following to the end. */
    const signIn = async (start: Hop, username: string) => {
      expect(start.status).toBe(302)
      const toForm = await agent.follow(new URL(start.headers.get('location')!, start.url).href, { headers: HTML })
      expect(toForm.last.url).toContain('/interaction/')
      return agent.follow(toForm.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() })
    }
    const initiate = (params: Record<string, string>, method: 'GET' | 'POST' = 'GET') => {
      const query = new URLSearchParams(params).toString()
      return method === 'GET'
        ? agent.request(`${stage.url}/auth/login?${query}`, { headers: HTML })
        : agent.request(`${stage.url}/auth/login`, { method: 'POST', headers: HTML, body: query })
    }

    it.each(['GET', 'POST'] as const)('%s with the provider\'s iss: a login there with login_hint, landing on target_link_uri', async (method) => {
      const start = await initiate({ iss: provider.issuer, login_hint: 'bob', target_link_uri: `${stage.url}/me?from=launcher` }, method)
      const authorize = new URL(start.headers.get('location')!)
      expect(`${authorize.origin}${authorize.pathname}`).toBe(`${provider.issuer}/auth`)
      expect(authorize.searchParams.get('login_hint')).toBe('bob')
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
      const done = await signIn(start, 'bob')
      expect(done.last.url).toBe(`${stage.url}/me?from=launcher`)
      expect(JSON.parse(done.last.body).user.sub).toBe('bob')
    })

    it.each([
      { what: 'an unknown iss', params: { iss: 'https://evil.example' } },
      { what: 'the issuer with a trailing slash added', params: { iss: 'TRAILING' } },
      { what: 'two iss', params: { iss: 'TWICE' } },
    ])('refuses $what with 400: no redirect, nothing started', async ({ params }) => {
      const query = params.iss === 'TRAILING' ? `iss=${encodeURIComponent(`${provider.issuer}/`)}`
        : params.iss === 'TWICE' ? `iss=${encodeURIComponent(provider.issuer)}&iss=https://evil.example`
        : new URLSearchParams(params).toString()
      const refused = await agent.request(`${stage.url}/auth/login?${query}&target_link_uri=${encodeURIComponent(`${stage.url}/me`)}`, { headers: API })
      expect([refused.status, refused.headers.get('location')]).toEqual([400, null])
      expect(JSON.parse(refused.body)).toMatchObject({ error: 'unknown_issuer' })
      expect(refused.setCookies).toEqual([])
      const posted = await agent.request(`${stage.url}/auth/login`, { method: 'POST', headers: HTML, body: query })
      expect([posted.status, posted.headers.get('location')]).toEqual([400, null])
    })

    it.each(['https://evil.example/me', '//evil.example/me', `${'http'}://127.0.0.1:1/me`, 'javascript:alert(1)'])('a foreign target_link_uri (%s) lands on / after the login', async (target) => {
      const done = await signIn(await initiate({ iss: provider.issuer, target_link_uri: target }), 'alice')
      expect(done.last.url).toBe(`${stage.url}/`)
      expect(done.last.body).toBe('signed in as alice')
    })

    it('a POST to the login route without iss is still refused 405', async () => {
      const response = await agent.request(`${stage.url}/auth/login`, { method: 'POST', headers: API, body: 'login_hint=bob' })
      expect([response.status, response.headers.get('allow')]).toEqual([405, 'GET'])
    })
  })

  describe('front-channel logout', () => {
    const ROUTE = '/auth/frontchannel-logout'
    /** Alice signs in in Chromium; returns her page and her session as the app issued it. */
    const signInInChromium = async (context: BrowserContext) => {
      const page = await context.newPage()
      await page.goto(`${stage.url}/auth/login`)
      await page.waitForURL(/\/interaction\//)
      await page.getByLabel('Username').fill('alice')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(`${stage.url}/`)
      expect(await page.textContent('body')).toBe('signed in as alice')
      const cookies = await context.cookies(stage.url)
      return { page, session: cookies.filter((cookie) => cookie.name.startsWith(SESSION)) }
    }

    it.each([
      { what: 'cookie sessions (the browser\'s own cookie)', options: {} },
      { what: 'sessions in the memory store (by sid)', options: { sessionStore: 'memory' } },
    ] as const)('signing out at the provider ends the session through its iframe in Chromium, with $what', async ({ options }) => {
      await mount({ frontchannelLogout: true, ...options })
      const context = await (await chromium()).newContext()
      try {
        const { page, session } = await signInInChromium(context)
        const framed: { url: string; status: number; headers: Record<string, string> }[] = []
        page.on('response', (response) => {
          if (response.url().startsWith(`${stage.url}${ROUTE}`)) framed.push({ url: response.url(), status: response.status(), headers: response.headers() })
        })
        // the user signs out at the provider (its own end-session page confirms by itself)
        await page.goto(`${provider.issuer}/session/end?client_id=${CLIENT_ID}`)
        await page.waitForURL(/\/session\/end\/success/, { timeout: 10_000 })
        expect(framed).toHaveLength(1)
        const frame = new URL(framed[0]!.url)
        expect(frame.searchParams.get('iss')).toBe(provider.issuer)
        expect(frame.searchParams.get('sid')).toMatch(/.+/)
        expect(framed[0]!.status).toBe(200)
        expect(framed[0]!.headers['cache-control']).toBe('no-store')
        expect(framed[0]!.headers['content-security-policy']).toContain(`frame-ancestors ${new URL(provider.issuer).origin}`)
        expect(framed[0]!.headers['x-frame-options']).toBeUndefined()
        await page.goto(`${stage.url}/`)
        expect(await page.textContent('body')).toBe('signed out')
        // the cookie from before the logout opens nothing either (server-side: its record is gone)
        if (options.sessionStore === 'memory') {
          for (const cookie of session) agent.setCookie(stage.url, cookie.name, cookie.value)
          expect((await get('/me')).status).toBe(401)
        }
      } finally {
        await context.close()
      }
    })

    it('with a server-side store, a request without the browser\'s cookie (third-party cookies blocked) ends the sessions of its sid', async () => {
      await mount({ frontchannelLogout: true, sessionStore: 'memory' })
      await login(agent, stage.url, 'alice')
      const { sid } = JSON.parse((await get('/me')).body).user as { sid: string }
      expect(sid).toMatch(/.+/)
      const cookieless = await fetch(`${stage.url}${ROUTE}?iss=${encodeURIComponent(provider.issuer)}&sid=${encodeURIComponent(sid)}`)
      expect([cookieless.status, cookieless.headers.get('cache-control')]).toEqual([200, 'no-store'])
      expect((await get('/me')).status).toBe(401)
    })

    it('another sid, an unknown iss or none ends nothing; the route is served only with OAUTH_FRONTCHANNEL_LOGOUT', async () => {
      await mount({ frontchannelLogout: true })
      await login(agent, stage.url, 'alice')
      const refused = [
        `?iss=${encodeURIComponent(provider.issuer)}&sid=someone-else`,
        `?iss=https://evil.example&sid=x`,
        '',
        `?iss=${encodeURIComponent(provider.issuer)}`,
      ]
      for (const query of refused) {
        const response = await get(`${ROUTE}${query}`, HTML)
        expect(response.headers.get('cache-control'), query).toBe('no-store')
        expect(response.setCookies, query).toEqual([])
        expect((await get('/me')).status, query).toBe(200)
      }
      expect((await get(`${ROUTE}?iss=https://evil.example&sid=x`, HTML)).headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      await mount()
      expect((await get(`${ROUTE}?iss=${encodeURIComponent(provider.issuer)}&sid=x`, HTML)).status).toBe(404)
    })
  })

  describe('client_secret_jwt', () => {
    const SECRET_JWT_CLIENT = 'secret-jwt-client'
    const SECRET_JWT_SECRET = 'secret-jwt-client-secret-of-at-least-32-bytes'
    /** A provider whose client accepts only client_secret_jwt, with the token endpoint as the assertion's `aud`. */
    let jwtProvider: DevProvider
    beforeAll(async () => {
      jwtProvider = await startDevProvider({
        quiet: true,
        clientAssertionAudience: 'endpoint',
        clients: [{ client_id: SECRET_JWT_CLIENT, client_secret: SECRET_JWT_SECRET, token_endpoint_auth_method: 'client_secret_jwt', redirect_uris: [`${stage.url}/auth/callback`] }],
      })
    })
    afterAll(async () => {
      await jwtProvider.close()
    })
    const mountAt = (method: 'client_secret_jwt' | 'client_secret_basic', secret = SECRET_JWT_SECRET) =>
      mount({ issuer: jwtProvider.issuer, clientId: SECRET_JWT_CLIENT, clientSecret: secret, clientAuthMethod: method })

    it('signs in with an HS256 client assertion keyed with the secret (OpenID Connect Core §9)', async () => {
      await mountAt('client_secret_jwt')
      const result = await login(agent, stage.url, 'alice')
      expect([result.last.status, result.last.body]).toEqual([200, 'signed in as alice'])
      expect(jwtProvider.count('grant.success', 'authorization_code')).toBeGreaterThan(0)
    })

    it('the provider that requires it refuses client_secret_basic and a wrong secret: no session', async () => {
      for (const [method, secret] of [['client_secret_basic', SECRET_JWT_SECRET], ['client_secret_jwt', 'another-secret-of-at-least-32-bytes!!']] as const) {
        await mountAt(method, secret)
        const fresh = createAgent()
        const result = await login(fresh, stage.url, 'alice')
        expect(result.last.status, method).toBeGreaterThanOrEqual(400)
        expect((await fresh.request(`${stage.url}/me`, { headers: API })).status, method).toBe(401)
      }
      for (const line of logs.lines) expect(line).not.toContain(SECRET_JWT_SECRET)
    })
  })

  describe('signed userinfo', () => {
    const SIGNED_CLIENT = 'signed-userinfo-client'
    /** A provider whose client is registered for RS256-signed userinfo responses. */
    let signing: DevProvider
    let forge: ((claims: Record<string, unknown>) => string) | undefined
    beforeAll(async () => {
      signing = await startDevProvider({
        quiet: true,
        clients: [{ client_id: SIGNED_CLIENT, client_secret: CLIENT_SECRET, userinfo_signed_response_alg: 'RS256', redirect_uris: [`${stage.url}/auth/callback`] }],
      })
      // a misbehaving provider on demand: its userinfo answer replaced by `forge`'s JWT
      signing.intercept(async (ctx, next) => {
        await next()
        if (ctx.path === '/me' && forge) {
          ctx.body = forge({ iss: signing.issuer, aud: SIGNED_CLIENT, sub: 'alice', email: 'forged@evil.example' })
          ctx.type = 'application/jwt'
        }
      })
    })
    afterAll(async () => {
      await signing.close()
    })
    beforeEach(() => {
      forge = undefined
    })
    const mountSigned = () => mount({ issuer: signing.issuer, clientId: SIGNED_CLIENT, fetchUserinfo: true, userinfoSigningAlg: 'RS256' })
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

    it('verifies the provider\'s signed userinfo response (application/jwt) and merges its claims at login', async () => {
      await mountSigned()
      const result = await login(agent, stage.url, 'alice')
      expect([result.last.status, result.last.body]).toEqual([200, 'signed in as alice'])
      expect(JSON.parse((await get('/me')).body).user).toMatchObject({ sub: 'alice', email: 'alice@example.com' })
    })

    it.each([
      { what: 'signed with another key', forged: (claims: Record<string, unknown>) => {
        const input = `${encode({ alg: 'RS256', kid: randomUUID() })}.${encode(claims)}`
        return `${input}.${sign('sha256', Buffer.from(input), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey).toString('base64url')}`
      } },
      { what: 'unsigned (alg none)', forged: (claims: Record<string, unknown>) => `${encode({ alg: 'none' })}.${encode(claims)}.` },
      { what: 'signed by the provider for another user (sub)', forged: (claims: Record<string, unknown>) => signing.signJwt({ ...claims, sub: 'mallory' }, { typ: 'JWT' }) },
      { what: 'signed by the provider for another client (aud)', forged: (claims: Record<string, unknown>) => signing.signJwt({ ...claims, aud: 'another-client' }, { typ: 'JWT' }) },
      { what: 'signed by the provider with another issuer (iss)', forged: (claims: Record<string, unknown>) => signing.signJwt({ ...claims, iss: 'https://evil.example' }, { typ: 'JWT' }) },
    ])('refuses a signed userinfo response $what: no session', async ({ forged }) => {
      await mountSigned()
      forge = forged
      const result = await login(agent, stage.url, 'alice')
      expect(result.last.status).toBe(502)
      expect((await get('/me')).status).toBe(401)
    })
  })

  describe('signing key rotation', () => {
    const seconds = () => Math.floor(Date.now() / 1000)
    const logoutClaims = (extra: Record<string, unknown> = {}) => ({
      iss: provider.issuer, aud: CLIENT_ID, iat: seconds(), exp: seconds() + 120, jti: randomUUID(), events: { [LOGOUT_EVENT]: {} }, sub: 'alice', ...extra,
    })
    const sendLogoutToken = (token: string) =>
      agent.request(`${stage.url}/auth/backchannel-logout`, { method: 'POST', headers: API, body: new URLSearchParams({ logout_token: token }).toString() })

    it('logs in seconds after the provider rotated its signing keys: the unknown kid refetches the keys at once', async () => {
      expect((await login(agent, stage.url, 'alice')).last.body).toBe('signed in as alice')
      await provider.rotateKeys()
      const other = createAgent()
      const second = await login(other, stage.url, 'bob')
      expect([second.last.status, second.last.body]).toEqual([200, 'signed in as bob'])
    })

    it('takes a logout token signed with the rotated key seconds after the rotation', async () => {
      await mount({ sessionStore: 'memory', backchannelLogout: true })
      await login(agent, stage.url, 'alice')
      expect((await get('/me')).status).toBe(200)
      // the app has the provider's keys already: a logout token for another user came before
      expect((await sendLogoutToken(provider.signJwt(logoutClaims({ sub: 'carol' })))).status).toBe(200)
      await provider.rotateKeys()
      const accepted = await sendLogoutToken(provider.signJwt(logoutClaims()))
      expect(accepted.status).toBe(200)
      expect((await get('/me')).status).toBe(401)
    })

    it('a flood of logout tokens with forged kids refetches the JWKS at most once per window, each token refused', async () => {
      await mount({ sessionStore: 'memory', backchannelLogout: true })
      await login(agent, stage.url, 'alice')
      const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
      const forged = () => {
        const input = `${encode({ alg: 'RS256', kid: randomUUID(), typ: 'logout+jwt' })}.${encode(logoutClaims())}`
        return `${input}.${sign('sha256', Buffer.from(input), stranger).toString('base64url')}`
      }
      const before = jwksFetches
      // one after the other: concurrent ones would share one fetch in flight anyway
      const statuses: number[] = []
      for (let i = 0; i < 40; i++) statuses.push((await sendLogoutToken(forged())).status)
      expect(statuses).toEqual(statuses.map(() => 400))
      // the first token's forced refetch, and nothing for the other 39 (within the 5 s window)
      expect(jwksFetches - before).toBeLessThanOrEqual(1)
      expect((await get('/me')).status).toBe(200)
    })
  })
})
