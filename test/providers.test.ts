/**
 * Several providers in one app, on every framework version: the dev provider run twice as two
 * independent providers (two issuers on two loopback hosts, so that their cookies stay apart as
 * two real providers' would), each with its own client registration and redirect URI.
 */
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import { createCookieCodec, type LoginEvent, type OAuthOptions } from '@codegrant/core'
import { redisStore, type RedisStore } from '@codegrant/redis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { API, createAgent, formOf, HTML, type Agent } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Stage } from './support/apps.js'
import { startGitHubProvider } from './support/github-provider.js'
import { captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A } from './support/provider.js'
import { startRedis, type RedisServer } from './support/redis.js'

let stage: Stage
let alpha: DevProvider
let beta: DevProvider

/** A client registered at a dev provider with its callback `/auth/callback/<name>` on the stage, and back-channel logout. */
const client = (name: string, clientId = CLIENT_ID) => ({
  client_id: clientId,
  client_secret: CLIENT_SECRET,
  redirect_uris: [`${stage.url}/auth/callback/${name}`],
  post_logout_redirect_uris: [`${stage.url}/`],
  backchannel_logout_uri: `${stage.url}/auth/backchannel-logout`,
  backchannel_logout_session_required: true,
})

beforeAll(async () => {
  stage = await openStage()
  ;[alpha, beta] = await Promise.all([
    startDevProvider({ quiet: true, accessTokenTtl: 300, clients: [client('alpha')] }),
    startDevProvider({ quiet: true, accessTokenTtl: 300, host: '127.0.0.2', clients: [client('beta')] }),
  ])
})
afterAll(async () => {
  await stage.close()
  await Promise.all([alpha.close(), beta.close()])
})

