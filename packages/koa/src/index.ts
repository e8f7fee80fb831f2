import { createAdapter, stateTrap, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions } from '@codegrant/core/adapter'
import type { Context, Middleware, Next } from 'koa'

export type { LoginOptions, OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core/adapter'
export { CodegrantError, isCodegrantError } from '@codegrant/core/adapter'

/** Koa state with codegrant's request view: `new Koa<OAuthState>()` or `ctx.state.oauth`. */
export interface OAuthState {
  oauth: OAuthRequestState
}

declare module 'koa' {
  interface DefaultState {
    /** codegrant's view of the request: session, user, tokens. Set by `oauth()`. */
    oauth: OAuthRequestState
  }
}

// Koa's context is both the request and what answers it
const koa = createAdapter<Context, Context>({
  request(ctx) {
    const socket = ctx.req.socket as (Context['req']['socket'] & { encrypted?: boolean }) | undefined
    return { method: ctx.method, url: ctx.originalUrl, headers: ctx.headers, encrypted: socket?.encrypted === true, connection: socket }
  },
  setState(ctx, state) {
    ctx.state.oauth = state
  },
  getState: (ctx) => ctx.state.oauth,
  arm: (ctx) => trapState(Object.getPrototypeOf(ctx)),
  stream: (ctx) => ctx.req,
  parsedBody: (ctx) => (ctx.request as { body?: unknown }).body,
  sent: (ctx) => ctx.headerSent || !ctx.writable,
  // raw headers, never `ctx.cookies`: a `Secure` cookie behind a TLS-terminating proxy would trip
  // Koa's "Cannot send secure cookie over unencrypted connection"
  setCookies(ctx, cookies) {
    ctx.append('Set-Cookie', cookies)
    keepOnError(ctx, cookies)
  },
  write(ctx, { status, headers, body, stream }) {
    ctx.status = status
    ctx.set(headers)
    // a stream (the BFF's proxied answer) is piped by Koa, and destroyed if the browser goes away
    ctx.body = stream ?? body ?? ''
  },
  errors: 'reject',
  routes: 'middleware',
})

/** Development: the prototype of a request's `state` until oauth() sets `oauth` on it, reading which throws. */
const UNATTACHED: object = Object.defineProperty({}, 'oauth', {
  configurable: true,
  ...stateTrap('oauth', () => 'codegrant: ctx.state.oauth was read on a request oauth() did not see: app.use(oauth()) must come before the router and the middleware that read ctx.state.oauth'),
})

const STATE = Symbol('codegrant ctx.state')

/**
 * Development: every `state` Koa gives a context of this app (a plain `{}` per request) has
 * {@link UNATTACHED} as its prototype, so that a read of `ctx.state.oauth` before oauth() ran
 * throws, naming the fix, instead of giving `undefined`. Koa's own `{}` (the first state a context
 * is given, in `createContext`) is swapped for a fresh `Object.create(UNATTACHED)`: nothing else
 * holds it, and changing a live object's prototype per request cost more than the rest of
 * attaching the state; a state the app sets later keeps its identity and gets the prototype. The
 * context keeps it in a symbol slot behind the accessors, not an own property defined per request.
 */
function trapState(context: Context): void {
  if (Object.hasOwn(context, 'state')) return
  Object.defineProperty(context, 'state', {
    configurable: true,
    get(this: Context & { [STATE]?: unknown }) {
      return this[STATE]
    },
    set(this: Context & { [STATE]?: unknown }, value: unknown) {
      if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
        if (!(STATE in this) && isEmpty(value)) value = Object.create(UNATTACHED)
        else Object.setPrototypeOf(value, UNATTACHED)
      }
      this[STATE] = value
    },
  })
}

function isEmpty(value: object): boolean {
  for (const _ in value) return false
  return true
}

const KEPT = Symbol('codegrant.cookies')

/**
 * Koa's error handler removes every header before it answers an error, which would drop a
 * refresh's Set-Cookie (and with it a rotated refresh token) when the app fails after the
 * refresh. The first cookie codegrant writes in a request wraps this context's `onerror` to put
 * them back through the error's `headers`; requests that write none pay nothing.
 */
function keepOnError(ctx: Context, cookies: string[]): void {
  const holder = ctx as Context & { [KEPT]?: string[] }
  const kept = holder[KEPT]
  if (kept) {
    kept.push(...cookies)
    return
  }
  const list = [...cookies]
  holder[KEPT] = list
  const onerror = ctx.onerror
  ctx.onerror = function (this: Context, error: Error) {
    return onerror.call(this, withCookies(error, list))
  }
}

/**
 * The error as Koa's error handler should see it: with `cookies` added to its `headers`. A view
 * that inherits from the error, never the error itself, which may be shared by concurrent
 * requests of other users (a failed discovery rejects them all with one error).
 */
function withCookies(error: Error, cookies: string[]): Error {
  if (typeof error !== 'object' || error === null) return error
  const { headers } = error as { headers?: Record<string, string | string[]> }
  const previous = headers?.['set-cookie'] ?? []
  const merged = { ...headers, 'set-cookie': [...(Array.isArray(previous) ? previous : [previous]), ...cookies] }
  return Object.create(error, { headers: { value: merged, enumerable: true } }) as Error
}

/**
 * codegrant for Koa 2 and 3: serves the login, callback and logout routes and puts
 * `ctx.state.oauth` on every request. Options override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` at start-up, listing every problem.
 * @see [RFC 6749 §4.1 — Authorization Code Grant](https://www.rfc-editor.org/rfc/rfc6749.html#section-4.1), with [RFC 7636 — PKCE](https://www.rfc-editor.org/rfc/rfc7636.html)
 * @see [OpenID Connect Core 1.0 §3.1 — Authorization Code Flow](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 * @see [RFC 9700 — OAuth 2.0 Security Best Current Practice](https://www.rfc-editor.org/rfc/rfc9700.html)
 * @example
 * app.use(oauth())
 * router.get('/me', requireAuth(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
 */
export function oauth(options?: OAuthOptions): Middleware {
  const { middleware } = koa.mount(options)
  // not async: a request that needs no I/O goes on without an extra promise
  return function codegrantMiddleware(ctx: Context, next: Next) {
    return middleware(ctx, ctx, next)
  }
}

/**
 * Guards a route: browsers are sent to login, API clients get 401 JSON, and users lacking the
 * required `scopes` or `claims` get 403 JSON.
 *
 * @see [RFC 6750 §3 — The WWW-Authenticate Response Header Field](https://www.rfc-editor.org/rfc/rfc6750.html#section-3)
 * @see [RFC 9470 — OAuth 2.0 Step Up Authentication Challenge](https://www.rfc-editor.org/rfc/rfc9470.html) (`maxAge`, `acr`)
 * @example
 * router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), handler)
 */
export function requireAuth(options?: RequireAuthOptions): Middleware {
  const guard = koa.requireAuth(options)
  return function codegrantGuard(ctx: Context, next: Next) {
    return guard(ctx, ctx, next)
  }
}
