import { createCodegrant, guard, readBody, type CoreRequest, type CoreResponse, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions } from '@codegrant/core'
import type { Context, Middleware, Next } from 'koa'

export type { OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core'
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

function toCore(ctx: Context): CoreRequest {
  const parsed = (ctx.request as { body?: unknown }).body
  return { method: ctx.method, url: ctx.originalUrl, headers: ctx.headers, body: parsed as CoreRequest['body'] }
}

/** Writes a core response. Cookies are written as raw headers, never through `ctx.cookies`,
 * so a `Secure` cookie behind a TLS-terminating proxy cannot trip Koa's "Cannot send secure
 * cookie over unencrypted connection". */
function send(ctx: Context, result: CoreResponse): void {
  appendCookies(ctx, result.cookies)
  ctx.status = result.status
  ctx.set(result.headers)
  ctx.body = result.body ?? ''
}

function appendCookies(ctx: Context, cookies: string[]): void {
  if (cookies.length > 0 && !ctx.headerSent) ctx.append('Set-Cookie', cookies)
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
  return async function codegrantMiddleware(ctx: Context, next: Next): Promise<void> {
    const core = toCore(ctx)
    const state = await codegrant.attach(core, (cookies) => appendCookies(ctx, cookies))
    ctx.state.oauth = state
    const route = codegrant.match(ctx.originalUrl)
    if (!route) return next()
    // a form_post callback: read the form ourselves unless a body parser already did
    const body = route === 'callback' && ctx.method === 'POST' && !ctx.req.readableEnded ? await readBody(ctx.req).catch(() => undefined) : core.body
    send(ctx, await codegrant.handle(route, { ...core, body }, state))
  }
}

/**
 * Guards a route: browsers are sent to login, API clients get 401 JSON, and users lacking the
 * required `scopes` or `claims` get 403 JSON.
 *
 * @example
 * router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), handler)
 */
export function requireAuth(options?: RequireAuthOptions): Middleware {
  return async function codegrantGuard(ctx: Context, next: Next): Promise<void> {
    const decision = await guard(ctx.state.oauth as OAuthRequestState, toCore(ctx), options)
    if (decision) send(ctx, decision)
    else await next()
  }
}
