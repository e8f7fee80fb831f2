import { createCodegrant, guard, guardOptions, readBody, type CoreRequest, type CoreResponse, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions, type Route } from '@codegrant/core'
import type { Context, Middleware, Next } from 'koa'

export type { LoginOptions, OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core'
export { CodegrantError, isCodegrantError } from '@codegrant/core'

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

/** The request as the core sees it; without the body, which only codegrant's own routes read (see `serve`). */
function toCore(ctx: Context): CoreRequest {
  const socket = ctx.req.socket as (Context['req']['socket'] & { encrypted?: boolean }) | undefined
  return { method: ctx.method, url: ctx.originalUrl, headers: ctx.headers, encrypted: socket?.encrypted === true, connection: socket }
}

/** Writes a core response. Cookies are written as raw headers, never through `ctx.cookies`,
 * so a `Secure` cookie behind a TLS-terminating proxy cannot trip Koa's "Cannot send secure
 * cookie over unencrypted connection". */
function send(ctx: Context, result: CoreResponse): void {
  // something else (a timeout middleware) may have answered first: never write twice
  if (ctx.headerSent || !ctx.writable) return
  appendCookies(result.cookies, ctx)
  ctx.status = result.status
  ctx.set(result.headers)
  ctx.body = result.body ?? ''
}

function appendCookies(cookies: string[], ctx: Context): void {
  if (cookies.length === 0 || ctx.headerSent) return
  ctx.append('Set-Cookie', cookies)
  keepOnError(ctx, cookies)
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
 * codegrant for Koa 2 and 3: serves the login, callback and logout routes and puts
 * `ctx.state.oauth` on every request. Options override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` at start-up, listing every problem.
 * @example
 * app.use(oauth())
 * router.get('/me', requireAuth(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
 */
export function oauth(options?: OAuthOptions): Middleware {
  const codegrant = createCodegrant(options)
  const serve = async (route: Route, ctx: Context, core: CoreRequest, state: OAuthRequestState): Promise<void> => {
    // a form (form_post callback, logout token): read it ourselves unless a body parser already did
    const parsed = (ctx.request as { body?: unknown }).body as CoreRequest['body']
    const body = ctx.method === 'POST' && !ctx.req.readableEnded ? await readBody(ctx.req).catch(() => undefined) : parsed
    send(ctx, await codegrant.handle(route, { ...core, body }, state))
  }
  const go = (ctx: Context, next: Next, core: CoreRequest, state: OAuthRequestState): Promise<void> => {
    ctx.state.oauth = state
    const route = codegrant.match(ctx.originalUrl)
    return route ? serve(route, ctx, core, state) : next()
  }
  // not async: a request that needs no I/O goes on without an extra promise
  return function codegrantMiddleware(ctx: Context, next: Next): Promise<void> {
    const core = toCore(ctx)
    const attached = codegrant.attach(core, appendCookies, ctx)
    if (!(attached instanceof Promise)) return go(ctx, next, core, attached)
    return attached.then(
      (state) => go(ctx, next, core, state),
      // only an unexpected failure rejects (a store that cannot be read does not): codegrant answers
      (error: unknown) => send(ctx, codegrant.respond(core, error)),
    )
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
 * Guards a route: browsers are sent to login, API clients get 401 JSON, and users lacking the
 * required `scopes` or `claims` get 403 JSON.
 *
 * @example
 * router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), handler)
 */
export function requireAuth(options?: RequireAuthOptions): Middleware {
  guardOptions(options)
  return function codegrantGuard(ctx: Context, next: Next): Promise<void> {
    // the request oauth() attached the state with (same method, URL and headers)
    const decision = guard(ctx.state.oauth as OAuthRequestState, ctx.state.oauth ? undefined : toCore(ctx), options)
    if (decision instanceof Promise) return decision.then((result) => (result ? send(ctx, result) : next()))
    if (!decision) return next()
    send(ctx, decision)
    return Promise.resolve()
  }
}
