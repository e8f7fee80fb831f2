/**
 * Calling APIs on the user's behalf (issue 20, `OAUTH_APIS`): each API gets a token of its own —
 * its `aud`, its scope — from the real dev provider (RFC 8707 refresh-token grants with
 * `resource`, RFC 8693 token exchange), checked by real resource servers on loopback
 * (support/apis.ts) as a real API checks them, through the suite's app on every framework version.
 */
import { TOKEN_EXCHANGE, type DevProvider } from '@codegrant/dev-provider'
import type { OAuthOptions } from '@codegrant/core'
import { redisStore, type RedisStore } from '@codegrant/redis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'

import { API, createAgent, HTML, login, type Agent, type Hop } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startTestApi, type TestApi } from './support/apis.js'
import { appOptions, captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A, startProvider } from './support/provider.js'
import { startRedis, type RedisServer } from './support/redis.js'
import { launchChromium } from './support/chromium.js'
import { MCP_SCOPE, startMcpServer, type TestMcpServer } from './support/mcp-server.js'
import * as cgExpress from '@codegrant/express'
import express5 from 'express5'
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

/** The API tokens' lifetime at the provider, seconds: the login's lasts 300. */
const API_TOKEN_TTL = 60
const SESSION = 'codegrant.session'

let stage: Stage
let dev: DevProvider
let orders: TestApi
let billing: TestApi
let shipping: TestApi
let secure: TestApi
let mcp: TestMcpServer
let redis: RedisServer | undefined
const opened: RedisStore[] = []

beforeAll(async () => {
  stage = await openStage()
  dev = await startProvider(stage.url, { tokenExchange: true })
  ;[orders, billing, shipping, secure, mcp] = await Promise.all([
    startTestApi({ provider: dev, name: 'orders', scopes: { read: 'orders:read', write: 'orders:write' }, accessTokenTtl: API_TOKEN_TTL }),
    startTestApi({ provider: dev, name: 'billing', scopes: { read: 'billing:read', write: 'billing:write' }, audience: 'billing-api', accessTokenTtl: API_TOKEN_TTL }),
    startTestApi({ provider: dev, name: 'shipping', scopes: { read: 'shipping:read', write: 'shipping:write' }, accessTokenTtl: API_TOKEN_TTL }),
    startTestApi({ provider: dev, name: 'secure', scopes: { read: 'secure:read', write: 'secure:write' }, dpop: true, accessTokenTtl: API_TOKEN_TTL }),
    startMcpServer(dev),
  ])
}, 30_000)

afterAll(async () => {
  await Promise.all(opened.map((store) => store.close()))
  await redis?.close()
  await Promise.all([orders?.close(), billing?.close(), shipping?.close(), secure?.close(), mcp?.close()])
  await dev?.close()
  await stage?.close()
})

afterEach(() => {
  vi.useRealTimers()
})

/** orders: a resource grant (RFC 8707); billing: token exchange for an audience (RFC 8693). */
const twoApis = (): OAuthOptions['apis'] => ({
  orders: { url: orders.url, resource: orders.resource, scope: 'orders:read' },
  billing: { url: `${billing.url}/`, audience: 'billing-api', scope: 'billing:read', token: 'exchange' },
})

let logs: ReturnType<typeof captureLogs>
let agent: Agent
beforeEach(() => {
  logs = captureLogs()
  agent = createAgent()
})

const mount = async (framework: Framework, extra: OAuthOptions) => stage.mount(await buildHandler(framework, appOptions(dev, stage.url, logs, extra), `${dev.issuer}/me`))
const get = (path: string, headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers })
const signIn = async () => expect((await login(agent, stage.url, 'alice')).last.status).toBe(200)
/** The tokens an API received from now on. */
const mark = (api: TestApi) => {
  const from = api.received.length
  return () => api.received.slice(from)
}
const distinct = (received: readonly { token: string }[]) => new Set(received.map((entry) => entry.token)).size
/** Every token the APIs ever received. */
const allTokens = () => [orders, billing, shipping, secure].flatMap((api) => api.received.map((entry) => entry.token))
/** No API token in what the app answered or logged. */
const expectNoToken = (hops: readonly Hop[]) => {
  for (const token of allTokens()) {
    for (const hop of hops) expect(hop.body).not.toContain(token)
    for (const line of logs.lines) expect(line).not.toContain(token)
  }
}
/**
 * An Express 5 app whose `GET /whoami` calls the MCP server's `whoami` tool with the official SDK's
 * client, every request of its transport going through `oauth.fetch` (which picks the API by URL).
 */
