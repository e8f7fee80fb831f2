/**
 * The backend-for-frontend (issue 21, `OAUTH_BFF`): `GET /bff/session` and the proxy
 * `/bff/<api>/*`, on every framework version, against the real dev provider, real resource servers
 * (support/apis.ts) and an echo API on loopback that shows what reached it.
 */
import { createHash } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DevProvider } from '@codegrant/dev-provider'
import type { OAuthOptions } from '@codegrant/core'
import * as cgExpress from '@codegrant/express'
import express5 from 'express5'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'

import { API, createAgent, HTML, login, type Agent, type Hop } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startTestApi, type TestApi } from './support/apis.js'
import { appOptions, captureLogs, startProvider } from './support/provider.js'

const CSRF = { 'x-csrf': '1' }
/**
 * A JWT in clear (its header and payload, both JSON objects, start `eyJ`). Not a bare `eyJ`: a
 * sealed cookie's random base64url holds those three characters about once in a hundred cookies.
 */
const JWT = /eyJ[\w-]*\.eyJ/

/** The echo API's `/large` answer: 4 MB, not all one byte. */
const LARGE = Buffer.alloc(4 * 1024 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789')

/** What the echo API saw of one request. */
interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  bodyHash: string
  bodyLength: number
  /** The port of the connection it came on (the same for requests on one pooled connection). */
  remotePort: number
}

/**
 * An API that answers what it received (method, path and query, headers, the body's hash), with
 * hop-by-hop headers and a cookie of its own in its answer; `/slow` answers after 3 s, `/flaky?…`
 * 401 the first time it sees its URL, `/reset` sends its headers and part of its body and then
 * resets the connection, `/large` answers 4 MB.
 */
async function startEcho(): Promise<{ url: string; seen: Seen[]; receiving: Map<string, number>; close(): Promise<void> }> {
  const seen: Seen[] = []
  /** The bytes of each URL's body received so far, while it arrives. */
  const receiving = new Map<string, number>()
  const refusedOnce = new Set<string>()
  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256')
    let length = 0
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      length += chunk.length
      receiving.set(req.url ?? '', length)
    })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyHash: hash.digest('hex'), bodyLength: length, remotePort: req.socket.remotePort ?? 0 })
      const answer = () => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'set-cookie': 'api_session=leak; Path=/',
          'keep-alive': 'timeout=99',
          'x-upstream': 'echo',
          'proxy-authenticate': 'Basic',
        })
        res.end(JSON.stringify(seen.at(-1)))
      }
      if (req.url?.startsWith('/base/flaky') && !refusedOnce.has(req.url)) {
        refusedOnce.add(req.url)
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' })
        res.end('{"error":"invalid_token"}')
      } else if (req.url?.startsWith('/base/slow')) setTimeout(answer, 3000)
      else if (req.url?.startsWith('/base/reset')) {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('x'.repeat(64 * 1024))
        setTimeout(() => req.socket.resetAndDestroy(), 100)
      } else if (req.url?.startsWith('/base/large')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.end(LARGE)
      } else answer()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    receiving,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

let stage: Stage
let dev: DevProvider
let orders: TestApi
let billing: TestApi
let echo: Awaited<ReturnType<typeof startEcho>>
/** A port nothing listens on: an API that is down. */
let downUrl: string

beforeAll(async () => {
  stage = await openStage()
  dev = await startProvider(stage.url, { tokenExchange: true })
  ;[orders, billing, echo] = await Promise.all([
    startTestApi({ provider: dev, name: 'orders', scopes: { read: 'orders:read', write: 'orders:write' } }),
    startTestApi({ provider: dev, name: 'billing', scopes: { read: 'billing:read', write: 'billing:write' }, audience: 'billing-api' }),
    startEcho(),
  ])
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
  await new Promise((resolve) => closed.close(resolve))
}, 30_000)

afterAll(async () => {
  await Promise.all([orders?.close(), billing?.close(), echo?.close()])
  await dev?.close()
  await stage?.close()
})

const apis = (): OAuthOptions['apis'] => ({
  orders: { url: `${orders.url}/`, resource: orders.resource, scope: 'orders:read orders:write' },
  billing: { url: `${billing.url}/`, audience: 'billing-api', scope: 'billing:read', token: 'exchange' },
  echo: { url: `${echo.url}/base/` },
  down: { url: `${downUrl}/` },
})