export function twoProviders(logger: OAuthOptions['logger'], extra: OAuthOptions = {}): OAuthOptions {
  return {
    baseUrl: stage.url,
    cookieSecret: SECRET_A,
    logger,
    providers: {
      alpha: { issuer: alpha.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
      beta: { issuer: beta.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    },
    ...extra,
  }
}

/** Counts at both providers, to show that a step went to one and not the other. */
function counts() {
  const at = (provider: DevProvider) => ({
    userinfo: provider.count('userinfo.success'),
    refresh: provider.count('grant.success', 'refresh_token'),
    code: provider.count('grant.success', 'authorization_code'),
    revocation: provider.count('revocation.success'),
  })
  return { alpha: at(alpha), beta: at(beta) }
}

describe.each(FRAMEWORKS)('several providers on %s', (framework) => {
  let agent: Agent
  let logs: ReturnType<typeof captureLogs>
  const logins: LoginEvent[] = []
  const get = (path: string, headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers })

  /** Logs in at `name`'s login route through that provider's own form; stops before the callback when asked. */
  async function loginWith(name: string, username: string, stopAtCallback = false) {
    const toForm = await agent.follow(`${stage.url}/auth/login/${name}`, { headers: HTML })
    const form = toForm.last
    if (form.status !== 200 || !form.url.includes('/interaction/')) throw new Error(`expected ${name}'s login form, got ${form.status} at ${form.url}`)
    const isCallback = (url: string) => url.startsWith(`${stage.url}/auth/callback/`)
    return agent.follow(form.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() }, stopAtCallback ? isCallback : undefined)
  }

  beforeAll(async () => {
    logs = captureLogs()
    stage.mount(await buildHandler(framework, twoProviders(logs, { onLogin: (event) => void logins.push(event) }), `${alpha.issuer}/me`))
  })
  beforeEach(() => {
    agent = createAgent()
  })

  it('logs in through each provider; userinfo, refresh, revocation and logout go to the session\'s provider', async () => {
    for (const [name, provider, other, user] of [['alpha', alpha, 'beta', 'alice'], ['beta', beta, 'alpha', 'bob']] as const) {
      agent = createAgent()
      const before = counts()
      const landed = await loginWith(name, user)
      expect(landed.last.body).toBe(`signed in as ${user}`)
      // the app's onLogin hook is told which provider the login came from
      expect(logins.at(-1)).toMatchObject({ user: { sub: user }, provider: { name, issuer: provider.issuer } })
      expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: name })
      // the user's claims, without the ID token's protocol claims (iss: the provider is named above)
      const me = JSON.parse((await get('/me')).body).user
      expect(me).toMatchObject({ sub: user })
      expect(me).not.toHaveProperty('iss')
      const userinfo = await get('/api/userinfo-twice')
      expect(userinfo.status).toBe(200)
      expect(JSON.parse(userinfo.body).userinfo.sub).toBe(user)
      const refreshed = await agent.request(`${stage.url}/api/refresh`, { method: 'POST', headers: API })
      expect(JSON.parse(refreshed.body)).toMatchObject({ changed: true })
      const logout = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, 'sec-fetch-site': 'same-origin' } })
      expect(logout.status).toBe(302)
      expect(logout.headers.get('location')).toMatch(new RegExp(`^${provider.issuer}/`))
      const after = counts()
      expect(after[name]).toEqual({ userinfo: before[name].userinfo + 1, refresh: before[name].refresh + 1, code: before[name].code + 1, revocation: before[name].revocation + 1 })
      expect(after[other]).toEqual(before[other])
      expect((await get('/me')).status).toBe(401)
    }
  })

  it('shows a chooser page at /auth/login (returnTo kept), lists login URLs to API clients, and 404s an unknown provider', async () => {
    const guarded = await get('/me', HTML)
    expect(guarded.status).toBe(302)
    expect(guarded.headers.get('location')).toBe('/auth/login?returnTo=%2Fme')
    const page = await get('/auth/login?returnTo=%2Fme', HTML)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.body).toContain('<a href="/auth/login/alpha?returnTo=%2Fme">Sign in with alpha</a>')
    expect(page.body).toContain('<a href="/auth/login/beta?returnTo=%2Fme">Sign in with beta</a>')
    expect(page.body).not.toMatch(/<script/i)
    const listed = await get('/auth/login?returnTo=https%3A%2F%2Fevil.example%2F')
    expect(listed.status).toBe(400)
    expect(JSON.parse(listed.body)).toEqual({
      error: 'provider_required',
      message: expect.any(String),
      providers: [{ name: 'alpha', login: '/auth/login/alpha?returnTo=%2F' }, { name: 'beta', login: '/auth/login/beta?returnTo=%2F' }],
    })
    for (const path of ['/auth/login/gamma', '/auth/callback/gamma?code=x&state=y']) expect((await get(path, HTML)).status, path).toBe(404)
    // the design's spelling is served too
    const alias = await get('/auth/beta/login', HTML)
    expect(alias.status).toBe(302)
    expect(alias.headers.get('location')).toMatch(new RegExp(`^${beta.issuer}/.*redirect_uri=${encodeURIComponent(`${stage.url}/auth/callback/beta`)}`))
  })

  it('with a default provider: /auth/login and silent login go to it, step-up and oauth.login() to the session\'s provider', async () => {
    stage.mount(await buildHandler(framework, twoProviders(logs, { defaultProvider: 'beta' }), `${alpha.issuer}/me`))
    try {
      const authorize = (hop: { status: number; headers: Headers }) => (hop.status === 302 ? new URL(hop.headers.get('location')!) : undefined)
      const direct = authorize(await get('/auth/login?returnTo=%2Fme', HTML))
      expect(direct?.origin).toBe(beta.issuer)
      expect(direct?.searchParams.get('redirect_uri')).toBe(`${stage.url}/auth/callback/beta`)
      const silent = authorize(await get('/silent', HTML))
      expect([silent?.origin, silent?.searchParams.get('prompt')]).toEqual([beta.issuer, 'none'])
      agent = createAgent()
      await loginWith('alpha', 'alice')
      const stepUp = authorize(await get('/phr', HTML))
      expect([stepUp?.origin, stepUp?.searchParams.get('acr_values')]).toEqual([alpha.issuer, 'phr'])
      const appLogin = authorize(await get('/start-login?hint=alice', HTML))
      expect(appLogin?.origin).toBe(alpha.issuer)
    } finally {
      stage.mount(await buildHandler(framework, twoProviders(logs), `${alpha.issuer}/me`))
    }
  })

  it('refuses a response for one provider delivered to the other\'s callback: 400, nothing exchanged, no session', async () => {
    const stopped = await loginWith('alpha', 'alice', true)
    const callback = new URL(stopped.stoppedAt!)
    expect(callback.pathname).toBe('/auth/callback/alpha')
    const before = counts()
    const wrong = await get(`/auth/callback/beta${callback.search}`)
    expect(wrong.status).toBe(400)
    expect(JSON.parse(wrong.body)).toMatchObject({ code: 'codegrant/provider_mismatch' })
    expect(wrong.setCookies.some((line) => line.startsWith('codegrant.session') && !/Max-Age=0/i.test(line))).toBe(false)
    expect(counts()).toEqual(before)
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: null })
  })
})

