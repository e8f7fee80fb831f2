/**
 * `@codegrant/testing`: log users into your own codegrant app from your own tests, over HTTP,
 * without a browser.
 *
 * @example
 * const idp = await startTestProvider()
 * const app = createApp(idp.options)            // app.use(oauth(idp.options)), or process.env = { ...idp.env }
 * const { cookie } = await idp.login(app, { sub: 'carol', groups: ['admin'] })
 * await request(app).get('/admin').set('Cookie', cookie).expect(200)
 */
import { randomBytes } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { createCookieCodec, type Logger } from '@codegrant/core'
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import { createBrowser, signIn, type Transport } from './browser.js'

export { API, createBrowser, formOf, HTML, signIn, type Browser, type BrowserOptions, type BrowserRequest, type Hop, type SignInOptions, type SignInResult, type Transport } from './browser.js'

export interface TestProviderOptions {
  /**
   * The app's `OAUTH_BASE_URL`. Requests go to the app wherever it really listens, with this
   * `Host`, so it need not be the address of a running server. Default `http://localhost:3000`.
   */
  baseUrl?: string
  /** The app's callback path, default `/auth/callback` (the redirect URI registered at the provider). */
  callbackPath?: string
  /** The app's login path, default `/auth/login`. */
  loginPath?: string
  /** Default `test-app`. */
  clientId?: string
  /** Seconds, default 3600; a user may have its own. */
  accessTokenTtl?: number
  /**
   * Names of your own claims that users may carry (`TestUser.claims`), released with the
   * `profile` scope. Default `['roles', 'permissions', 'tenant', 'org_id']`.
   */
  claimNames?: string[]
  /**
   * Where the app's codegrant lines go: put into `options` (so `oauth(idp.options)` uses it).
   * Default: quiet for what every test would print — info and debug lines, and the warning that
   * the test provider's issuer is plain http — while other warnings and errors still reach the
   * console (prefixed `[codegrant]`). Pass `console` (or a pino logger) to see every line.
   */
  logger?: Logger
}

/** A user for one login: any `sub`; claims, groups, granted scopes and token lifetime of your choice. */
export interface TestUser {
  sub: string
  name?: string
  email?: string
  groups?: string[]
  /**
   * Any other claims, e.g. `{ roles: ['editor'] }`; they go into the ID token and userinfo when
   * their names are in `claimNames` (the provider releases only claims it knows).
   */
  claims?: Record<string, unknown>
  /** Only these of the scopes the app requests are granted (`openid` always is). Default: all. */
  scopes?: string[]
  /** Seconds this user's access tokens live. */
  accessTokenTtl?: number
}

/** What `login` drives: the app as a URL, a request listener (an Express app, Koa's `app.callback()`), a Koa app, an `http.Server` or a Fastify instance. */
export type AppTarget = string | URL | RequestListener | { callback(): RequestListener } | FastifyLike | Server

/** What `login` sends through Fastify's `inject` (a subset of light-my-request's options, in Fastify 4 and 5 alike). */
interface InjectRequest {
  method: 'GET' | 'POST'
  url: string
  headers: Record<string, string>
}

interface FastifyLike {
  inject(options: InjectRequest): PromiseLike<{ statusCode: number; headers: Record<string, unknown> }>
}

/** A signed-in user: what your test client sends. */
export interface TestSession {
  readonly sub: string
  /** The value of a `Cookie` header: `request(app).get('/me').set('Cookie', session.cookie)`. */
  readonly cookie: string
  /** `{ cookie }`, for `fetch`, Fastify's `inject({ headers })` or `supertest.agent(app).set(session.headers)`. */
  readonly headers: { cookie: string }
  /**
   * Makes the session's access token expired (the default cookie store), so the app's next
   * guarded request or `accessToken()` refreshes it at the provider. Updates `cookie` and
   * `headers`, and returns the new `cookie`.
   */
  expireAccessToken(): string
}

