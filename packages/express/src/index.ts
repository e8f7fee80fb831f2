import { createCodegrant, guard, guardOptions, readBody, type CoreRequest, type CoreResponse, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions, type Route } from '@codegrant/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

export type { LoginOptions, OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core'
export { CodegrantError, isCodegrantError } from '@codegrant/core'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** codegrant's view of the request: session, user, tokens. Set by `oauth()`. */
      oauth: OAuthRequestState
    }
  }
}

/** The request as the core sees it; without the body, which only codegrant's own routes read (see `serve`). */
function toCore(req: Request): CoreRequest {
  const socket = req.socket as (Request['socket'] & { encrypted?: boolean }) | undefined
  return { method: req.method, url: req.originalUrl, headers: req.headers, encrypted: socket?.encrypted === true, connection: socket }
}

function send(res: Response, result: CoreResponse): void {
  // something else (a timeout middleware) may have answered first: never write twice
  if (res.headersSent) return
  appendCookies(result.cookies, res)
  res.status(result.status).set(result.headers)
  res.end(result.body)
}

function appendCookies(cookies: string[], res: Response): void {
  if (cookies.length > 0 && !res.headersSent) res.append('Set-Cookie', cookies)
}

/**
 * Mounts codegrant on an Express 4 or 5 app: serves the login, callback and logout routes and
 * puts `req.oauth` on every request. Options override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` at start-up, listing every problem.
 * @example
 * app.use(oauth())
 * app.get('/me', requireAuth(), (req, res) => res.json({ user: req.oauth.user }))
 */
export function oauth(options?: OAuthOptions): RequestHandler {
  const codegrant = createCodegrant(options)
  const serve = (route: Route, core: CoreRequest, req: Request, res: Response, next: NextFunction, state: OAuthRequestState) => {
    // a form (form_post callback, logout token): read it ourselves unless a body parser already did
    // (read here, not per request: a property Express's request lacks costs a prototype-chain walk)
    const body = req.method === 'POST' && !req.readableEnded ? readBody(req).catch(() => undefined) : Promise.resolve(req.body as CoreRequest['body'])
    body
      .then((form) => codegrant.handle(route, { ...core, body: form }, state))
      .then((result) => send(res, result))
      .catch(next)
  }
  return function codegrantMiddleware(req: Request, res: Response, next: NextFunction): void {
    const core = toCore(req)
    const attached = codegrant.attach(core, appendCookies, res)
    const route = codegrant.match(req.originalUrl)
    if (attached instanceof Promise) {
      attached
        .then(
          (state) => {
            req.oauth = state
            if (route) serve(route, core, req, res, next, state)
            else next()
          },
          // only an unexpected failure rejects (a store that cannot be read does not): codegrant answers
          (error: unknown) => send(res, codegrant.respond(core, error)),
        )
        // nothing thrown here may escape as an unhandled rejection: it goes to Express
        .catch(next)
      return
    }
    req.oauth = attached
    if (route) serve(route, core, req, res, next, attached)
    else next()
  }
}

/**
 * Guards a route: browsers are sent to login, API clients get 401 JSON, and users lacking the
 * required `scopes` or `claims` get 403 JSON.
 *
 * @example
 * app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), handler)
 */
export function requireAuth(options?: RequireAuthOptions): RequestHandler {
  guardOptions(options)
  return function codegrantGuard(req: Request, res: Response, next: NextFunction): void {
    // the request oauth() attached the state with (same method, URL and headers)
    const decision = guard(req.oauth, req.oauth ? undefined : toCore(req), options)
    if (!(decision instanceof Promise)) return decision ? send(res, decision) : next()
    decision.then((result) => (result ? send(res, result) : next())).catch(next)
  }
}