const mountMcpCaller = (apis: OAuthOptions['apis']) => {
  const app = express5()
  app.use(cgExpress.oauth(appOptions(dev, stage.url, logs, { apis })))
  app.get('/', (_req, res) => void res.send('home'))
  app.get('/whoami', cgExpress.requireAuth(), async (req, res) => {
    const client = new McpClient({ name: 'codegrant-app', version: '1' })
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { fetch: (url, init) => req.oauth.fetch(url, init) }))
    try {
      const result = await client.callTool({ name: 'whoami' })
      res.json(JSON.parse((result.content as { text: string }[])[0]!.text))
    } finally {
      await client.close()
    }
  })
  stage.mount(app)
}

const moveClock = (seconds: number) => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Date.now() + seconds * 1000)
}

/** orders by token exchange with both its scopes configured; `carol` is granted only what `allowed` lists (a user who did not consent to the rest). */
const ordersBoth = (): OAuthOptions['apis'] => ({ orders: { url: orders.url, resource: orders.resource, scope: 'orders:read orders:write', token: 'exchange' } })
const carol = (allowed: string[]) => dev.addUser({ sub: 'carol', name: 'Carol', email: 'carol@example.com', groups: [], scopes: ['openid', 'profile', 'email', 'offline_access', ...allowed] })
/** Follows a browser navigation to `path` through the provider (its login form submitted as `user` when it asks) and back. */
const navigate = async (path: string, user: string) => {
  const first = await agent.follow(`${stage.url}${path}`, { headers: HTML })
  if (!first.last.url.includes('/interaction/')) return first.hops
  const submitted = await agent.follow(first.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: user, password: 'x' }).toString() })
  return [...first.hops, ...submitted.hops]
}
const authorizeRequests = (hops: readonly Hop[]) => hops.filter((hop) => hop.url.startsWith(dev.issuer) && new URL(hop.url).searchParams.has('response_type')).map((hop) => new URL(hop.url).searchParams)

describe.each(FRAMEWORKS)('%s', (framework) => {
  it('two APIs each get a token with their own aud and scope, and never the other\'s; a second call uses the kept token', async () => {
    await mount(framework, { apis: twoApis() })
    await signIn()
    const [toOrders, toBilling] = [mark(orders), mark(billing)]
    const answers = [await get('/api/call/orders'), await get('/api/call/billing'), await get('/api/call/orders'), await get('/api/call/billing')]
    expect(answers.map((hop) => hop.status)).toEqual([200, 200, 200, 200])
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ api: 'orders', sub: 'alice', scope: 'orders:read' })
    expect(JSON.parse(answers[1]!.body)).toMatchObject({ api: 'billing', sub: 'alice', scope: 'billing:read' })
    // each API received one token, its own: its aud and scope, never the other's
    expect([distinct(toOrders()), distinct(toBilling())]).toEqual([1, 1])
    expect(toOrders().map((entry) => [entry.claims?.aud, entry.claims?.scope])).toEqual([[orders.audience, 'orders:read'], [orders.audience, 'orders:read']])
    expect(toBilling().map((entry) => [entry.claims?.aud, entry.claims?.scope])).toEqual([['billing-api', 'billing:read'], ['billing-api', 'billing:read']])
    expect(toOrders()[0]?.token).not.toBe(toBilling()[0]?.token)
    expect(await get('/api/api-token/orders')).toMatchObject({ status: 200, body: '{"token":true}' })
    expectNoToken(answers)
  })

  it("an API's insufficient_scope: a JSON client gets 403 with the login URL; a browser navigation goes through that login (the added scope asked) and back to the page, where the call succeeds", async () => {
    carol(['orders:read'])
    await mount(framework, { apis: ordersBoth() })
    expect((await login(agent, stage.url, 'carol')).last.status).toBe(200)
    const loginUrl = '/auth/login?returnTo=%2Fapi%2Fcall%2Forders%2Fpath%3Fpath%3D%2Fwrite&scope=orders%3Awrite'
    const json = await get('/api/call/orders/path?path=/write')
    expect([json.status, JSON.parse(json.body)]).toEqual([403, { error: 'codegrant/insufficient_scope', loginUrl }])
    // the user now grants what the API asks for
    carol(['orders:read', 'orders:write'])
    const hops = await navigate('/api/call/orders/path?path=/write', 'carol')
    expect([hops[0]!.status, hops[0]!.headers.get('location')]).toEqual([302, loginUrl])
    expect(authorizeRequests(hops).map((params) => params.get('scope')?.split(' ').includes('orders:write'))).toEqual([true])
    const last = hops.at(-1)!
    expect([last.url, last.status, JSON.parse(last.body)]).toEqual([`${stage.url}/api/call/orders/path?path=/write`, 200, expect.objectContaining({ api: 'orders', wrote: true })])
    expectNoToken([json, ...hops])
  })
})

