/**
 * Authorization parameters, step-up authentication (RFC 9470) and silent login, on every
 * framework version, against the dev provider (oidc-provider: honours `max_age`, sets `acr`) and,
 * for an ID token without `auth_time`, the hostile provider.
 */
import { resolveConfig, type OAuthOptions } from '@codegrant/core'
import { createCodegrant } from '@codegrant/core/adapter'
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { API, createAgent, formOf, HTML, login, type Agent, type Hop } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startHostileProvider, type HostileProvider } from './support/hostile-provider.js'
import { appOptions, captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A } from './support/provider.js'

const SESSION = 'codegrant.session'
const epoch = () => Math.floor(Date.now() / 1000)

describe('configuration', () => {
  const base = { OAUTH_ISSUER: 'http://127.0.0.1:9', OAUTH_CLIENT_ID: 'c', OAUTH_CLIENT_SECRET: 's', OAUTH_BASE_URL: 'http://127.0.0.1:8', OAUTH_COOKIE_SECRET: SECRET_A }

  it('reads OAUTH_AUTHORIZATION_PARAMS, OAUTH_LOGIN_QUERY_PARAMS and OAUTH_SILENT_LOGIN', () => {
    const config = resolveConfig({ logger: captureLogs() }, {
      ...base,
      OAUTH_AUTHORIZATION_PARAMS: 'audience=https://api.example/&resource=https://a.example/&resource=https://b.example/&prompt=consent&max_age=60',
      OAUTH_LOGIN_QUERY_PARAMS: 'login_hint, ui_locales',
      OAUTH_SILENT_LOGIN: 'true',
    })
    expect(config.providers[0]!.authorizationParams).toEqual({ audience: ['https://api.example/'], resource: ['https://a.example/', 'https://b.example/'], prompt: ['consent'], max_age: ['60'] })
    expect(config.loginQueryParams).toEqual(['login_hint', 'ui_locales'])
    expect(config.silentLogin).toBe(true)
  })

  it('refuses every protected parameter at start-up, listing them all', () => {
    const protectedNames = ['state', 'nonce', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'response_type', 'client_id', 'request_uri', 'request']
    const attempt = () => resolveConfig({ logger: captureLogs(), authorizationParams: Object.fromEntries(protectedNames.map((name) => [name, 'x'])), loginQueryParams: ['redirect_uri', 'login_hint'] }, base)
    expect(attempt).toThrow(expect.objectContaining({ code: 'codegrant/config_invalid' }))
    try {
      attempt()
    } catch (error) {
      for (const name of protectedNames) expect((error as Error).message).toContain(`cannot set ${name}`)
      expect((error as Error).message).toContain('OAUTH_LOGIN_QUERY_PARAMS cannot allow redirect_uri')
    }
    expect(() => resolveConfig({ logger: captureLogs() }, { ...base, OAUTH_AUTHORIZATION_PARAMS: 'max_age=soon&scope=admin' })).toThrow(/max_age must be a whole number[\s\S]*use OAUTH_SCOPE/)
  })

  it('oauth.login() refuses the protocol\'s own parameters (TypeError), before any request', async () => {
    const codegrant = createCodegrant({ logger: captureLogs() }, base)
    const state = await codegrant.attach({ method: 'GET', url: '/', headers: {} }, () => {}, undefined)
    for (const params of [{ redirect_uri: 'https://evil.example/' }, { state: 'x' }, { scope: 'admin' }] as Record<string, string>[]) {
      await expect(state.login({ params })).rejects.toThrow(TypeError)
    }
    await expect(state.login({ maxAge: -1 })).rejects.toThrow(/max_age/)
  })
})

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  let stage: Stage
  let provider: DevProvider
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent

  const mount = async (extra: OAuthOptions = {}) => {
    stage.mount(await buildHandler(framework, appOptions(provider, stage.url, logs, extra), `${provider.issuer}/me`))
  }
  const get = (path: string, headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers })
  const query = (hop: Hop) => new URL(hop.headers.get('location')!, hop.url).searchParams
  /** What the provider holds for the login waiting at its form (PAR or not, the same). */
  const interactionParams = async (form: Hop) => {
    const uid = /\/interaction\/([\w-]+)/.exec(form.url)![1]!
    const interaction = (await provider.provider.Interaction.find(uid)) as { params: Record<string, unknown> } | undefined
    return interaction!.params
  }
  const submit = (form: Hop, username: string) => agent.follow(form.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() })
  const toForm = async (path: string) => {
    const started = await agent.follow(`${stage.url}${path}`, { headers: HTML })
    expect(started.last.url).toContain('/interaction/')
    return started
  }

  beforeAll(async () => {
    stage = await openStage()
    const [dev, bad] = await Promise.all([
      startDevProvider({
        quiet: true,
        accessTokenTtl: 3600,
        // auth_time in every ID token, as many providers do: a fresh session meets maxAge
        clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${stage.url}/auth/callback`], post_logout_redirect_uris: [`${stage.url}/`], require_auth_time: true }],
        // the APIs the logins below name with `resource`: an unknown one is refused (invalid_target, RFC 8707)
        resources: { 'https://a.example/': { scope: 'a:read' }, 'https://b.example/': { scope: 'b:read' } },
      }),
      startHostileProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${stage.url}/auth/callback`] }),
    ])
    provider = dev
    hostile = bad
  })
  afterAll(async () => {
    await stage.close()
    await Promise.all([provider.close(), hostile.close()])
  })
  beforeEach(async () => {
    logs = captureLogs()
    agent = createAgent()
    await mount()
  })
  afterEach(() => {
    vi.useRealTimers()
    for (const line of logs.lines) expect(line).not.toContain(CLIENT_SECRET)
  })

  describe('authorization parameters', () => {
    it('sends the configured ones, and from the browser only those the app allows', async () => {
      await mount({ authorizationParams: 'audience=https://api.example/&resource=https://a.example/&resource=https://b.example/&ui_locales=de', loginQueryParams: 'login_hint' })
      const evil = 'https://evil.example/cb'
      const started = await get(`/auth/login?returnTo=/me&prompt=none&redirect_uri=${encodeURIComponent(evil)}&state=x&audience=https://evil.example/&login_hint=bob`, HTML)
      const params = query(started)
      expect(params.get('audience')).toBe('https://api.example/')
      expect(params.getAll('resource')).toEqual(['https://a.example/', 'https://b.example/'])
      expect(params.get('ui_locales')).toBe('de')
      expect(params.get('login_hint')).toBe('bob')
      expect(params.has('prompt')).toBe(false)
      expect(params.getAll('redirect_uri')).toEqual([`${stage.url}/auth/callback`])
      expect(params.getAll('state')).toHaveLength(1)
      expect(params.get('state')).not.toBe('x')
      // the provider takes them, and the login completes
      const form = (await agent.follow(started.headers.get('location')!, { headers: HTML })).last
      expect(await interactionParams(form)).toMatchObject({ login_hint: 'bob', ui_locales: 'de' })
      const done = await submit(form, 'bob')
      expect(done.last.url).toBe(`${stage.url}/me`)
      expect(JSON.parse(done.last.body).user.sub).toBe('bob')
    })

    it('pushes them in the PAR request, not in the browser URL', async () => {
      await mount({ par: true, authorizationParams: { ui_locales: 'fr', max_age: 900 }, loginQueryParams: ['login_hint'] })
      const pushed = provider.count('pushed_authorization_request.success')
      const started = await get('/auth/login?returnTo=/me&login_hint=bob&prompt=none', HTML)
      expect([...query(started).keys()].sort()).toEqual(['client_id', 'request_uri'])
      expect(provider.count('pushed_authorization_request.success')).toBe(pushed + 1)
      const form = (await agent.follow(started.headers.get('location')!, { headers: HTML })).last
      const params = await interactionParams(form)
      expect(params).toMatchObject({ ui_locales: 'fr', max_age: '900', login_hint: 'bob' })
      expect(params.prompt).toBeUndefined()
      const done = await submit(form, 'bob')
      expect(JSON.parse(done.last.body).user).toMatchObject({ sub: 'bob', auth_time: expect.any(Number) })
    })

    it('refuses protected parameters at start-up', async () => {
      const options = appOptions(provider, stage.url, logs, { authorizationParams: 'redirect_uri=https://evil.example/&code_challenge_method=plain&request_uri=urn:x' })
      await expect(buildHandler(framework, options, `${provider.issuer}/me`)).rejects.toMatchObject({ code: 'codegrant/config_invalid', message: expect.stringMatching(/redirect_uri[\s\S]*code_challenge_method[\s\S]*request_uri/) })
    })

    it('oauth.login() starts a login with the app\'s parameters for this login', async () => {
      const started = await get('/start-login?hint=bob', HTML)
      expect(started.status).toBe(302)
      expect(started.setCookies.some((line) => line.startsWith('codegrant.tx.'))).toBe(true)
      const params = query(started)
      expect(new URL(started.headers.get('location')!).origin).toBe(provider.issuer)
      expect([params.get('login_hint'), params.get('ui_locales'), params.get('max_age'), params.getAll('resource')]).toEqual(['bob', 'fr-CA fr', '600', ['https://a.example/', 'https://b.example/']])
      const form = (await agent.follow(started.headers.get('location')!, { headers: HTML })).last
      const done = await submit(form, 'bob')
      expect(done.last.url).toBe(`${stage.url}/me`)
      expect(JSON.parse(done.last.body).user).toMatchObject({ sub: 'bob', auth_time: expect.any(Number) })
    })

    it('checks auth_time when max_age was sent: a provider answering without it, or with an old one, is refused (400)', async () => {
      const options: OAuthOptions = { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs }
      stage.mount(await buildHandler(framework, { ...options, authorizationParams: { max_age: 300 } }, hostile.userinfoUrl))
      const signIn = async () => {
        const toCallback = await agent.follow(`${stage.url}/auth/login`, { headers: HTML }, (url) => url.startsWith(`${stage.url}/auth/callback`))
        expect(new URL(toCallback.hops[0]!.headers.get('location')!).searchParams.get('max_age')).toBe('300')
        return agent.request(toCallback.stoppedAt!, { headers: API })
      }
      try {
        for (const authTime of [undefined, epoch() - 3600]) {
          hostile.set({ idToken: { claims: { auth_time: authTime } } })
          const refused = await signIn()
          expect(refused.status).toBe(400)
          expect(JSON.parse(refused.body).code).toBe('codegrant/id_token_invalid')
          expect(refused.setCookies.some((line) => line.startsWith(SESSION) && !/Max-Age=0/i.test(line))).toBe(false)
        }
        hostile.reset()
        expect((await signIn()).status).toBe(302)
        // without max_age, no auth_time is required
        stage.mount(await buildHandler(framework, options, hostile.userinfoUrl))
        hostile.set({ idToken: { claims: { auth_time: undefined } } })
        const toCallback = await agent.follow(`${stage.url}/auth/login`, { headers: HTML }, (url) => url.startsWith(`${stage.url}/auth/callback`))
        expect((await agent.request(toCallback.stoppedAt!, { headers: API })).status).toBe(302)
      } finally {
        hostile.reset()
      }
    })
  })

  describe('step-up', () => {
    it('maxAge: an older authentication logs in again, comes back to the same URL; APIs get the RFC 9470 challenge', async () => {
      await login(agent, stage.url, 'alice')
      expect((await get('/recent')).status).toBe(200)
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 400_000)
      const api = await get('/recent')
      expect(api.status).toBe(401)
      expect(api.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_user_authentication", .*max_age="300"$/)
      expect(JSON.parse(api.body)).toMatchObject({ error: 'insufficient_user_authentication', max_age: 300 })
      const { hops, last: form } = await toForm('/recent')
      expect(query(hops[0]!).get('max_age')).toBe('300')
      const done = await submit(form, 'alice')
      expect(done.last.url).toBe(`${stage.url}/recent`)
      expect(done.last.status).toBe(200)
      expect(JSON.parse(done.last.body).auth_time).toBeGreaterThanOrEqual(epoch() - 5)
      expect(JSON.parse((await get('/me')).body).user.sub).toBe('alice')
    })

    it('maxAge with an onLogin hook that reshapes the user (no auth_time in it): through at once, no redirect loop', async () => {
      await mount({ onLogin: ({ user }) => ({ user: { sub: user.sub, name: user.name, roles: ['editor'] } }) })
      await login(agent, stage.url, 'alice')
      const exchanges = provider.count('grant.success', 'authorization_code')
      const page = await agent.follow(`${stage.url}/recent`, { headers: HTML })
      expect([page.last.status, page.last.url]).toEqual([200, `${stage.url}/recent`])
      expect(page.hops).toHaveLength(1)
      expect((await get('/recent')).status).toBe(200)
      expect(provider.count('grant.success', 'authorization_code')).toBe(exchanges)
      // an older authentication still steps up once, and the hook's user comes back
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 400_000)
      const { last: form } = await toForm('/recent')
      const done = await submit(form, 'alice')
      expect([done.last.status, done.last.url]).toEqual([200, `${stage.url}/recent`])
      expect(provider.count('grant.success', 'authorization_code')).toBe(exchanges + 1)
      expect(JSON.parse((await get('/me')).body).user).toEqual({ sub: 'alice', name: 'Alice Example', roles: ['editor'] })
    })

    it('maxAge: another user at the provider is refused (403) and the session stays alice\'s', async () => {
      await login(agent, stage.url, 'alice')
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 400_000)
      const { last: form } = await toForm('/recent')
      let done = await submit(form, 'bob')
      // oidc-provider ends alice's session at the provider first, through a self-submitting form
      if (done.last.body.includes('document.forms[0].submit()')) {
        const { action, fields } = formOf(done.last)
        done = await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() })
      }
      expect(done.last.status).toBe(403)
      expect(done.last.url).toContain('/auth/callback')
      expect(done.last.body).toContain('codegrant/step_up_failed')
      expect(JSON.parse((await get('/me')).body).user.sub).toBe('alice')
    })

    it('acr: logs in again for "phr" and verifies it; APIs get the challenge', async () => {
      await login(agent, stage.url, 'alice')
      expect(JSON.parse((await get('/me')).body).user.acr).not.toBe('phr')
      const api = await get('/phr')
      expect(api.status).toBe(401)
      expect(api.headers.get('www-authenticate')).toMatch(/error="insufficient_user_authentication", .*acr_values="phr"/)
      const { hops, last: form } = await toForm('/phr')
      expect(query(hops[0]!).get('acr_values')).toBe('phr')
      const done = await submit(form, 'alice')
      expect(done.last.url).toBe(`${stage.url}/phr`)
      expect(JSON.parse(done.last.body)).toEqual({ acr: 'phr' })
    })

    it('an acr the provider cannot give: one attempt, then a clear 403 page, no loop', async () => {
      await login(agent, stage.url, 'alice')
      const { hops, last } = await agent.follow(`${stage.url}/unreachable-acr`, { headers: HTML })
      expect(last.status).toBe(403)
      expect(last.url).toContain('/auth/callback')
      expect(last.headers.get('content-type')).toContain('text/html')
      expect(last.body).toContain('codegrant/step_up_failed')
      expect(hops.filter((hop) => hop.url.startsWith(`${stage.url}/unreachable-acr`))).toHaveLength(1)
      expect(JSON.parse((await get('/me')).body).user.sub).toBe('alice')
    })
  })

  describe('silent login', () => {
    it('login_required brings the browser back signed out to the page, then the login page; once per browser session', async () => {
      const { hops, last } = await agent.follow(`${stage.url}/silent`, { headers: HTML })
      expect(query(hops[0]!).get('prompt')).toBe('none')
      const marker = hops[0]!.setCookies.find((line) => line.startsWith('codegrant.silent='))
      expect(marker).toBeDefined()
      expect(marker).not.toMatch(/Max-Age|Expires/i)
      const callback = hops.find((hop) => hop.url.startsWith(`${stage.url}/auth/callback`))!
      expect(new URL(callback.url).searchParams.get('error')).toBe('login_required')
      expect([callback.status, callback.headers.get('location')]).toEqual([302, '/silent'])
      expect(hops.filter((hop) => query(hop).get('prompt') === 'none' && hop.status === 302)).toHaveLength(1)
      expect(hops.some((hop) => hop.url === `${stage.url}/auth/login?returnTo=%2Fsilent`)).toBe(true)
      expect(last.url).toContain('/interaction/')
      // the attempt is remembered: straight to the login page
      const again = await get('/silent', HTML)
      expect(again.headers.get('location')).toBe('/auth/login?returnTo=%2Fsilent')
    })

    it('an active provider session signs the browser in without a form', async () => {
      await login(agent, stage.url, 'alice')
      for (const name of agent.cookies(stage.url).keys()) if (name.startsWith(SESSION)) agent.deleteCookie(stage.url, name)
      const { hops, last } = await agent.follow(`${stage.url}/silent`, { headers: HTML })
      expect(query(hops[0]!).get('prompt')).toBe('none')
      expect(hops.some((hop) => hop.url.includes('/interaction/'))).toBe(false)
      expect([last.url, last.status, JSON.parse(last.body)]).toEqual([`${stage.url}/silent`, 200, { sub: 'alice' }])
    })

    it('never for API clients; silentLogin in the configuration applies to every guard', async () => {
      const api = await get('/silent')
      expect(api.status).toBe(401)
      expect(api.setCookies).toEqual([])
      expect(query(await get('/me', HTML)).get('prompt')).toBeNull()
      await mount({ silentLogin: true })
      const me = await get('/me', HTML)
      expect(query(me).get('prompt')).toBe('none')
    })
  })
})
