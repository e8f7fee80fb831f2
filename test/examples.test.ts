/** The examples as a user starts them: `pnpm --dir examples/<name> start` and the environment only. */
import { startDevProvider } from '@codegrant/dev-provider'
import { startTestProvider } from '@codegrant/testing'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, formOf, HTML, login } from './support/agent.js'
import { freePort, listenerPid, runExample, startExample, type RunningExample } from './support/example.js'
import { startTestApi } from './support/apis.js'
import { TOKEN_EXCHANGE } from '@codegrant/dev-provider'

describe.each(['express', 'koa', 'fastify'])('examples/%s', (name) => {
  it('exits 1 listing every configuration problem, without a stack trace', async () => {
    const { code, output } = await runExample(name, { OAUTH_ISSUER: 'https://id.example.com', OAUTH_COOKIE_SECRET: 'short' })
    expect(code).toBe(1)
    expect(output).toContain('OAUTH_CLIENT_ID is required')
    expect(output).toContain('OAUTH_CLIENT_SECRET is required')
    expect(output).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters (got 5)')
    expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/)
  })

  it('the demo validates the variables it is given too: a short OAUTH_COOKIE_SECRET is listed with every other problem, not replaced', async () => {
    const { code, output } = await runExample(name, { OAUTH_COOKIE_SECRET: 'short', OAUTH_SESSION_STORE: 'bogus' })
    expect(output).toContain('DEVELOPMENT SETUP')
    expect(code).toBe(1)
    expect(output).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters (got 5)')
    expect(output).toContain('OAUTH_SESSION_STORE must be cookie, memory or redis (got "bogus")')
    expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/)
  })

  it('in-process with @codegrant/testing, as a user tests their own app: a named user, groups, refresh on demand', async () => {
    const idp = await startTestProvider()
    try {
      const { createApp } = (await import(`../examples/${name}/dist/app.js`)) as { createApp(options: object): unknown }
      const app = (await createApp({ ...idp.options, logger: { warn() {}, error() {} } })) as { callback?: () => unknown; ready?: () => Promise<unknown>; server?: unknown }
      const http = name === 'koa' ? app.callback!() : name === 'fastify' ? (await app.ready!(), app.server) : app
      const carol = await idp.login(app as never, { sub: 'carol', groups: ['admin'], name: 'Carol' })
      const me = await request(http as never).get('/me').set('Cookie', carol.cookie).expect(200)
      expect(me.body).toMatchObject({ user: { sub: 'carol', name: 'Carol', groups: ['admin'] } })
      await request(http as never).get('/admin').set('Cookie', carol.cookie).expect(200)
      const dan = await idp.login(app as never, { sub: 'dan' })
      await request(http as never).get('/admin').set('Cookie', dan.cookie).expect(403)
      const refreshes = idp.devProvider.count('grant.success', 'refresh_token')
      carol.expireAccessToken()
      await request(http as never).get('/api/userinfo').set('Cookie', carol.cookie).expect(200)
      expect(idp.devProvider.count('grant.success', 'refresh_token')).toBe(refreshes + 1)
    } finally {
      await idp.close()
    }
  })

  it('runs with two providers from the environment alone; /me and /api/userinfo serve the session\'s provider', async () => {
    const port = await freePort()
    const base = `http://localhost:${port}`
    const secret = 'example-client-secret-0123456789'
    const client = (provider: string) => ({ client_id: 'example-app', client_secret: secret, redirect_uris: [`${base}/auth/callback/${provider}`], post_logout_redirect_uris: [`${base}/`] })
    // two independent providers on two loopback addresses, as two real ones would be
    const [alpha, beta] = await Promise.all([
      startDevProvider({ quiet: true, clients: [client('alpha')] }),
      startDevProvider({ quiet: true, host: '127.0.0.2', clients: [client('beta')] }),
    ])
    const env = { PORT: String(port), OAUTH_PROVIDERS: 'alpha,beta', OAUTH_COOKIE_SECRET: 'e'.repeat(32) }
    for (const [prefix, provider] of [['OAUTH_ALPHA_', alpha], ['OAUTH_BETA_', beta]] as const) {
      Object.assign(env, { [`${prefix}ISSUER`]: provider.issuer, [`${prefix}CLIENT_ID`]: 'example-app', [`${prefix}CLIENT_SECRET`]: secret })
    }
    const example = await startExample(name, env)
    try {
      expect(example.output()).not.toContain('DEVELOPMENT SETUP')
      const chooser = await createAgent().request(`${example.url}/auth/login`, { headers: HTML })
      expect(chooser.body).toContain('href="/auth/login/alpha"')
      expect(chooser.body).toContain('href="/auth/login/beta"')
      for (const [provider, idp, other, user] of [['alpha', alpha, beta, 'alice'], ['beta', beta, alpha, 'bob']] as const) {
        const agent = createAgent()
        await login(agent, example.url, user, { provider })
        const me = JSON.parse((await agent.request(`${example.url}/me`, { headers: API })).body)
        // the user's claims (the issuer is a protocol claim, left out of user); which provider: `/` below
        expect(me.user).toMatchObject({ sub: user })
        expect(me.user).not.toHaveProperty('iss')
        const [here, there] = [idp.count('userinfo.success'), other.count('userinfo.success')]
        const info = await agent.request(`${example.url}/api/userinfo`, { headers: API })
        expect([info.status, JSON.parse(info.body).sub]).toEqual([200, user])
        expect([idp.count('userinfo.success'), other.count('userinfo.success')]).toEqual([here + 1, there])
        expect(JSON.parse((await agent.request(`${example.url}/`, { headers: API })).body)).toMatchObject({ provider })
      }
    } finally {
      await example.stop()
      await Promise.all([alpha.close(), beta.close()])
    }
  }, 60_000)

  it('calls two APIs from the environment alone, each with its own token (its aud and scope): /api/call/<api>', async () => {
    const port = await freePort()
    const base = `http://localhost:${port}`
    const secret = 'example-client-secret-0123456789'
    const idp = await startDevProvider({ quiet: true, clients: [{ client_id: 'example-app', client_secret: secret, redirect_uris: [`${base}/auth/callback`], post_logout_redirect_uris: [`${base}/`], grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] }] })
    const [orders, billing] = await Promise.all([
      startTestApi({ provider: idp, name: 'orders', scopes: { read: 'orders:read', write: 'orders:write' } }),
      startTestApi({ provider: idp, name: 'billing', scopes: { read: 'billing:read', write: 'billing:write' }, audience: 'billing-api' }),
    ])
    const example = await startExample(name, {
      PORT: String(port),
      OAUTH_ISSUER: idp.issuer, OAUTH_CLIENT_ID: 'example-app', OAUTH_CLIENT_SECRET: secret, OAUTH_COOKIE_SECRET: 'e'.repeat(32),
      OAUTH_APIS: 'orders,billing',
      OAUTH_ORDERS_URL: orders.url, OAUTH_ORDERS_RESOURCE: orders.resource, OAUTH_ORDERS_SCOPE: 'orders:read',
      OAUTH_BILLING_URL: billing.url, OAUTH_BILLING_AUDIENCE: 'billing-api', OAUTH_BILLING_SCOPE: 'billing:read', OAUTH_BILLING_TOKEN: 'exchange',
    })
    try {
      const agent = createAgent()
      expect((await agent.request(`${example.url}/api/call/orders`, { headers: API })).status).toBe(401)
      await login(agent, example.url, 'alice')
      const [toOrders, toBilling] = [await agent.request(`${example.url}/api/call/orders`, { headers: API }), await agent.request(`${example.url}/api/call/billing`, { headers: API })]
      expect([toOrders.status, JSON.parse(toOrders.body)]).toEqual([200, expect.objectContaining({ api: 'orders', sub: 'alice', scope: 'orders:read' })])
      expect([toBilling.status, JSON.parse(toBilling.body)]).toEqual([200, expect.objectContaining({ api: 'billing', sub: 'alice', scope: 'billing:read' })])
      expect(orders.received.map((entry) => entry.claims?.aud)).toEqual([orders.audience])
      expect(billing.received.map((entry) => entry.claims?.aud)).toEqual(['billing-api'])
      expect((await agent.request(`${example.url}/api/call/payroll`, { headers: API })).status).toBe(404)
      // no OAUTH_BFF here: no single-page app, and the answer says what it needs
      const spa = await agent.request(`${example.url}/spa`)
      expect([spa.status, JSON.parse(spa.body).message]).toEqual([404, expect.stringContaining('OAUTH_BFF=true')])
      for (const { token } of [...orders.received, ...billing.received]) expect(example.output()).not.toContain(token)
    } finally {
      await example.stop()
      await Promise.all([orders.close(), billing.close()])
      await idp.close()
    }
  }, 60_000)

  describe('with no configuration (the demo)', () => {
    let example: RunningExample
    beforeAll(async () => {
      example = await startExample(name)
    }, 60_000)
    afterAll(async () => {
      await example?.stop()
    })

    it('says loudly that it is a development setup', () => {
      expect(example.output()).toContain('DEVELOPMENT SETUP')
    })

    it('runs the dev provider in a process of its own, not in the one that serves the app', async () => {
      const issuer = new URL(/dev provider at (http:\/\/127\.0\.0\.1:\d+)/.exec(example.output())![1]!)
      const [app, provider] = [await listenerPid(Number(new URL(example.url).port)), await listenerPid(Number(issuer.port))]
      expect(app).toBeTypeOf('number')
      expect(provider).toBeTypeOf('number')
      expect(provider).not.toBe(app)
    })

    it('serves the table of routes for alice and bob', async () => {
      const alice = createAgent()
      expect((await alice.request(`${example.url}/me`, { headers: API })).status).toBe(401)
      await login(alice, example.url, 'alice')
      const me = await alice.request(`${example.url}/me`, { headers: API })
      expect(JSON.parse(me.body)).toMatchObject({ user: { sub: 'alice', groups: ['admin'] } })
      const info = await alice.request(`${example.url}/api/userinfo`, { headers: API })
      expect([info.status, JSON.parse(info.body)]).toEqual([200, expect.objectContaining({ sub: 'alice', groups: ['admin'] })])
      expect((await alice.request(`${example.url}/admin`, { headers: API })).body).toBe('{"ok":true}')

      const bob = createAgent()
      await login(bob, example.url, 'bob')
      expect((await bob.request(`${example.url}/admin`, { headers: API })).status).toBe(403)
    })

    it('serves the single-page app (/spa and its modules) with the backend-for-frontend on; the orders API streams server-sent events through it', async () => {
      const page = await fetch(`${example.url}/spa`)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'nonce-[\w+/=]+'; style-src 'nonce-/)
      expect(await page.text()).toMatch(/<script type="module" nonce="[\w+/=]+" src="\/spa\/spa\.js"><\/script>/)
      for (const module of ['spa.js', 'bff.js', 'format.js']) {
        const served = await fetch(`${example.url}/spa/${module}`)
        expect([served.status, served.headers.get('content-type'), served.headers.get('x-content-type-options')]).toEqual([200, 'text/javascript; charset=utf-8', 'nosniff'])
        expect(await served.text()).not.toContain('sourceMappingURL')
      }
      expect((await fetch(`${example.url}/spa/nope.js`)).status).toBe(404)
      const alice = createAgent()
      expect((await alice.request(`${example.url}/bff/orders/events`, { headers: { 'x-csrf': '1' } })).status).toBe(401)
      await login(alice, example.url, 'alice')
      const events = await alice.request(`${example.url}/bff/orders/events?count=2&interval=100`, { headers: { 'x-csrf': '1', accept: 'text/event-stream' } })
      expect([events.status, events.headers.get('content-type')]).toEqual([200, 'text/event-stream'])
      expect(events.body.match(/^event: tick$/gm)).toHaveLength(2)
      expect(events.body).toContain('"sub":"alice","n":2,"of":2')
    })

    it('starts two small APIs and calls each with a token of its own; the page offers them, tokens by fingerprint only', async () => {
      const alice = createAgent()
      await login(alice, example.url, 'alice')
      const [orders, billing] = [await alice.request(`${example.url}/api/call/orders`, { headers: API }), await alice.request(`${example.url}/api/call/billing`, { headers: API })]
      expect([orders.status, billing.status]).toEqual([200, 200])
      const [fromOrders, fromBilling] = [JSON.parse(orders.body), JSON.parse(billing.body)]
      expect(fromOrders).toMatchObject({ api: 'orders', sub: 'alice', scope: 'orders:read', token: expect.stringMatching(/^sha256:[0-9a-f]{12}$/) })
      expect(fromBilling).toMatchObject({ api: 'billing', sub: 'alice', aud: 'demo-billing', scope: 'billing:read', token: expect.stringMatching(/^sha256:[0-9a-f]{12}$/) })
      expect(fromOrders.aud).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(fromOrders.token).not.toBe(fromBilling.token)
      expect(JSON.parse((await alice.request(`${example.url}/`, { headers: API })).body)).toMatchObject({ apis: ['orders', 'billing'] })
      expect((await alice.request(`${example.url}/`, { headers: HTML })).body).toContain('data-call="GET /api/call/billing"')
    })

    it("answers codegrant's errors in /api/userinfo as codegrant's JSON, with its message", async () => {
      const agent = createAgent()
      await login(agent, example.url, 'alice')
      const saved = new Map(agent.cookies(example.url))
      expect((await agent.request(`${example.url}/auth/logout`, { method: 'POST', headers: { ...API, origin: new URL(example.url).origin } })).status).toBe(302)
      // the cookie saved before the logout: its tokens are revoked, the refresh says invalid_grant
      for (const [name, value] of saved) agent.setCookie(example.url, name, value)
      const info = await agent.request(`${example.url}/api/userinfo`, { headers: API })
      expect(info.status).toBe(401)
      expect(JSON.parse(info.body)).toEqual({ error: 'session_ended', code: 'codegrant/session_ended', message: expect.stringContaining('Sign in again') })
    })

    it('answers the inspector as JSON to API clients, with fingerprints, never tokens', async () => {
      const agent = createAgent()
      expect(JSON.parse((await agent.request(`${example.url}/`, { headers: API })).body)).toMatchObject({ signedIn: false })
      await login(agent, example.url, 'alice')
      const home = await agent.request(`${example.url}/`, { headers: API })
      const view = JSON.parse(home.body)
      expect(view).toMatchObject({
        signedIn: true,
        user: { sub: 'alice' },
        session: { store: 'cookie', issuedAt: expect.any(Number), expiresAt: expect.any(Number), idleExpiresAt: expect.any(Number) },
        tokens: { type: 'Bearer', scopes: ['openid', 'profile', 'email'], accessToken: expect.stringMatching(/^sha256:[0-9a-f]{12}$/) },
      })
      expect(home.body).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)
    })

    it('refreshes on POST /demo/refresh from the page, and refuses cross-site requests', async () => {
      const agent = createAgent()
      expect((await agent.request(`${example.url}/demo/refresh`, { method: 'POST', headers: API })).status).toBe(401)
      await login(agent, example.url, 'alice')
      const before = JSON.parse((await agent.request(`${example.url}/`, { headers: API })).body)
      const crossSite: Record<string, string>[] = [{ origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }]
      for (const headers of crossSite) {
        const refused = await agent.request(`${example.url}/demo/refresh`, { method: 'POST', headers: { ...API, ...headers } })
        expect([refused.status, JSON.parse(refused.body)]).toEqual([403, { error: 'cross_site_request' }])
      }
      const origin = new URL(example.url).origin
      const done = await agent.request(`${example.url}/demo/refresh`, { method: 'POST', headers: { ...API, origin, 'sec-fetch-site': 'same-origin' } })
      expect(done.status).toBe(200)
      const after = JSON.parse(done.body)
      expect(after.tokens.accessToken).not.toBe(before.tokens.accessToken)
      expect(after.tokens.refreshToken).not.toBe(before.tokens.refreshToken)
    })

    it('answers /favicon.ico 204, cacheable, without touching the session', async () => {
      const agent = createAgent()
      await login(agent, example.url, 'alice')
      for (const method of ['GET', 'HEAD']) {
        const icon = await agent.request(`${example.url}/favicon.ico`, { method, headers: { accept: 'image/avif,image/webp,image/*,*/*;q=0.8' } })
        expect([icon.status, icon.headers.get('cache-control'), icon.setCookies, icon.body]).toEqual([204, 'public, max-age=86400', [], ''])
      }
    })

    // the last test of this block: it stops the example
    it('stops on Ctrl-C (SIGINT to its process group) with exit 0, no ELIFECYCLE, its port and the dev provider\'s freed', async () => {
      const issuer = /dev provider at (http:\/\/127\.0\.0\.1:\d+)/.exec(example.output())![1]!
      // a browser's idle keep-alive connection must not hold the shutdown
      await (await fetch(`${example.url}/`, { headers: { connection: 'keep-alive' } })).text()
      expect(await example.stop('SIGINT')).toBe(0)
      expect(example.output()).not.toContain('ELIFECYCLE')
      for (const url of [issuer, example.url]) await expect(fetch(url)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } })
    })
  })
})

