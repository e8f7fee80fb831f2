import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ApiOptions } from '@codegrant/core'
import type { DevProvider } from '@codegrant/dev-provider'
import * as oauth from 'oauth4webapi'
import { fingerprint } from './inspector/index.js'

/** The demo's APIs: their codegrant settings (`apis`), and how to stop them. */
export interface DemoApis {
  apis: Record<string, ApiOptions>
  close(): Promise<void>
}

interface DemoApi {
  name: string
  /** The scope its `GET /` needs; the provider knows it with a `:write` one beside it. */
  scope: string
  /** The `aud` it requires when not its own URL (an Auth0-style API name). */
  audience?: string
}

/**
 * Two small APIs on loopback for the demo, registered with its dev provider: `orders` (its token
 * by a refresh-token grant with its resource, RFC 8707) and `billing` (by token exchange for its
 * audience, RFC 8693). Each checks its token as a real API does — a JWT access token (RFC 9068)
 * of the provider, for its own audience, with its scope, DPoP-bound ones with their proof —
 * through oauth4webapi's `validateJwtAccessToken`, and answers `GET /` with what it saw: the
 * user, the scope, the audience and a fingerprint of the token (never the token), and
 * `GET /events?count=&interval=` with as many server-sent events, one every `interval` ms.
 */
export async function startDemoApis(provider: DevProvider): Promise<DemoApis> {
  const as = await oauth.processDiscoveryResponse(new URL(provider.issuer), await oauth.discoveryRequest(new URL(provider.issuer), { algorithm: 'oidc', [oauth.allowInsecureRequests]: true }))
  const servers: Server[] = []
  const apis: Record<string, ApiOptions> = {}
  try {
    for (const api of [{ name: 'orders', scope: 'orders:read' }, { name: 'billing', scope: 'billing:read', audience: 'demo-billing' }] satisfies DemoApi[]) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const audience = api.audience ?? url
      provider.addResource(url, { scope: `${api.scope} ${api.scope.replace(/:read$/, ':write')}`, ...(api.audience ? { audience: api.audience } : {}) })
      server.on('request', (req, res) => void answer(as, api, audience, url, req, res))
      apis[api.name] = api.audience ? { url, audience: api.audience, scope: api.scope, token: 'exchange' } : { url, resource: url, scope: api.scope }
    }
  } catch (error) {
    await Promise.all(servers.map(close))
    throw error
  }
  return { apis, close: async () => void (await Promise.all(servers.map(close))) }
}

async function answer(as: oauth.AuthorizationServer, api: DemoApi, audience: string, url: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = new Headers()
  for (const name of ['authorization', 'dpop']) {
    const value = req.headers[name]
    if (typeof value === 'string') headers.set(name, value)
  }
  const { pathname: path, searchParams } = new URL(req.url ?? '/', url)
  if (req.method !== 'GET' || (path !== '/' && path !== '/events')) return send(res, 404, { error: 'not_found' })
  try {
    const claims = await oauth.validateJwtAccessToken(as, new Request(new URL(req.url ?? '/', url), { method: 'GET', headers }), audience, { [oauth.allowInsecureRequests]: true })
    if (!String(claims.scope ?? '').split(' ').includes(api.scope)) {
      res.setHeader('www-authenticate', `Bearer error="insufficient_scope", scope="${api.scope}"`)
      return send(res, 403, { error: 'insufficient_scope' })
    }
    if (path === '/events') return streamEvents(res, api.name, claims.sub, searchParams)
    const token = (headers.get('authorization') ?? '').split(' ')[1] ?? ''
    send(res, 200, { api: api.name, sub: claims.sub, aud: claims.aud, scope: claims.scope, token: fingerprint(token), bound: claims.cnf !== undefined })
  } catch {
    res.setHeader('www-authenticate', 'Bearer error="invalid_token"')
    send(res, 401, { error: 'invalid_token' })
  }
}

/**
 * `GET /events`: `count` server-sent events (default 5, at most 20), the first at once, then one
 * every `interval` ms (default 500, 100 to 5000), and the end of the stream; stopped when the
 * caller goes away.
 */
function streamEvents(res: ServerResponse, api: string, sub: string, query: URLSearchParams): void {
  const within = (value: string | null, fallback: number, min: number, max: number) => Math.min(max, Math.max(min, Number.parseInt(value ?? '', 10) || fallback))
  const count = within(query.get('count'), 5, 1, 20)
  const interval = within(query.get('interval'), 500, 100, 5000)
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
  let n = 0
  const tick = () => {
    n += 1
    res.write(`event: tick\nid: ${n}\ndata: ${JSON.stringify({ api, sub, n, of: count, at: new Date().toISOString() })}\n\n`)
    if (n === count) {
      clearInterval(timer)
      res.end()
    }
  }
  const timer = setInterval(tick, interval)
  res.on('close', () => clearInterval(timer))
  tick()
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body))
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}