describe('the wallet', () => {
  const framework: Framework = 'express5'

  it('token exchange (RFC 8693) presents the session\'s access token: one exchange for the API, the login token never sent to it', async () => {
    await mount(framework, { apis: twoApis() })
    await signIn()
    const exchanges = dev.count('grant.success', TOKEN_EXCHANGE)
    const toBilling = mark(billing)
    expect((await get('/api/call/billing')).status).toBe(200)
    expect((await get('/api/call/billing')).status).toBe(200)
    expect(dev.count('grant.success', TOKEN_EXCHANGE)).toBe(exchanges + 1)
    expect(toBilling().map((entry) => entry.claims?.aud)).toEqual(['billing-api', 'billing-api'])
  })

  it.each(['cookie', 'memory'] as const)('20 concurrent calls to two APIs after their tokens expired: exactly one grant per API (%s sessions)', async (sessionStore) => {
    await mount(framework, { apis: twoApis(), sessionStore })
    await signIn()
    expect((await get('/api/call/orders')).status).toBe(200)
    expect((await get('/api/call/billing')).status).toBe(200)
    moveClock(API_TOKEN_TTL + 5)
    const [toOrders, toBilling] = [mark(orders), mark(billing)]
    const calls = await Promise.all(Array.from({ length: 20 }, (_, index) => get(`/api/call/${index % 2 ? 'billing' : 'orders'}`)))
    expect(calls.map((hop) => `${hop.status} ${hop.status === 200 ? '' : hop.body}`.trim())).toEqual(Array(20).fill('200'))
    expect([toOrders().length, toBilling().length]).toEqual([10, 10])
    expect([distinct(toOrders()), distinct(toBilling())]).toEqual([1, 1])
    // the rotated refresh token was kept: the session goes on (another expiry, another grant)
    moveClock(API_TOKEN_TTL + 5)
    const again = await get('/api/call/orders')
    expect(again.status, again.body).toBe(200)
    expect(distinct(toOrders())).toBe(2)
  })

  it('DPoP-bound sessions get DPoP-bound API tokens, sent with a proof of the session\'s key', async () => {
    await mount(framework, { dpop: true, apis: { secure: { url: secure.url, resource: secure.resource, scope: 'secure:read' } } })
    await signIn()
    const toSecure = mark(secure)
    const answer = await get('/api/call/secure')
    expect(answer.status, answer.body).toBe(200)
    expect(toSecure().map((entry) => entry.scheme)).toEqual(['DPoP'])
    expect((toSecure()[0]?.claims?.cnf as { jkt?: string } | undefined)?.jkt).toMatch(/^[\w-]{43}$/)
  })

  it('logout revokes every API token, then the refresh token', async () => {
    await mount(framework, { apis: twoApis() })
    await signIn()
    expect((await get('/api/call/orders')).status).toBe(200)
    expect((await get('/api/call/billing')).status).toBe(200)
    const revocations = () => dev.events.filter((event) => event.name.startsWith('revocation.')).map((event) => event.error ?? event.tokenType ?? 'unknown')
    const before = revocations().length
    const out = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, 'sec-fetch-site': 'same-origin' } })
    expect(out.status).toBe(302)
    // the provider was asked to revoke both API tokens (oidc-provider cannot revoke its JWT access
    // tokens: RFC 7009 unsupported_token_type), then the refresh token, which ends their grant
    expect(revocations().slice(before)).toEqual(['unsupported_token_type', 'unsupported_token_type', 'refresh_token'])
    expect(logs.lines.filter((line) => line.includes('revocation'))).toEqual([])
    expect((await get('/api/call/orders')).status).toBe(401)
  })

  it('oauth.fetch(url) sends the token of the API whose base URL holds the URL', async () => {
    await mount(framework, { apis: twoApis() })
    await signIn()
    const toOrders = mark(orders)
    const answer = await get(`/api/fetch-url?url=${encodeURIComponent(`${orders.url}/items`)}`)
    expect(answer.status).toBe(200)
    expect(toOrders().map((entry) => [entry.path, entry.claims?.aud])).toEqual([['/items', orders.audience]])
  })

  it.each(['../x', '..%2fx', '%2e%2e/x', 'a/%2E%2E/%2e%2e/x', 'a%2fb', '..\\x', '//evil.example/x', 'http://evil.example/x'])('a path that leaves the API\'s base URL is refused before anything is sent: %s', async (path) => {
    await mount(framework, { apis: { orders: { url: `${orders.url}/v1`, resource: orders.resource, scope: 'orders:read' } } })
    await signIn()
    const toOrders = mark(orders)
    const answer = await get(`/api/call/orders/path?path=${encodeURIComponent(path)}`)
    expect(answer.status).toBe(500)
    expect(JSON.parse(answer.body)).toEqual({ error: 'codegrant/origin_not_allowed' })
    expect(toOrders()).toEqual([])
  })

  it("an MCP server of the official SDK, called by the SDK's own client through oauth.fetch: its token is for the MCP resource alone", async () => {
    mountMcpCaller({ ...twoApis(), mcp: { url: mcp.url, resource: mcp.resource, scope: MCP_SCOPE } })
    await signIn()
    const from = mcp.received.length
    const answer = await get('/whoami')
    expect([answer.status, JSON.parse(answer.body)]).toEqual([200, { sub: 'alice', scopes: [MCP_SCOPE] }])
    const sent = mcp.received.slice(from)
    expect(new Set(sent).size).toBe(1)
    expect(allTokens()).not.toContain(sent[0])
  })

  it("a refused grant's error holds no token at any depth (message, stack, causes, properties), nor do the logs or the answer", async () => {
    const app = express5()
    // billing asks for a scope it does not define: the provider refuses the exchange (invalid_scope)
    app.use(cgExpress.oauth(appOptions(dev, stage.url, logs, { apis: { ...twoApis(), billing: { url: billing.url, audience: 'billing-api', scope: 'billing:admin', token: 'exchange' } } })))
    let caught: unknown
    let held: string[] = []
    app.get('/', (_req, res) => void res.send('home'))
    app.get('/call', async (req, res) => {
      const tokens = req.oauth.tokens!
      held = [tokens.accessToken, tokens.refreshToken!, tokens.idToken!, await req.oauth.accessToken('orders')]
      try {
        await req.oauth.fetch('billing', '/')
        res.json({ ok: true })
      } catch (error) {
        caught = error
        const { status = 500, code = 'internal' } = error as { status?: number; code?: string }
        res.status(status).json({ error: code, message: (error as Error).message })
      }
    })
    stage.mount(app)
    await signIn()
    const answer = await get('/call')
    expect(answer.status).toBe(502)
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'codegrant/provider_error', message: 'The provider refused a token for the API billing.' })
    expect(held.every((token) => token.length > 20)).toBe(true)
    const text = everything(caught)
    for (const token of held) {
      expect(text).not.toContain(token)
      expect(answer.body).not.toContain(token)
      for (const line of logs.lines) expect(line).not.toContain(token)
    }
    expect(logs.lines.some((line) => line.includes('OAUTH_BILLING_SCOPE'))).toBe(true)
  })

  it('a resource grant refused for good (the grant was revoked at the provider) ends the session, as a refused refresh does', async () => {
    const app = express5()
    app.use(cgExpress.oauth(appOptions(dev, stage.url, logs, { apis: twoApis() })))
    let refreshToken = ''
    app.get('/', (req, res) => void res.send(req.oauth.isAuthenticated ? 'signed in' : 'signed out'))
    app.get('/grab', (req, res) => void res.json({ grabbed: (refreshToken = req.oauth.tokens?.refreshToken ?? '').length > 0 }))
    app.get('/call', async (req, res) => {
      try {
        res.status((await req.oauth.fetch('orders', '/')).status).end()
      } catch (error) {
        res.status((error as { status: number }).status).json({ error: (error as { code: string }).code })
      }
    })
    stage.mount(app)
    await signIn()
    expect(JSON.parse((await get('/grab')).body)).toEqual({ grabbed: true })
    const revocation = await fetch(`${dev.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
    })
    expect(revocation.status).toBe(200)
    const refused = await get('/call')
    expect([refused.status, JSON.parse(refused.body)]).toEqual([401, { error: 'codegrant/session_ended' }])
    expect(refused.setCookies.some((line) => line.startsWith(`${SESSION}=`) && /Max-Age=0/i.test(line))).toBe(true)
    expect((await get('/', HTML)).body).toBe('signed out')
  })

  describe('what an API asks for (RFC 6750 insufficient_scope, RFC 9470 step-up), turned into the next step', () => {

    it('a JSON client gets 403 codegrant/insufficient_scope with the login URL that asks for the scope and comes back to the page', async () => {
      carol(['orders:read'])
      await mount(framework, { apis: ordersBoth() })
      expect((await login(agent, stage.url, 'carol')).last.status).toBe(200)
      const toOrders = mark(orders)
      const answer = await get('/api/call/orders/path?path=/write')
      expect(answer.status).toBe(403)
      const body = JSON.parse(answer.body) as { error: string; loginUrl: string }
      expect(body.error).toBe('codegrant/insufficient_scope')
      const loginUrl = new URL(body.loginUrl, stage.url)
      expect([loginUrl.pathname, loginUrl.searchParams.get('scope'), loginUrl.searchParams.get('returnTo')]).toEqual(['/auth/login', 'orders:write', '/api/call/orders/path?path=/write'])
      // one call, no retry: the API's answer is the error
      expect(toOrders().map((entry) => [entry.status, entry.claims?.scope])).toEqual([[403, 'orders:read']])
      expectNoToken([answer])
    })


    it('in Chromium: the page whose API call lacks a scope goes through the consent for it and comes back, where the call succeeds', async () => {
      carol(['orders:read'])
      await mount(framework, { apis: ordersBoth() })
      const browser = await launchChromium()
      try {
        const page = await browser.newPage()
        const signIn = async () => {
          if (!page.url().includes('/interaction/')) return
          await page.getByLabel('Username').fill('carol')
          await page.getByLabel(/^Password/).fill('anything')
          await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        }
        await page.goto(`${stage.url}/auth/login?returnTo=%2Fapi%2Fcall%2Forders`)
        await signIn()
        await page.waitForURL(`${stage.url}/api/call/orders`)
        expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ api: 'orders', scope: 'orders:read' })
        // the user now grants what the API asks for; the page that writes sends the browser through that login
        carol(['orders:read', 'orders:write'])
        const asked: string[] = []
        page.on('request', (request) => {
          if (request.url().startsWith(dev.issuer) && new URL(request.url()).searchParams.has('response_type')) asked.push(new URL(request.url()).searchParams.get('scope') ?? '')
        })
        await page.goto(`${stage.url}/api/call/orders/path?path=/write`)
        await signIn()
        await page.waitForURL(`${stage.url}/api/call/orders/path?path=/write`)
        expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ api: 'orders', wrote: true, scope: 'orders:read orders:write' })
        expect(asked.map((scope) => scope.split(' ').includes('orders:write'))).toEqual([true])
      } finally {
        await browser.close()
      }
    })

    it('never a loop: when the provider still does not grant the scope, the page gets the 403 without a second login', async () => {
      carol(['orders:read'])
      await mount(framework, { apis: ordersBoth() })
      expect((await login(agent, stage.url, 'carol')).last.status).toBe(200)
      const hops = await navigate('/api/call/orders/path?path=/write', 'carol')
      expect(authorizeRequests(hops)).toHaveLength(1)
      const last = hops.at(-1)!
      expect([last.url, last.status, JSON.parse(last.body)]).toEqual([`${stage.url}/api/call/orders/path?path=/write`, 403, { error: 'codegrant/insufficient_scope' }])
    })

    it.each([
      ['a scope the app does not configure', 'admin'],
      ['a configured scope with one it does not', 'orders:write admin'],
      ['no scope token', '"orders:write"'],
    ])('the login route adds only configured scopes: %s is not asked for', async (_what, scope) => {
      await mount(framework, { apis: ordersBoth() })
      const scopeOf = (hop: Hop) => new URL(hop.headers.get('location')!).searchParams.get('scope')!.split(' ')
      // a configured scope alone is added (orders:write, which the login does not ask for otherwise)
      expect(scopeOf(await get('/auth/login', HTML))).not.toContain('orders:write')
      expect(scopeOf(await get('/auth/login?scope=orders%3Awrite', HTML))).toContain('orders:write')
      const start = await get(`/auth/login?scope=${encodeURIComponent(scope)}`, HTML)
      expect(start.status).toBe(302)
      const asked = scopeOf(start)
      expect(asked).not.toContain('admin')
      expect(asked).not.toContain('orders:write')
      expect(asked.some((name) => name.includes('"'))).toBe(false)
    })

    it("an API that configured scopes cannot grant: 403 without a login URL (orders:write is not the app's)", async () => {
      await mount(framework, { apis: { orders: { url: orders.url, resource: orders.resource, scope: 'orders:read', token: 'exchange' } } })
      await signIn()
      const answer = await get('/api/call/orders/path?path=/write')
      expect([answer.status, JSON.parse(answer.body)]).toEqual([403, { error: 'codegrant/insufficient_scope' }])
    })

    it("step-up from an API's challenge (insufficient_user_authentication, max_age): a login with max_age for the same user, back to the page, where the call succeeds; never a loop", async () => {
      await mount(framework, { apis: twoApis() })
      await signIn()
      const fresh = await get('/api/call/orders/path?path=/recent')
      expect(fresh.status).toBe(200)
      // two minutes on, the API asks for an authentication of the last 60 seconds, which the session no longer has
      moveClock(120)
      const toOrders = mark(orders)
      const loginUrl = '/auth/login?returnTo=%2Fapi%2Fcall%2Forders%2Fpath%3Fpath%3D%2Frecent&maxAge=60'
      const json = await get('/api/call/orders/path?path=/recent')
      expect([json.status, JSON.parse(json.body)]).toEqual([401, { error: 'codegrant/step_up_required', loginUrl }])
      const hops = await navigate('/api/call/orders/path?path=/recent', 'alice')
      expect([hops[0]!.status, hops[0]!.headers.get('location')]).toEqual([302, loginUrl])
      // one step-up login, max_age=60: the provider asked alice to sign in again
      expect(authorizeRequests(hops).map((params) => params.get('max_age'))).toEqual(['60'])
      expect(hops.some((hop) => hop.url.includes('/interaction/'))).toBe(true)
      const last = hops.at(-1)!
      expect([last.url, last.status, JSON.parse(last.body).auth_time]).toEqual([`${stage.url}/api/call/orders/path?path=/recent`, 200, expect.any(Number)])
      // each refused call sent once: a refreshed token would not meet the challenge
      expect(toOrders().map((entry) => entry.status)).toEqual([401, 401, 200])
    })

    it('never a loop for a step-up either: when the API still refuses a session that meets what it named, 401 without a login URL', async () => {
      // its tokens by exchange carry no auth_time (the dev provider has none to give there): the API always asks
      await mount(framework, { apis: ordersBoth() })
      await signIn()
      const toOrders = mark(orders)
      // the session's ID token named no auth_time: one step-up is offered
      const answer = await get('/api/call/orders/path?path=/recent')
      expect([answer.status, JSON.parse(answer.body).loginUrl]).toEqual([401, expect.stringContaining('maxAge=60')])
      const hops = await navigate('/api/call/orders/path?path=/recent', 'alice')
      expect(authorizeRequests(hops).map((params) => params.get('max_age'))).toEqual(['60'])
      // back on the page the API still refuses, and the session now meets max_age: the 401 stands
      const last = hops.at(-1)!
      expect([last.url, last.status, JSON.parse(last.body)]).toEqual([`${stage.url}/api/call/orders/path?path=/recent`, 401, { error: 'codegrant/step_up_required' }])
      expect(toOrders().map((entry) => entry.status)).toEqual([401, 401, 401])
    })
  })

  describe('RFC 9728: an API that names no resource says what it needs', () => {
    afterEach(() => {
      shipping.setMetadata({})
    })

    it("its 401 names its metadata: the token is asked for its resource (by exchange, which the provider offers), the call made once more, and the API's next calls use it at once", async () => {
      await mount(framework, { apis: { shop: { url: shipping.url } } })
      await signIn()
      const toShipping = mark(shipping)
      const exchanges = dev.count('grant.success', TOKEN_EXCHANGE)
      const first = await get('/api/call/shop')
      expect([first.status, JSON.parse(first.body)]).toEqual([200, expect.objectContaining({ api: 'shipping', sub: 'alice', scope: 'shipping:read shipping:write' })])
      // the session's token first (refused), then the API's own
      expect(toShipping().map((entry) => [entry.status, entry.claims?.aud ?? 'opaque'])).toEqual([[401, 'opaque'], [200, shipping.audience]])
      expect((await get('/api/call/shop')).status).toBe(200)
      expect(toShipping().slice(2).map((entry) => [entry.status, entry.claims?.aud])).toEqual([[200, shipping.audience]])
      expect(distinct(toShipping().slice(1))).toBe(1)
      expect(dev.count('grant.success', TOKEN_EXCHANGE)).toBe(exchanges + 1)
    })

    it.each([
      ['names an authorization server the app does not use', { authorization_servers: ['https://as.evil.example'] }],
      ['is the metadata of another resource', { resource: 'https://other.example/api' }],
    ])('refused when its metadata %s: 502 codegrant/resource_metadata_invalid, no token asked for anywhere', async (_what, metadata) => {
      shipping.setMetadata(metadata)
      await mount(framework, { apis: { shop: { url: shipping.url } } })
      await signIn()
      const grants = dev.events.filter((event) => event.name === 'grant.success').length
      const answer = await get('/api/call/shop')
      expect([answer.status, JSON.parse(answer.body)]).toEqual([502, { error: 'codegrant/resource_metadata_invalid' }])
      expect(dev.events.filter((event) => event.name === 'grant.success').length).toBe(grants)
      expect(logs.lines.filter((line) => line.includes('protected resource metadata that was refused'))).toHaveLength(1)
    })

    it("the official MCP SDK's server, configured by its URL alone: its path-specific metadata gives its resource and scope", async () => {
      mountMcpCaller({ tools: { url: mcp.url } })
      await signIn()
      const answer = await get('/whoami')
      expect([answer.status, JSON.parse(answer.body)]).toEqual([200, { sub: 'alice', scopes: [MCP_SCOPE] }])
    })
  })

  it('a name OAUTH_APIS does not list is the app\'s error, naming the ones it lists', async () => {
    await mount(framework, { apis: twoApis() })
    await signIn()
    const answer = await get('/api/call/payroll')
    expect(answer.status).toBe(500)
  })

  it('three API tokens in a cookie session: measured, and when they no longer fit the session is written without them and they are kept in process, with a warning naming OAUTH_SESSION_STORE', async () => {
    const three = { ...twoApis(), shipping: { url: shipping.url, resource: shipping.resource, scope: 'shipping:read' } }
    await mount(framework, { apis: three })
    await signIn()
    const sessionBytes = () => [...agent.cookies(stage.url)].filter(([name]) => name.startsWith(SESSION)).reduce((sum, [name, value]) => sum + name.length + value.length + 1, 0)
    const before = sessionBytes()
    for (const api of ['orders', 'billing', 'shipping']) expect((await get(`/api/call/${api}`)).status).toBe(200)
    const after = sessionBytes()
    console.info(`session cookie: ${before} bytes signed in, ${after} bytes with three API tokens`)
    expect(after).toBeGreaterThan(before + 1500)
    expect(after).toBeLessThan(13 * 1024)

    // app data that leaves no room for them: the API still answers, the token is not asked for twice
    const padding = 'x'.repeat(8_500)
    await mount(framework, { apis: three, onLogin: () => ({ data: { padding } }) })
    agent = createAgent()
    await signIn()
    const toOrders = mark(orders)
    const calls = [await get('/api/call/orders'), await get('/api/call/billing'), await get('/api/call/shipping'), await get('/api/call/orders')]
    expect(calls.map((hop) => hop.status)).toEqual([200, 200, 200, 200])
    expect(distinct(toOrders())).toBe(1)
    expect(logs.lines.filter((line) => line.includes('OAUTH_SESSION_STORE') && line.includes('no room for the API tokens'))).toHaveLength(1)
    expect(sessionBytes()).toBeLessThan(13 * 1024)
  })

  it('two instances sharing Redis share the wallet: 20 concurrent calls over both after expiry, one grant per API', async () => {
    redis ??= await startRedis()
    const prefix = `wallet-${Date.now()}:`
    const client = () => {
      const store = redisStore({ url: redis!.url, prefix, logger: { warn: () => undefined, error: () => undefined } })
      opened.push(store)
      return store
    }
    const handlers = await Promise.all([0, 1].map(() => buildHandler(framework, appOptions(dev, stage.url, logs, { apis: twoApis(), sessionStore: client() }), `${dev.issuer}/me`)))
    stage.mount((req, res) => handlers[Number(req.headers['x-instance'] ?? 0)]!(req, res))
    await signIn()
    const on = (which: number, path: string) => agent.request(`${stage.url}${path}`, { headers: { ...API, 'x-instance': String(which) } })
    const [toOrders, toBilling] = [mark(orders), mark(billing)]
    const calls = await Promise.all(Array.from({ length: 20 }, (_, index) => on(index % 2, `/api/call/${index % 4 < 2 ? 'orders' : 'billing'}`)))
    expect(calls.map((hop) => `${hop.status} ${hop.status === 200 ? '' : hop.body}`.trim())).toEqual(Array(20).fill('200'))
    expect([distinct(toOrders()), distinct(toBilling())]).toEqual([1, 1])
    moveClock(API_TOKEN_TTL + 5)
    const later = await Promise.all(Array.from({ length: 20 }, (_, index) => on(index % 2, `/api/call/${index % 4 < 2 ? 'orders' : 'billing'}`)))
    expect(later.map((hop) => `${hop.status} ${hop.status === 200 ? '' : hop.body}`.trim())).toEqual(Array(20).fill('200'))
    expect([distinct(toOrders()), distinct(toBilling())]).toEqual([2, 2])
    expectNoToken([...calls, ...later])
  }, 30_000)
})

/** Every string reachable from `value`: own properties (enumerable or not: an error's message, stack, cause), headers. */
function everything(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value
  if (typeof value !== 'object' || value === null || seen.has(value)) return ''
  seen.add(value)
  if (value instanceof Headers) {
    const lines: string[] = []
    value.forEach((header, name) => lines.push(`${name}: ${header}`))
    return lines.join('\n')
  }
  // an error's message, stack and cause are own properties
  return Object.getOwnPropertyNames(value).map((key) => everything((value as Record<string, unknown>)[key], seen)).join('\n')
}

// secrets the app was given never show up either
afterEach(() => {
  for (const line of logs.lines) {
    expect(line).not.toContain(CLIENT_SECRET)
    expect(line).not.toContain(SECRET_A)
  }
})