describe("the demo's own process", () => {
  it('ends with the example, even when the example is killed (SIGKILL: no clean stop)', async () => {
    const example = await startExample('fastify')
    try {
      const issuer = /dev provider at (http:\/\/127\.0\.0\.1:\d+)/.exec(example.output())![1]!
      expect((await fetch(`${issuer}/.well-known/openid-configuration`)).status).toBe(200)
      process.kill((await listenerPid(Number(new URL(example.url).port)))!, 'SIGKILL')
      // the provider's port is freed once its process sees the example gone (polled, bounded)
      const deadline = Date.now() + 10_000
      let refused = false
      while (!refused && Date.now() < deadline) {
        refused = await fetch(issuer).then(() => false, (error: { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED')
        if (!refused) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(refused).toBe(true)
    } finally {
      await example.stop()
    }
  }, 60_000)
})

describe('the demo with OAUTH_SESSION_STORE=memory OAUTH_BACKCHANNEL_LOGOUT=true', () => {
  it('registers its back-channel logout URI: signing out at the dev provider ends the session in the app (Fastify)', async () => {
    const example = await startExample('fastify', { OAUTH_SESSION_STORE: 'memory', OAUTH_BACKCHANNEL_LOGOUT: 'true' })
    try {
      const issuer = /dev provider at (http:\/\/127\.0\.0\.1:\d+)/.exec(example.output())![1]!
      const agent = createAgent()
      await login(agent, example.url, 'alice')
      expect((await agent.request(`${example.url}/me`, { headers: API })).status).toBe(200)
      // the user signs out at the provider, not in the app: its confirmation page, then "Yes, sign me out"
      const confirm = await agent.follow(`${issuer}/session/end?client_id=codegrant-demo`, { headers: HTML })
      const { action, fields } = formOf(confirm.last)
      fields.set('logout', 'yes')
      const done = await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() })
      expect(done.last.body).toContain('You have been signed out')
      expect((await agent.request(`${example.url}/me`, { headers: API })).status).toBe(401)
    } finally {
      await example.stop()
    }
  }, 60_000)
})

describe.each(['express', 'koa', 'fastify'])('the inspector of examples/%s with OAUTH_SESSION_STORE=memory', (name) => {
  it('lists the user\'s sessions and signs out the others, same-origin only', async () => {
    const example = await startExample(name, { OAUTH_SESSION_STORE: 'memory' })
    try {
      const [laptop, phone] = [createAgent({ headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' } }), createAgent()]
      for (const agent of [laptop, phone]) await login(agent, example.url, 'alice')
      expect((await laptop.request(`${example.url}/`, { headers: HTML })).body).toContain('data-call="POST /demo/sessions/end-others"')
      const listed = JSON.parse((await laptop.request(`${example.url}/demo/sessions`, { headers: API })).body) as { current: boolean; device?: string }[]
      expect(listed.map((session) => session.current).sort()).toEqual([false, true])
      expect(listed.find((session) => session.current)?.device).toBe('Firefox on Linux')
      const endOthers = (site: string) => laptop.request(`${example.url}/demo/sessions/end-others`, { method: 'POST', headers: { ...API, 'sec-fetch-site': site } })
      expect((await endOthers('cross-site')).status).toBe(403)
      expect((await phone.request(`${example.url}/me`, { headers: API })).status).toBe(200)
      const ended = await endOthers('same-origin')
      expect([ended.status, JSON.parse(ended.body)]).toEqual([200, { ended: 1 }])
      expect((await phone.request(`${example.url}/me`, { headers: API })).status).toBe(401)
      expect((await laptop.request(`${example.url}/me`, { headers: API })).status).toBe(200)
    } finally {
      await example.stop()
    }
  }, 60_000)
})

describe('an example with OTEL_TRACES_EXPORTER=console', () => {
  it('starts the OpenTelemetry Node SDK first: a login prints codegrant\'s spans, with the provider and outcome, never a token', async () => {
    const example = await startExample('express', { OTEL_TRACES_EXPORTER: 'console' })
    try {
      const agent = createAgent()
      await login(agent, example.url, 'alice')
      expect((await agent.request(`${example.url}/me`, { headers: API })).status).toBe(200)
      // the console exporter prints each span as it ends; the callback's ends before its redirect is answered
      const deadline = Date.now() + 10_000
      while (!example.output().includes("name: 'codegrant.callback'") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      const output = example.output()
      expect(output).toContain("name: 'codegrant.callback'")
      expect(output).toContain("name: 'codegrant.code_exchange'")
      expect(output).toContain("instrumentationScope: { name: '@codegrant/core'")
      expect(output).toContain("'service.name': 'codegrant-express-example'")
      expect(output).toMatch(/'codegrant\.provider': 'default'/)
      expect(output).not.toMatch(/eyJ[\w-]+\.eyJ/) // no JWT (ID token, access token) in what it printed
    } finally {
      await example.stop()
    }
  }, 60_000)
})