describe('a GitHub-shaped provider (its preset, by name) beside an OpenID provider, from the environment alone', () => {
  it('signs in through each; the GitHub session reads its user API, the other its userinfo; logout of each goes its own way', async () => {
    const github = await startGitHubProvider({ redirectUri: `${stage.url}/auth/callback/github` })
    const corp = await startDevProvider({ quiet: true, host: '127.0.0.3', clients: [client('corp')] })
    try {
      const logs = captureLogs()
      const env = {
        OAUTH_PROVIDERS: 'github,corp',
        OAUTH_BASE_URL: stage.url,
        OAUTH_COOKIE_SECRET: SECRET_A,
        OAUTH_GITHUB_CLIENT_ID: github.clientId,
        OAUTH_GITHUB_CLIENT_SECRET: github.clientSecret,
        // the preset's endpoints, pointed at the loopback GitHub
        OAUTH_GITHUB_AUTHORIZATION_ENDPOINT: github.endpoints.authorizationEndpoint,
        OAUTH_GITHUB_TOKEN_ENDPOINT: github.endpoints.tokenEndpoint,
        OAUTH_GITHUB_USERINFO_ENDPOINT: github.endpoints.userinfoEndpoint,
        OAUTH_CORP_ISSUER: corp.issuer,
        OAUTH_CORP_CLIENT_ID: CLIENT_ID,
        OAUTH_CORP_CLIENT_SECRET: CLIENT_SECRET,
      }
      const saved = { ...process.env }
      Object.assign(process.env, env)
      try {
        stage.mount(await buildHandler('express5', { logger: logs }, `${corp.issuer}/me`))
      } finally {
        for (const name of Object.keys(env)) {
          if (saved[name] === undefined) delete process.env[name]
          else process.env[name] = saved[name]
        }
      }
      const agent = createAgent()
      const get = (path: string) => agent.request(`${stage.url}${path}`, { headers: API })
      const landed = await agent.follow(`${stage.url}/auth/login/github`, { headers: HTML })
      expect(landed.last.body).toBe('signed in as 583231')
      expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: 'github' })
      const before = github.requests('/api/user').length
      expect(JSON.parse((await get('/api/userinfo-twice')).body).userinfo).toMatchObject({ sub: '583231', preferred_username: 'octocat' })
      expect(github.requests('/api/user').length).toBe(before + 1)
      const out = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, 'sec-fetch-site': 'same-origin' } })
      expect(out.headers.get('location')).toBe(`${stage.url}/`)

      const corpAgent = createAgent()
      const form = await corpAgent.follow(`${stage.url}/auth/login/corp`, { headers: HTML })
      const done = await corpAgent.follow(form.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: 'bob', password: 'x' }).toString() })
      expect(done.last.body).toBe('signed in as bob')
      const corpOut = await corpAgent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, 'sec-fetch-site': 'same-origin' } })
      expect(corpOut.headers.get('location')).toMatch(new RegExp(`^${corp.issuer}/`))
    } finally {
      await github.close()
      await corp.close()
    }
  })
})

describe('diagnostics with several providers', () => {
  it('a login on the wrong loopback host: a browser is sent to the configured origin; an API client is told every provider\'s redirect URI to register', async () => {
    const logs = captureLogs()
    const configured = stage.url.replace('127.0.0.1', 'localhost')
    stage.mount(await buildHandler('koa3', twoProviders(logs, { baseUrl: configured }), `${alpha.issuer}/me`))
    const page = await createAgent().request(`${stage.url}/auth/login/beta`, { headers: HTML })
    expect([page.status, page.headers.get('location')]).toEqual([302, `${configured}/auth/login/beta`])
    const answer = await createAgent().request(`${stage.url}/auth/login/beta`, { headers: API })
    expect(answer.status).toBe(400)
    expect(answer.body).toContain(`register ${stage.url}/auth/callback/alpha, ${stage.url}/auth/callback/beta as the redirect URIs at the providers`)
  })
})

