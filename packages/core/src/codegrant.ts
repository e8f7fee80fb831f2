/**
 * The hub: creating a codegrant once, at start-up (its configuration, and the engine
 * `create-engine.ts` assembles), and per request attaching the request state, matching
 * codegrant's routes and handing them to their route modules (`dispatch.ts`).
 */
import type { OAuthOptions } from './config/options.js'
import { resolveConfig } from './config/resolve.js'
import type { OAuthConfig } from './config/resolved.js'
import { readSession, UNLOADED, type Context, type CookieSink } from './context.js'
import { createEngine } from './create-engine.js'
import { announce } from './diagnostics.js'
import { dispatch, routeMatcher } from './dispatch.js'
import { isCodegrantError } from './errors.js'
import { unexpected } from './failures.js'
import { errorResponse, type CoreRequest, type CoreResponse } from './http.js'
import { contextOf, createRequestState, type OAuthRequestState } from './request-state.js'
import { callbackFailed } from './routes/callback.js'
import { servedRoutes, type Route } from './routes/provider-routes.js'
import type { SessionControl } from './sessions.js'
import type { MaybePromise, SessionStore } from './session/store.js'

export type { CookieSink } from './context.js'
export type { Route } from './routes/provider-routes.js'

/** One configured codegrant: what an adapter holds. Create it once, at start-up. */
export interface Codegrant {
  readonly config: OAuthConfig
  /**
   * The server-side session store in use: the one passed in, the memory store, or the Redis store
   * opened for `OAUTH_SESSION_STORE=redis` (its `close()` ends the connection, e.g. at shutdown).
   * For cookie sessions: the Redis store opened for `OAUTH_REDIS_URL`, which keeps only the
   * "ended before" records that end cookie sessions from the server; else undefined.
   */
  readonly sessionStore: SessionStore | undefined
  /**
   * Any user's sessions, with a server-side store (admin tooling): listed by `sub`, ended one by
   * one or all at once, on every instance sharing the store, their refresh tokens revoked.
   * `req.oauth.sessions` is the signed-in user's own. With cookie sessions and `OAUTH_REDIS_URL`,
   * `endAll(sub)` ends the user's sessions everywhere too (the admin's kill switch: each ends at
   * its next request); cookie sessions cannot be listed.
   *
   * @example
   * const codegrant = createCodegrant({ sessionStore: 'redis' })
   * await codegrant.sessions.endAll('248289761001') // the user's every session, everywhere
   */
  readonly sessions: SessionControl
  /** Every route codegrant serves, by path (per provider with several): for frameworks that register routes. */
  readonly served: readonly { readonly path: string; readonly route: Route }[]
  /** Which of codegrant's routes a request path is for (the query is ignored), if any. */
  match(url: string): Route | undefined
  /**
   * The request state for one request. Synchronous for the cookie and memory stores (the
   * session is decrypted lazily, on first use); a promise for stores that do I/O. `sink`
   * receives `Set-Cookie` values with `target`. A store that cannot be read does not reject
   * it: the request goes on signed out, and the guard, `accessToken()`, `fetch()`, `refresh()`,
   * `userinfo()`, `login()` and the login, callback and logout routes answer
   * `codegrant/store_unavailable` (503 with Retry-After); the session cookie is kept.
   */
  attach<T>(request: CoreRequest, sink: CookieSink<T>, target: T): MaybePromise<OAuthRequestState>
  /** Serves one of codegrant's routes. Never rejects: failures become 4xx/5xx responses. */
  handle(route: Route, request: CoreRequest, state: OAuthRequestState): Promise<CoreResponse>
  /**
   * The answer to an `attach` that failed, as an error page or JSON: adapters send it instead
   * of passing the error on. A session store that cannot be read no longer makes `attach` fail
   * (see `attach`); this answers what else might (500-class `codegrant/provider_error`), and a
   * `codegrant/store_unavailable` given to it is still 503 with Retry-After.
   */
  respond(request: CoreRequest, error: unknown): CoreResponse
}

/**
 * Creates codegrant from options merged over the environment (`OAUTH_*` variables).
 *
 * @throws {CodegrantError} `codegrant/config_invalid` listing every configuration problem.
 * @example
 * const codegrant = createCodegrant({ scope: 'openid profile' })
 */
export function createCodegrant(options: OAuthOptions = {}, env: Readonly<Record<string, string | undefined>> = process.env): Codegrant {
  const config = resolveConfig(options, env)
  const { engine, sessions } = createEngine(config)
  const { backend } = engine
  for (const runtime of engine.providers.list) announce(config, runtime.settings)
  const served = servedRoutes(config)
  const match = routeMatcher(served)

  return {
    config,
    sessionStore: backend.opened,
    sessions,
    served,
    match,
    attach(request, sink, target) {
      engine.diagnostics.observe(request)
      const context: Context = { engine, request, sink: sink as CookieSink<unknown>, target, parsed: undefined, session: UNLOADED, superseded: false, unavailable: undefined }
      const state = createRequestState(context)
      if (!backend.io) return state
      // an external store is read first; if it fails, the request goes on signed out (context.ts)
      return readSession(context, undefined, state)
    },
    respond(request, error) {
      return errorResponse(config, request, isCodegrantError(error) ? error : unexpected(config, error))
    },
    async handle(route, request, state) {
      const context = contextOf(state)
      if (!context) throw new TypeError('not a codegrant request state: mount oauth() before requireAuth()')
      context.request = request // may now carry the form body
      try {
        return await dispatch(context, route)
      } catch (error) {
        const failure = isCodegrantError(error) ? error : unexpected(config, error)
        const response = errorResponse(config, request, failure)
        return route.kind === 'callback' ? callbackFailed(context, failure, response) : response
      }
    },
  }
}