afterEach(() => {
  vi.useRealTimers()
})

let logs: ReturnType<typeof captureLogs>
let agent: Agent
beforeEach(() => {
  logs = captureLogs()
  agent = createAgent()
})

const mount = async (framework: Framework, extra: OAuthOptions = {}) =>
  stage.mount(await buildHandler(framework, appOptions(dev, stage.url, logs, { bff: true, apis: apis(), httpTimeout: 1000, ...extra }), `${dev.issuer}/me`))
const signIn = async () => expect((await login(agent, stage.url, 'alice')).last.status).toBe(200)
const bff = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
  agent.request(`${stage.url}${path}`, { ...init, headers: { ...API, ...CSRF, ...init.headers } })

/** What the silent login's result page posts to the SPA, read from its JSON data block. */
function postedBy(page: Hop): unknown {
  const data = /<script type="application\/json" id="codegrant-result">([^<]*)<\/script>/.exec(page.body)
  if (!data) throw new Error(`no result on ${page.status} ${page.url}: ${page.body.slice(0, 300)}`)
  return JSON.parse(data[1]!)
}

/** The result page's own script is the one its CSP allows (by hash), and nothing else runs. */
function expectStrictPage(page: Hop): void {
  const csp = page.headers.get('content-security-policy') ?? ''
  const scripts = [...page.body.matchAll(/<script>([^<]*)<\/script>/g)].map((match) => match[1]!)
  expect(scripts).toHaveLength(1)
  expect(csp).toContain(`script-src 'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}';`)
  expect(csp).toContain("default-src 'none'")
  expect(csp).toContain("frame-ancestors 'self'")
  expect(csp).not.toContain('unsafe')
  expect(page.headers.get('cache-control')).toBe('no-store')
  // it posts to this origin only, never to any
  expect(scripts[0]).toContain('postMessage(result,window.location.origin)')
  expect(page.body).not.toMatch(JWT)
  expect(page.body).not.toMatch(/access_token|refresh_token/)
}