export interface TestProvider {
  /** The dev provider's issuer, `http://127.0.0.1:<port>`. */
  readonly issuer: string
  /** Options for `oauth(…)`: issuer, client, base URL and a fresh cookie secret. */
  readonly options: { issuer: string; clientId: string; clientSecret: string; baseUrl: string; cookieSecret: string; logger: Logger }
  /**
   * The same as `OAUTH_*` variables, for apps configured from the environment (there is no
   * variable for the logger: pass `logger: idp.options.logger` to stay quiet).
   */
  readonly env: Record<string, string>
  /** The dev provider underneath (events, revokeGrants, setExtraClaims, …). */
  readonly devProvider: DevProvider
  /**
   * Logs `user` (default `alice`, of the built-in users alice and bob) into the app; resolves with
   * its session. The whole authorization code flow over HTTP, as a browser would go through it:
   * the app's login route, the provider's login form, the app's callback.
   *
   * @see [OpenID Connect Core 1.0 §3.1 — Authorization Code Flow](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
   */
  login(app: AppTarget, user?: string | TestUser, options?: { returnTo?: string }): Promise<TestSession>
  /** Ends every grant of a user at the provider: the app's next refresh for them ends their session. */
  revoke(sub: string): number
  close(): Promise<void>
}

/**
 * Starts the dev provider on loopback with one confidential client for your app.
 *
 * @see [RFC 6749 §4.1 — Authorization Code Grant](https://www.rfc-editor.org/rfc/rfc6749.html#section-4.1)
 * @example
 * const idp = await startTestProvider()
 * const { cookie } = await idp.login(createApp(idp.options), 'alice')
 */
export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  const base = new URL(options.baseUrl ?? 'http://localhost:3000')
  const basePath = base.pathname.replace(/\/$/, '')
  const callbackPath = options.callbackPath ?? '/auth/callback'
  const loginPath = options.loginPath ?? '/auth/login'
  const clientId = options.clientId ?? 'test-app'
  const clientSecret = randomBytes(24).toString('base64url')
  const cookieSecret = randomBytes(32).toString('base64url')
  const devProvider = await startDevProvider({
    quiet: true,
    profileClaims: options.claimNames ?? ['roles', 'permissions', 'tenant', 'org_id'],
    ...(options.accessTokenTtl === undefined ? {} : { accessTokenTtl: options.accessTokenTtl }),
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [`${base.origin}${basePath}${callbackPath}`], post_logout_redirect_uris: [`${base.origin}${basePath}/`] }],
  })
  const logger = options.logger ?? quietLogger(devProvider.issuer)
  const settings = { issuer: devProvider.issuer, clientId, clientSecret, baseUrl: `${base.origin}${basePath}`, cookieSecret, logger }
  const codec = createCookieCodec([cookieSecret])

  return {
    issuer: devProvider.issuer,
    options: settings,
    env: {
      OAUTH_ISSUER: settings.issuer,
      OAUTH_CLIENT_ID: clientId,
      OAUTH_CLIENT_SECRET: clientSecret,
      OAUTH_BASE_URL: settings.baseUrl,
      OAUTH_COOKIE_SECRET: cookieSecret,
    },
    devProvider,
    async login(app, user = 'alice', loginOptions = {}) {
      const sub = typeof user === 'string' ? user : user.sub
      if (typeof user === 'object') {
        devProvider.addUser({ name: user.sub, email: `${user.sub}@example.com`, groups: [], ...user })
      }
      const transport = await connect(app, base)
      try {
        const browser = createBrowser({ transport: toApp(transport, base) })
        const result = await signIn(browser, `${base.origin}${basePath}`, sub, { loginPath, callbackPath, issuer: devProvider.issuer, ...(loginOptions.returnTo === undefined ? {} : { returnTo: loginOptions.returnTo }) })
        const done = result.callback
        const cookies = new Map([...browser.cookies(base.href)].filter(([name]) => isSessionCookie(name)))
        if (!done || done.status !== 302 || cookies.size === 0) {
          const answer = done ?? result.last
          throw new Error(`@codegrant/testing: ${done ? `the app's callback answered ${done.status} without a session` : `the login ended at ${answer.status} ${answer.url}, not at the app's callback`}: ${answer.body.slice(0, 300)}`)
        }
        return session(sub, cookies, codec)
      } finally {
        await transport.close()
      }
    },
    revoke: (sub) => devProvider.revokeGrants(sub),
    close: () => devProvider.close(),
  }
}

/**
 * The default logger of a test: drops the lines every test would print (info such as the
 * redirect URI to register, and the warning about the test provider's own plain-http issuer),
 * keeps every other warning and error, so that a real problem still shows.
 */
function quietLogger(issuer: string): Logger {
  return {
    warn: (message) => {
      if (!message.includes(issuer)) console.warn(`[codegrant] ${message}`)
    },
    error: (message) => console.error(`[codegrant] ${message}`),
  }
}