describe('sessions across a change to several providers', () => {
  it('a session from before (no provider recorded) is attributed by its issuer; one from a provider the app no longer has is signed out', async () => {
    const logs = captureLogs()
    const agent = createAgent()
    const get = (path: string) => agent.request(`${stage.url}${path}`, { headers: API })
    // one provider, as before: its redirect URI happens to be alpha's callback path
    stage.mount(await buildHandler('fastify5', { baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs, issuer: alpha.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: `${stage.url}/auth/callback/alpha` }, `${alpha.issuer}/me`))
    const form = await agent.follow(`${stage.url}/auth/login`, { headers: HTML })
    await agent.follow(form.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: 'alice', password: 'x' }).toString() })
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: 'default' })

    stage.mount(await buildHandler('fastify5', twoProviders(logs), `${alpha.issuer}/me`))
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: 'alpha' })
    const refreshes = [alpha.count('grant.success', 'refresh_token'), beta.count('grant.success', 'refresh_token')]
    expect((await agent.request(`${stage.url}/api/refresh`, { method: 'POST', headers: API })).status).toBe(200)
    expect([alpha.count('grant.success', 'refresh_token'), beta.count('grant.success', 'refresh_token')]).toEqual([refreshes[0]! + 1, refreshes[1]])

    // a beta session, then an app without beta: signed out, not handed to another provider
    const betaAgent = createAgent()
    const betaForm = await betaAgent.follow(`${stage.url}/auth/login/beta`, { headers: HTML })
    await betaAgent.follow(betaForm.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: 'bob', password: 'x' }).toString() })
    expect((await betaAgent.request(`${stage.url}/me`, { headers: API })).status).toBe(200)
    const { providers } = twoProviders(logs)
    stage.mount(await buildHandler('fastify5', { ...twoProviders(logs), providers: { alpha: providers!.alpha! } }, `${alpha.issuer}/me`))
    expect((await betaAgent.request(`${stage.url}/me`, { headers: API })).status).toBe(401)
    expect(JSON.parse((await betaAgent.request(`${stage.url}/api/provider`, { headers: API })).body)).toEqual({ provider: null })
  })
})

describe.each(FRAMEWORKS)('a single-provider app that adds a provider in front, on %s', (framework) => {
  const SESSION = 'codegrant.session'
  const codec = createCookieCodec([SECRET_A])
  /** The app before: beta alone (its redirect URI is beta's callback path in the app after). */
  const single = (logs: ReturnType<typeof captureLogs>): OAuthOptions => ({ baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs, issuer: beta.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: `${stage.url}/auth/callback/beta` })
  /** The session cookie rewritten as `change` says (sealed with the app's secret, as an older codegrant would have). */
  const rewrite = (agent: Agent, change: (session: Record<string, unknown>) => void) => {
    const jar = agent.cookies(stage.url)
    const session = JSON.parse(codec.open(SESSION, jar.get(SESSION)!)!) as Record<string, unknown>
    change(session)
    jar.set(SESSION, codec.seal(SESSION, JSON.stringify(session)))
  }

  it('its sessions stay with their own provider (by the issuer that vouched for the user), never sent to the new first one', async () => {
    const logs = captureLogs()
    const agent = createAgent()
    const get = (path: string) => agent.request(`${stage.url}${path}`, { headers: API })
    stage.mount(await buildHandler(framework, single(logs), `${beta.issuer}/me`))
    const form = await agent.follow(`${stage.url}/auth/login`, { headers: HTML })
    await agent.follow(form.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: 'bob', password: 'x' }).toString() })
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: 'default' })

    // alpha is added in front of beta
    stage.mount(await buildHandler(framework, twoProviders(logs), `${beta.issuer}/me`))
    const before = counts()
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: 'beta' })
    expect(JSON.parse((await agent.request(`${stage.url}/api/refresh`, { method: 'POST', headers: API })).body)).toMatchObject({ changed: true })
    expect((await get('/api/userinfo-twice')).status).toBe(200)
    expect(counts().alpha).toEqual(before.alpha)
    expect(counts().beta).toMatchObject({ refresh: before.beta.refresh + 1, userinfo: before.beta.userinfo + 1 })

    // a session written before identities were kept: attributed by its ID token's issuer
    rewrite(agent, (session) => void delete session.identity)
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: 'beta' })
    expect(JSON.parse((await agent.request(`${stage.url}/api/refresh`, { method: 'POST', headers: API })).body)).toMatchObject({ changed: true })
    expect(counts().alpha).toEqual(before.alpha)
    expect(counts().beta.refresh).toBe(before.beta.refresh + 2)
    // one from before with no ID token (its user only, which the app's hook may have made): signed out
    rewrite(agent, (session) => {
      delete (session.tokens as Record<string, unknown>).idToken
      session.user = { sub: 'bob' }
    })
    expect((await get('/me')).status).toBe(401)
    expect(JSON.parse((await get('/api/provider')).body)).toEqual({ provider: null })
    expect(counts().alpha).toEqual(before.alpha)
  })
})