/** A request sent byte for byte (fetch would resolve `..` and re-encode the path), with the agent's cookies. */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const cookie = [...agent.cookies(stage.url)].map(([name, value]) => `${name}=${value}`).join('; ')
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${stage.url}/`, { path, headers: { ...API, ...CSRF, cookie, ...headers } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe.each(FRAMEWORKS)('%s', (framework) => {
  it('GET /bff/session: signed out, then signed in, as JSON with no token, not cached', async () => {
    await mount(framework)
    const out = await agent.request(`${stage.url}/bff/session`, { headers: API })
    expect(out.status).toBe(200)
    expect(out.headers.get('cache-control')).toBe('no-store')
    expect(JSON.parse(out.body)).toEqual({ isAuthenticated: false, user: null, provider: null, session: null, loginUrl: '/auth/login', logoutUrl: '/auth/logout', csrfHeader: { name: 'X-Csrf', value: '1' } })
    await signIn()
    // no anti-forgery header needed: it only reads
    const signedIn = await agent.request(`${stage.url}/bff/session`, { headers: API })
    expect(signedIn.status).toBe(200)
    expect(signedIn.headers.get('cache-control')).toBe('no-store')
    const body = JSON.parse(signedIn.body) as { isAuthenticated: boolean; user: { sub: string }; provider: string; session: { expiresAt: number; idleExpiresAt: number } }
    expect(body).toMatchObject({ isAuthenticated: true, user: { sub: 'alice' }, provider: 'default', loginUrl: '/auth/login', logoutUrl: '/auth/logout' })
    const at = Math.floor(Date.now() / 1000)
    expect(body.session.expiresAt).toBeGreaterThan(at + 6 * 24 * 3600)
    expect(body.session.idleExpiresAt).toBeGreaterThan(at + 23 * 3600)
    for (const word of ['access_token', 'refresh_token', 'id_token', 'accessToken', 'refreshToken']) expect(signedIn.body).not.toContain(word)
    expect(signedIn.body).not.toMatch(JWT)
  })

  it('GET /bff/session renews the idle window like any request', async () => {
    await mount(framework)
    await signIn()
    const before = JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body) as { session: { idleExpiresAt: number } }
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 2 * 3600 * 1000)
    const later = await agent.request(`${stage.url}/bff/session`, { headers: API })
    expect(later.setCookies.some((line) => line.startsWith('codegrant.session='))).toBe(true)
    const after = JSON.parse(later.body) as { isAuthenticated: boolean; session: { idleExpiresAt: number } }
    expect(after.isAuthenticated).toBe(true)
    expect(after.session.idleExpiresAt).toBeGreaterThanOrEqual(before.session.idleExpiresAt + 2 * 3600 - 5)
  })

  it('GET /bff/silent-login: prompt=none; no session at the provider → the page posts ok:false login_required, no session', async () => {
    await mount(framework)
    const round = await agent.follow(`${stage.url}/bff/silent-login`, { headers: HTML })
    const authorize = new URL(round.hops[0]!.headers.get('location')!)
    expect([round.hops[0]!.status, authorize.origin, authorize.searchParams.get('prompt')]).toEqual([302, new URL(dev.issuer).origin, 'none'])
    const page = round.last
    expect([page.status, new URL(page.url).pathname]).toEqual([200, '/auth/callback'])
    expect(postedBy(page)).toEqual({ type: 'codegrant:silent-login', ok: false, error: 'login_required' })
    expectStrictPage(page)
    // no session, and the attempt's transaction cookie is gone: nothing to loop on
    expect(page.setCookies.some((line) => line.startsWith('codegrant.session='))).toBe(false)
    expect([...agent.cookies(stage.url).keys()].filter((name) => name.startsWith('codegrant.'))).toEqual([])
    expect(JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body).isAuthenticated).toBe(false)
  })

  it('GET /bff/silent-login with a session at the provider: the page posts ok:true and the session starts, without a form', async () => {
    await mount(framework)
    await signIn()
    // signed out here, still signed in at the provider
    agent.deleteCookie(stage.url, 'codegrant.session')
    expect(JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body).isAuthenticated).toBe(false)
    const round = await agent.follow(`${stage.url}/bff/silent-login`, { headers: { ...HTML, 'sec-fetch-site': 'same-origin' } })
    expect(round.hops.some((hop) => hop.url.includes('/interaction/'))).toBe(false)
    expect(postedBy(round.last)).toEqual({ type: 'codegrant:silent-login', ok: true })
    expectStrictPage(round.last)
    const session = JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body) as { isAuthenticated: boolean; user: { sub: string } }
    expect([session.isAuthenticated, session.user.sub]).toEqual([true, 'alice'])
  })

  it('GET /bff/silent-login declined while signed in here: ok:false, the session is left as it was', async () => {
    await mount(framework)
    await signIn()
    // the provider forgot the user (its cookies share the host with the app's: drop only its own)
    for (const name of [...agent.cookies(stage.url).keys()]) if (!name.startsWith('codegrant.')) agent.deleteCookie(stage.url, name)
    const round = await agent.follow(`${stage.url}/bff/silent-login`, { headers: HTML })
    expect(postedBy(round.last)).toEqual({ type: 'codegrant:silent-login', ok: false, error: 'login_required' })
    expect(round.last.setCookies.filter((line) => line.startsWith('codegrant.session'))).toEqual([])
    const session = JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body) as { isAuthenticated: boolean; user: { sub: string } }
    expect([session.isAuthenticated, session.user.sub]).toEqual([true, 'alice'])
  })

  it('GET /bff/silent-login: a callback that fails is told to the SPA on the page (ok:false with the code), no session', async () => {
    await mount(framework)
    await signIn()
    agent.deleteCookie(stage.url, 'codegrant.session')
    const toCallback = await agent.follow(`${stage.url}/bff/silent-login`, { headers: HTML }, (next) => next.startsWith(`${stage.url}/auth/callback`))
    const tampered = new URL(toCallback.stoppedAt!)
    tampered.searchParams.set('code', 'not-the-code')
    const page = await agent.request(tampered.href, { headers: HTML })
    expect(postedBy(page)).toEqual({ type: 'codegrant:silent-login', ok: false, error: 'codegrant/invalid_grant' })
    expectStrictPage(page)
    expect(page.setCookies.some((line) => line.startsWith('codegrant.session='))).toBe(false)
  })

  it('GET /bff/silent-login opened by another origin, or not a GET: refused, nothing started', async () => {
    await mount(framework)
    for (const site of ['cross-site', 'same-site']) {
      const hop = await agent.request(`${stage.url}/bff/silent-login`, { headers: { ...HTML, 'sec-fetch-site': site } })
      expect(hop.status).toBe(403)
      expect(hop.headers.get('location')).toBeNull()
      expect(hop.setCookies).toEqual([])
    }
    const posted = await agent.request(`${stage.url}/bff/silent-login`, { method: 'POST', headers: { ...CSRF }, body: '' })
    expect(posted.status).toBe(405)
    expect(posted.setCookies).toEqual([])
  })

  it("POST /auth/logout from the SPA's fetch (same-origin fetch metadata, the anti-forgery header): the session ends; from another origin it does not", async () => {
    await mount(framework)
    await signIn()
    const foreign = await bff('/auth/logout', { method: 'POST', headers: { 'sec-fetch-site': 'same-site' } })
    expect(foreign.status).toBe(403)
    expect(JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body).isAuthenticated).toBe(true)
    const out = await bff('/auth/logout', { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } })
    expect(out.status).toBe(302)
    expect(JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body).isAuthenticated).toBe(false)
  })

  it('the proxy sends each API its own token and answers what the API answered', async () => {
    await mount(framework)
    await signIn()
    const [fromOrders, fromBilling] = [orders.received.length, billing.received.length]
    const items = await bff('/bff/orders/items')
    expect(items.status).toBe(200)
    expect(JSON.parse(items.body)).toEqual({ api: 'orders', items: [{ id: 1 }, { id: 2 }] })
    const created = await bff('/bff/orders/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":3}' })
    expect(created.status).toBe(201)
    const root = await bff('/bff/billing/')
    expect(JSON.parse(root.body)).toMatchObject({ api: 'billing', sub: 'alice' })
    expect(orders.received.slice(fromOrders).map((entry) => [entry.method, entry.claims?.aud])).toEqual([['GET', orders.audience], ['POST', orders.audience]])
    expect(billing.received.slice(fromBilling).map((entry) => entry.claims?.aud)).toEqual(['billing-api'])
    for (const hop of [items, created, root]) expect(hop.headers.get('set-cookie') ?? '').not.toMatch(JWT)
  })

  it('anti-forgery: no header, another value, cross-site or same-site fetch metadata → 403, nothing forwarded', async () => {
    await mount(framework)
    await signIn()
    const before = orders.received.length
    const refused = [
      await agent.request(`${stage.url}/bff/orders/items`, { headers: API }),
      await bff('/bff/orders/items', { headers: { 'x-csrf': '0' } }),
      await bff('/bff/orders/items', { headers: { 'sec-fetch-site': 'cross-site' } }),
      await bff('/bff/orders/items', { headers: { 'sec-fetch-site': 'same-site' } }),
      // a form POST from another origin: no custom header is possible
      await agent.request(`${stage.url}/bff/orders/items`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, body: 'id=3' }),
    ]
    expect(refused.map((hop) => hop.status)).toEqual([403, 403, 403, 403, 403])
    for (const hop of refused) expect(JSON.parse(hop.body)).toMatchObject({ error: 'forbidden' })
    expect(orders.received.length).toBe(before)
    // same-origin fetch metadata with the header passes
    expect((await bff('/bff/orders/items', { headers: { 'sec-fetch-site': 'same-origin' } })).status).toBe(200)
  })

  it('OAUTH_BFF_HEADER names another header', async () => {
    await mount(framework, { bffHeader: 'X-Requested-With: codegrant' })
    await signIn()
    expect((await bff('/bff/orders/items')).status).toBe(403)
    expect((await bff('/bff/orders/items', { headers: { 'x-requested-with': 'codegrant' } })).status).toBe(200)
    expect(JSON.parse((await agent.request(`${stage.url}/bff/session`, { headers: API })).body).csrfHeader).toEqual({ name: 'X-Requested-With', value: 'codegrant' })
  })

  it("an API's insufficient_scope: 403 JSON with the login URL that asks for the scope, the API called once", async () => {
    dev.addUser({ sub: 'carol', name: 'Carol', email: 'carol@example.com', groups: [], scopes: ['openid', 'profile', 'email', 'offline_access', 'orders:read'] })
    await mount(framework, { apis: { orders: { url: `${orders.url}/`, resource: orders.resource, scope: 'orders:read orders:write', token: 'exchange' } } })
    expect((await login(agent, stage.url, 'carol')).last.status).toBe(200)
    const from = orders.received.length
    const answer = await bff('/bff/orders/write')
    expect(answer.status).toBe(403)
    const body = JSON.parse(answer.body) as { code: string; loginUrl: string; scope: string }
    expect([body.code, body.scope]).toEqual(['codegrant/insufficient_scope', 'orders:write'])
    const loginUrl = new URL(body.loginUrl, stage.url)
    expect([loginUrl.pathname, loginUrl.searchParams.get('scope')]).toEqual(['/auth/login', 'orders:write'])
    expect(orders.received.slice(from).map((entry) => entry.status)).toEqual([403])
  })

  it('signed out: 401 JSON with WWW-Authenticate, never a redirect', async () => {
    await mount(framework)
    const before = orders.received.length
    const hop = await bff('/bff/orders/items', { headers: { accept: 'text/html' } })
    expect(hop.status).toBe(401)
    expect(hop.headers.get('www-authenticate')).toMatch(/^Bearer realm=/)
    expect(hop.headers.get('location')).toBeNull()
    expect(JSON.parse(hop.body)).toEqual({ error: 'unauthenticated' })
    expect(orders.received.length).toBe(before)
  })

  it('method, query string and a 5 MB body arrive intact; hop-by-hop, cookie and authorization headers are stripped both ways', async () => {
    await mount(framework)
    await signIn()
    const body = 'x'.repeat(5 * 1024 * 1024)
    const hop = await bff('/bff/echo/things/a%20b?q=1&q=2&x=%2F', {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', authorization: 'Basic browser', 'x-custom': 'kept', 'proxy-authorization': 'Basic p', te: 'trailers' },
      body,
    })
    expect(hop.status).toBe(200)
    const seen = JSON.parse(hop.body) as Seen
    expect(seen).toMatchObject({ method: 'PUT', url: '/base/things/a%20b?q=1&q=2&x=%2F', bodyLength: body.length, bodyHash: createHash('sha256').update(body).digest('hex') })
    expect(seen.headers['x-custom']).toBe('kept')
    expect(seen.headers.authorization).toMatch(/^Bearer [\w.~+/-]{20,}/)
    for (const name of ['cookie', 'x-csrf', 'proxy-authorization', 'te']) expect(seen.headers[name]).toBeUndefined()
    // the API's cookie and its hop-by-hop headers never reach the browser
    expect(hop.setCookies.join('\n')).not.toContain('api_session')
    // (this server's own Keep-Alive may be there, never the API's)
    expect(hop.headers.get('keep-alive')).not.toBe('timeout=99')
    expect(hop.headers.get('proxy-authenticate')).toBeNull()
    expect(hop.headers.get('x-upstream')).toBe('echo')
  })

  it("a server-sent events stream: the first event reaches the browser before the API's last is sent", async () => {
    await mount(framework)
    await signIn()
    const cookie = [...agent.cookies(stage.url)].map(([name, value]) => `${name}=${value}`).join('; ')
    const started = Date.now()
    const response = await fetch(`${stage.url}/bff/orders/events?count=5&interval=300`, { headers: { ...CSRF, cookie, accept: 'text/event-stream' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = response.body!.getReader()
    const first = await reader.read()
    const firstAt = Date.now() - started
    expect(new TextDecoder().decode(first.value)).toContain('"n":1')
    // the API sends its fifth event 1500 ms after the first request: the first came well before
    expect(firstAt).toBeLessThan(1200)
    let rest = ''
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value)
    expect(rest).toContain('"n":5')
  })

  it('HEAD and OPTIONS are proxied as they are (Fastify routes neither itself)', async () => {
    await mount(framework)
    await signIn()
    const before = echo.seen.length
    const head = await bff('/bff/echo/things?h=1', { method: 'HEAD' })
    expect([head.status, head.body, head.headers.get('x-upstream')]).toEqual([200, '', 'echo'])
    const options = await bff('/bff/echo/things?o=1', { method: 'OPTIONS' })
    expect(options.status).toBe(200)
    expect(JSON.parse(options.body)).toMatchObject({ method: 'OPTIONS', url: '/base/things?o=1' })
    expect(echo.seen.slice(before).map((seen) => [seen.method, seen.url])).toEqual([['HEAD', '/base/things?h=1'], ['OPTIONS', '/base/things?o=1']])
    // a CORS preflight cannot carry the header: refused like any forgery
    const preflight = await agent.request(`${stage.url}/bff/echo/things`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'sec-fetch-site': 'cross-site' } })
    expect(preflight.status).toBe(403)
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
    expect(echo.seen.length - before).toBe(2)
  })

  it('a WebSocket upgrade is not proxied: 501, nothing reaches the API', async () => {
    await mount(framework)
    await signIn()
    const before = echo.seen.length
    const hop = await raw('/bff/echo/socket', { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' })
    expect(hop.status).toBe(501)
    expect(JSON.parse(hop.body)).toMatchObject({ error: 'upgrade_not_supported' })
    expect(echo.seen.length).toBe(before)
  })

  it('an API that is down → 502, one that is slow → 504 within the timeout', async () => {
    await mount(framework)
    await signIn()
    const down = await bff('/bff/down/anything')
    expect(down.status).toBe(502)
    expect(JSON.parse(down.body)).toMatchObject({ error: 'upstream_unavailable' })
    const started = Date.now()
    const slow = await bff('/bff/echo/slow')
    expect(slow.status).toBe(504)
    expect(JSON.parse(slow.body)).toMatchObject({ error: 'upstream_timeout' })
    expect(Date.now() - started).toBeLessThan(2500)
  })

  it("a request body streams to the API: its first bytes arrive before the browser's last are sent", async () => {
    await mount(framework)
    await signIn()
    const cookie = [...agent.cookies(stage.url)].map(([name, value]) => `${name}=${value}`).join('; ')
    const path = `/bff/echo/upload?${framework}`
    const upload = httpRequest(`${stage.url}${path}`, { method: 'POST', headers: { ...CSRF, cookie, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } })
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      upload.on('response', (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      upload.on('error', reject)
    })
    upload.write(Buffer.alloc(64 * 1024, 'a'))
    // the request is still open: a proxy that read the whole body first would send nothing yet
    await expect.poll(() => echo.receiving.get(`/base/upload?${framework}`) ?? 0, { timeout: 5000, interval: 20 }).toBeGreaterThan(0)
    upload.end(Buffer.alloc(64 * 1024, 'b'))
    const { status, body } = await answered
    expect(status).toBe(200)
    expect((JSON.parse(body) as Seen).bodyLength).toBe(128 * 1024)
  })

  it('a 4 MB answer reaches the browser intact', async () => {
    await mount(framework)
    await signIn()
    const cookie = [...agent.cookies(stage.url)].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(`${stage.url}/bff/echo/large`, { headers: { ...CSRF, cookie } })
    expect(response.status).toBe(200)
    const body = Buffer.from(await response.arrayBuffer())
    expect([body.length, createHash('sha256').update(body).digest('hex')]).toEqual([LARGE.length, createHash('sha256').update(LARGE).digest('hex')])
  })

  it('an API that resets the connection mid-body: the browser sees the answer broken off, never a complete one, and the proxy serves on', async () => {
    await mount(framework)
    await signIn()
    const cookie = [...agent.cookies(stage.url)].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(`${stage.url}/bff/echo/reset`, { headers: { ...CSRF, cookie }, signal: AbortSignal.timeout(10_000) })
    expect(response.status).toBe(200)
    await expect(response.text()).rejects.toThrow()
    expect((await bff('/bff/echo/after-reset')).status).toBe(200)
  })

  it("pooled connections to an API carry each user's own token, never another's", async () => {
    await mount(framework)
    const users = ['alice', 'bob'] as const
    const agents = users.map(() => createAgent())
    for (const [index, user] of users.entries()) expect((await login(agents[index]!, stage.url, user)).last.status).toBe(200)
    const before = echo.seen.length
    // alternating, one at a time (the pool's one connection goes from one user's request to the
    // other's), then four at a time
    const calls = Array.from({ length: 24 }, (_, n) => ({ user: users[n % 2]!, agent: agents[n % 2]!, n }))
    for (let at = 0; at < calls.length; at += at < 8 ? 1 : 4) {
      await Promise.all(calls.slice(at, at < 8 ? at + 1 : at + 4).map(async ({ user, agent: browser, n }) => {
        const hop = await browser.request(`${stage.url}/bff/echo/whoami?user=${user}&n=${n}`, { headers: { ...API, ...CSRF } })
        expect(hop.status).toBe(200)
      }))
    }
    const seen = echo.seen.slice(before)
    expect(seen).toHaveLength(calls.length)
    const tokensOf = (user: string) => new Set(seen.filter((entry) => entry.url.includes(`user=${user}&`)).map((entry) => entry.headers.authorization))
    const [alices, bobs] = [tokensOf('alice'), tokensOf('bob')]
    // one token per user in all their requests, and not the other's
    expect([alices.size, bobs.size]).toEqual([1, 1])
    expect([...alices][0]).not.toBe([...bobs][0])
    // the connections were reused (fewer than one per request), each by both users
    const ports = new Set(seen.map((entry) => entry.remotePort))
    expect(ports.size).toBeLessThan(calls.length)
    expect([...ports].some((port) => new Set(seen.filter((entry) => entry.remotePort === port).map((entry) => entry.headers.authorization)).size === 2)).toBe(true)
  })

  it('a DPoP-bound API token goes with a fresh proof on each proxied request', async () => {
    const secure = await startTestApi({ provider: dev, name: 'secure', scopes: { read: 'secure:read', write: 'secure:write' }, dpop: true })
    try {
      await mount(framework, { dpop: true, apis: { secure: { url: `${secure.url}/`, resource: secure.resource, scope: 'secure:read' } } })
      await signIn()
      const answers = [await bff('/bff/secure/items'), await bff('/bff/secure/items')]
      expect(answers.map((hop) => hop.status), answers[0]!.body).toEqual([200, 200])
      expect(secure.received.map((entry) => [entry.scheme, entry.status])).toEqual([['DPoP', 200], ['DPoP', 200]])
    } finally {
      await secure.close()
    }
  })

  it('path traversal never reaches another API or leaves the base path', async () => {
    await mount(framework)
    await signIn()
    const [fromEcho, fromOrders, fromBilling] = [echo.seen.length, orders.received.length, billing.received.length]
    for (const path of ['/bff/echo/../orders/items', '/bff/echo/%2e%2e/outside', '/bff/echo/%2E%2E%2Foutside', '/bff/echo/a%2f..%2f..%2foutside', '/bff/echo/..%5coutside', '/bff/echo/%2fevil.example/x']) {
      const hop = await raw(path)
      expect([400, 404], path).toContain(hop.status)
    }
    expect((await raw('/bff/nope/items')).status).toBe(404)
    expect([echo.seen.length, orders.received.length, billing.received.length]).toEqual([fromEcho, fromOrders, fromBilling])
  })

  it('a 401 from the API: refreshed and retried once without a body, never with one', async () => {
    await mount(framework)
    await signIn()
    const before = echo.seen.length
    const get = await bff(`/bff/echo/flaky?get=${framework}`)
    expect(get.status).toBe(200)
    expect(echo.seen.length - before).toBe(2)
    const post = await bff(`/bff/echo/flaky?post=${framework}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'once' })
    expect(post.status).toBe(401)
    expect(echo.seen.length - before).toBe(3)
  })
})

describe('an Express body parser mounted before oauth()', () => {
  it('a body it read is not forwarded as an empty one: 500 that says to mount oauth() first, nothing reaches the API', async () => {
    const app = express5()
    app.use(express5.json())
    app.use(cgExpress.oauth(appOptions(dev, stage.url, logs, { bff: true, apis: apis() })))
    app.get('/', (_req, res) => void res.send('home'))
    stage.mount(app)
    await signIn()
    const before = echo.seen.length
    const hop = await bff('/bff/echo/things', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    expect(hop.status).toBe(500)
    expect(JSON.parse(hop.body)).toMatchObject({ error: 'body_already_read' })
    expect(echo.seen.length).toBe(before)
    expect(logs.lines.some((line) => line.includes('mount oauth() before body parsers'))).toBe(true)
  })
})