interface Reply {
  status: number
  location: string | undefined
  setCookies: string[]
  body: string
}

interface AppTransport {
  send(method: InjectRequest['method'], path: string, headers: Record<string, string>): Promise<Reply>
  close(): Promise<void>
}

/** How to reach the app: with `Host` set to the base URL's, whatever it really listens on. */
async function connect(app: AppTarget, base: URL): Promise<AppTransport> {
  if (typeof app === 'string' || app instanceof URL) return overHttp(new URL(String(app)), base, async () => {})
  if (typeof app === 'object' && 'inject' in app && typeof app.inject === 'function') {
    return {
      async send(method, path, headers) {
        const reply = await app.inject({ method, url: path, headers: { ...headers, host: base.host } })
        const headersOut = reply.headers as IncomingHttpHeaders
        return { status: reply.statusCode, location: first(headersOut.location), setCookies: list(headersOut['set-cookie']), body: '' }
      },
      close: async () => {},
    }
  }
  if (typeof app === 'object' && 'address' in app && typeof app.address === 'function' && app.address()) {
    const { port } = app.address() as AddressInfo
    return overHttp(new URL(`http://127.0.0.1:${port}`), base, async () => {})
  }
  const listener =
    typeof app === 'function' ? app
    : 'callback' in app && typeof app.callback === 'function' ? app.callback()
    : 'listeners' in app ? (app.listeners('request')[0] as RequestListener | undefined)
    : undefined
  if (!listener) throw new TypeError('@codegrant/testing: login() takes a URL, a request listener (an Express app), a Koa app, an http.Server or a Fastify instance')
  const server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return overHttp(new URL(`http://127.0.0.1:${port}`), base, () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
}

function overHttp(target: URL, base: URL, close: () => Promise<void>): AppTransport {
  return {
    send: (method, path, headers) =>
      new Promise((resolve, reject) => {
        const send = target.protocol === 'https:' ? httpsRequest : httpRequest
        const req = send({ hostname: target.hostname, port: target.port, method, path, headers: { ...headers, host: base.host } }, (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => (body += chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: first(res.headers.location), setCookies: list(res.headers['set-cookie']), body }))
        })
        req.on('error', reject)
        req.end()
      }),
    close,
  }
}

/** The browser's way to the app: its own URLs to the app wherever (and however) it runs, the rest over `fetch`. */
function toApp(transport: AppTransport, base: URL): Transport {
  return async (url, init) => {
    const target = new URL(url)
    if (target.origin !== base.origin) return fetch(url, init)
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((value, name) => void (headers[name] = value))
    const reply = await transport.send(init.method === 'POST' ? 'POST' : 'GET', `${target.pathname}${target.search}`, headers)
    const answer = new Headers()
    if (reply.location !== undefined) answer.set('location', reply.location)
    for (const line of reply.setCookies) answer.append('set-cookie', line)
    return new Response(reply.body, { status: reply.status, headers: answer })
  }
}

const SESSION = /(^|-)codegrant\.session(\.\d+)?$/

function isSessionCookie(name: string): boolean {
  return SESSION.test(name)
}

function session(sub: string, cookies: Map<string, string>, codec: ReturnType<typeof createCookieCodec>): TestSession {
  const render = () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  const state = { sub, cookie: render(), headers: { cookie: render() } }
  return Object.assign(state, {
    expireAccessToken(): string {
      // the session cookie, reassembled when it was split into name.0, name.1, …
      const names = [...cookies.keys()].sort()
      const name = names[0]!.replace(/\.\d+$/, '')
      const sealed = cookies.get(name) ?? names.map((n) => cookies.get(n)).join('')
      const json = codec.open(name, sealed)
      if (json === undefined) throw new Error('@codegrant/testing: expireAccessToken() needs the app to use the cookie store and the test provider\'s cookieSecret (idp.options / idp.env)')
      const data = JSON.parse(json) as { tokens?: { expiresAt?: number } }
      if (typeof data !== 'object' || data === null || !data.tokens) throw new Error('@codegrant/testing: expireAccessToken() works with the cookie session store only (the default)')
      data.tokens.expiresAt = Math.floor(Date.now() / 1000) - 1
      cookies.clear()
      cookies.set(name, codec.seal(name, JSON.stringify(data)))
      state.cookie = render()
      state.headers = { cookie: state.cookie }
      return state.cookie
    },
  })
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}