describe.each(FRAMEWORKS.flatMap((framework) => [[framework, 'memory'], [framework, 'redis']] as const))('two clients of one provider on %s (%s store)', (framework, sessions) => {
  let provider: DevProvider
  let redis: RedisServer | undefined
  let store: RedisStore | undefined
  beforeAll(async () => {
    provider = await startDevProvider({ quiet: true, accessTokenTtl: 300, host: '127.0.0.4', clients: [client('one', 'client-one'), client('two', 'client-two')] })
    if (sessions === 'redis') {
      redis = await startRedis()
      store = redisStore({ url: redis.url, prefix: `two-clients-${framework}:`, logger: { warn: () => undefined, error: () => undefined } })
    }
  })
  afterAll(async () => {
    await provider.close()
    await store?.close()
    await redis?.close()
  })

  it('logout tokens for the second client end its sessions (by sid and by sub)', async () => {
    const logs = captureLogs()
    const at = (name: string) => ({ issuer: provider.issuer, clientId: `client-${name}`, clientSecret: CLIENT_SECRET })
    stage.mount(await buildHandler(framework, { baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs, providers: { one: at('one'), two: at('two') }, sessionStore: store ?? 'memory', backchannelLogout: true }, `${provider.issuer}/me`))
    const signIn = async (agent: Agent, username: string) => {
      const form = await agent.follow(`${stage.url}/auth/login/two`, { headers: HTML })
      await agent.follow(form.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() })
      expect(JSON.parse((await agent.request(`${stage.url}/api/provider`, { headers: API })).body)).toEqual({ provider: 'two' })
    }
    const me = (agent: Agent) => agent.request(`${stage.url}/me`, { headers: API }).then((response) => response.status)

    // by sid: alice signs out at the provider, which POSTs its logout token for client-two
    const alice = createAgent()
    await signIn(alice, 'alice')
    const [sent, failed] = [provider.count('backchannel.success'), provider.count('backchannel.error')]
    const confirm = await alice.follow(`${provider.issuer}/session/end?client_id=client-two`, { headers: HTML })
    const { action, fields } = formOf(confirm.last)
    fields.set('logout', 'yes')
    await alice.follow(action, { method: 'POST', headers: HTML, body: fields.toString() })
    expect([provider.count('backchannel.success'), provider.count('backchannel.error')]).toEqual([sent + 1, failed])
    expect(await me(alice)).toBe(401)

    // by sub: a token of the provider for client-two
    const bob = createAgent()
    await signIn(bob, 'bob')
    const token = provider.signJwt({ iss: provider.issuer, aud: 'client-two', iat: Math.floor(Date.now() / 1000), jti: randomUUID(), sub: 'bob', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
    const response = await bob.request(`${stage.url}/auth/backchannel-logout`, { method: 'POST', headers: API, body: new URLSearchParams({ logout_token: token }).toString() })
    expect(response.status).toBe(200)
    expect(await me(bob)).toBe(401)
  })
})

describe('back-channel logout with several providers', () => {
  it('verifies each logout token with the provider its iss names and ends only that provider\'s sessions', async () => {
    const logs = captureLogs()
    stage.mount(await buildHandler(FRAMEWORKS[0]!, twoProviders(logs, { sessionStore: 'memory', backchannelLogout: true }), `${beta.issuer}/me`))
    const agent = createAgent()
    const form = await agent.follow(`${stage.url}/auth/login/beta`, { headers: HTML })
    await agent.follow(form.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: 'alice', password: 'x' }).toString() })
    const me = () => agent.request(`${stage.url}/me`, { headers: API }).then((response) => response.status)
    expect(await me()).toBe(200)
    const send = (token: string) => agent.request(`${stage.url}/auth/backchannel-logout`, { method: 'POST', headers: API, body: new URLSearchParams({ logout_token: token }).toString() })
    const claims = (issuer: string) => ({ iss: issuer, aud: CLIENT_ID, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), sub: 'alice', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })
    // alpha's key does not speak for beta; alpha's own logout of alice is not beta's alice
    expect((await send(alpha.signJwt(claims(beta.issuer)))).status).toBe(400)
    expect((await send(alpha.signJwt(claims(alpha.issuer)))).status).toBe(200)
    expect(await me()).toBe(200)
    // alice signs out at beta: beta POSTs its logout token, and the session it started ends
    const sent = beta.count('backchannel.success')
    const confirm = await agent.follow(`${beta.issuer}/session/end?client_id=${CLIENT_ID}`, { headers: HTML })
    const { action, fields } = formOf(confirm.last)
    fields.set('logout', 'yes')
    await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() })
    expect(beta.count('backchannel.success')).toBe(sent + 1)
    expect(await me()).toBe(401)
  })
})
