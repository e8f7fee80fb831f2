/**
 * The hub: creating a codegrant (its configuration, session backend, providers and routes, once,
 * at start-up), and per request attaching the request state, matching codegrant's routes and
 * dispatching them to their route modules (`routes/*.ts`).
 */
import type { OAuthOptions } from './config/options.js'
import { resolveConfig } from './config/resolve.js'
import type { OAuthConfig } from './config/resolved.js'
import { now } from './clock.js'
import { readSession, UNLOADED, type Context, type CookieSink, type Engine } from './context.js'
import { announce, createDiagnostics } from './diagnostics.js'
import { isCodegrantError } from './errors.js'
import { unexpected } from './failures.js'
import { callback, callbackFailed } from './routes/callback.js'
import { createBackchannelLogout } from './routes/backchannel-logout.js'
import { createSharedSignals } from './routes/shared-signals.js'
import { frontchannelLogout } from './routes/frontchannel-logout.js'
import { chooseProvider } from './routes/chooser.js'
import { BFF_PREFIX, bffProxy, bffSession } from './routes/bff.js'
import { bffSilentLogin } from './routes/bff-silent-login.js'
import { createExchangeOnce } from './flow/exchange-once.js'
import { initiatedLogin, login, thirdPartyLogin } from './routes/login.js'
import { logoutDone, tracedLogout } from './routes/logout.js'
import { servedRoutes, type Route } from './routes/provider-routes.js'
import { transactionCookies } from './flow/transaction.js'
import { logoutStateCookie } from './flow/logout-state.js'
import { errorResponse, json, type CoreRequest, type CoreResponse } from './http.js'
import { createProviderRuntimes } from './providers.js'
import { apiFetch, contextOf, createRequestState, type OAuthRequestState } from './request-state.js'
import { createSessionBackend, remaining, type SessionBackend } from './session/backend.js'
import { canRecord, createSessionRecords, type SessionRecords } from './session/ended.js'
import { identityOf, tokensIssuedAt } from './session/identity.js'
import { createCookieCodec } from './session/cookie-codec.js'
import { createSessionControl, type SessionControl } from './sessions.js'
import { isCoordinating, type MaybePromise, type SessionData, type SessionStore } from './session/store.js'
import { createWallet } from './wallet.js'

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
  const codec = createCookieCodec(config.cookieSecrets)
  const prefix = config.secure ? '__Host-' : ''
  const backend = createSessionBackend(config, codec, `${prefix}codegrant.session`)
  const providers = createProviderRuntimes(config, backend.store, (fresh) => remaining(fresh, now(), config))
  const records = sessionRecords(config, backend, (session) => providers.of(session)?.name)
  // cookie sessions' "ended before" records (with a server-side store, sessions are destroyed)
  const ended = backend.kind === 'cookie' ? records : undefined
  // back-channel logout's and Shared Signals' store: the server-side one, or the records' Redis (their one-time `jti`s)
  const signalStore = backend.store ?? records?.store
  const engine: Engine = {
    config,
    backend,
    transactions: transactionCookies(config, codec, prefix),
    logoutStates: logoutStateCookie(config, codec, prefix),
    providers,
    exchangeOnce: createExchangeOnce(backend.store),
    backchannel: config.backchannelLogout && signalStore && isCoordinating(signalStore)
      ? { store: signalStore, handle: createBackchannelLogout(config, providers.list, signalStore, ended) }
      : undefined,
    records,
    sharedSignals: undefined,
    sessionIndex: (config.backchannelLogout || config.frontchannelLogout) && backend.store && isCoordinating(backend.store) ? backend.store : undefined,
    // re-issue the session cookie at most every 1/20 of the idle timeout (a day: every 72 minutes)
    renewAfter: Math.max(1, Math.floor(config.sessionIdleTimeout / 20)),
    diagnostics: createDiagnostics(config),
    connections: new WeakMap(),
    wallet: createWallet(config, backend.store, (fresh) => remaining(fresh, now(), config)),
  }
  const sessions = createSessionControl(engine)
  engine.sharedSignals = sharedSignals(config, engine, signalStore, sessions)
  for (const runtime of engine.providers.list) announce(config, runtime.settings)
  const served = servedRoutes(config)
  const routes = new Map(served.map(({ path, route }) => [path, route]))
  // with OAUTH_BFF, every path under /bff/ is the proxy's but /bff/session and /bff/silent-login (matched exactly)
  const bffRoute = served.find(({ route }) => route.kind === 'bff')?.route

  // what every route's path starts with: most requests are told apart by it without a lookup
  const routePrefix = commonPrefix([...routes.keys()].filter((path) => !path.startsWith(BFF_PREFIX)))

  return {
    config,
    sessionStore: backend.opened,
    sessions,
    served,
    match(url) {
      if (bffRoute && url.startsWith(BFF_PREFIX)) return routes.get(pathOf(url)) ?? bffRoute
      if (!url.startsWith(routePrefix)) return undefined
      return routes.get(pathOf(url))
    },
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

/**
 * `POST /auth/ssf` with `OAUTH_SSF`: what each Shared Signals event does to the user's sessions.
 * `end`: with a server-side store, their records destroyed (`sessions.endAll`); with cookie
 * sessions, an "ended before" record. The others: a record each session is checked against.
 */
function sharedSignals(config: OAuthConfig, engine: Engine, store: SessionStore | undefined, sessions: SessionControl): Engine['sharedSignals'] {
  const { records, backend } = engine
  if (!config.providers.some((provider) => provider.ssf) || !store || !isCoordinating(store) || !records) return undefined
  return createSharedSignals(config, engine.providers.list, store, async (action, provider, sub) => {
    if (action === 'reauthenticate') await records.reauthenticate(provider, sub)
    else if (action === 'refresh') await records.refreshClaims(provider, sub)
    else if (backend.kind === 'cookie') await records.endUser(provider, sub)
    else await sessions.endAll(sub, { provider })
  })
}

/**
 * The session records (see `session/ended.ts`): cookie sessions' "ended before" records with
 * `OAUTH_REDIS_URL`, and with `OAUTH_SSF` Shared Signals' (in the server-side store, or that
 * Redis). Keyed by the session's provider (by name) and its identity's `sub` and `sid`.
 */
function sessionRecords(config: OAuthConfig, backend: SessionBackend, providerOf: (session: SessionData) => string | undefined): SessionRecords | undefined {
  const store = backend.kind === 'cookie' ? backend.records : backend.store
  const uses = { ends: backend.kind === 'cookie', signals: config.providers.some((provider) => provider.ssf) }
  if (!canRecord(store) || !(uses.ends || uses.signals)) return undefined
  return createSessionRecords(store, config.sessionMaxAge, uses, (session) => {
    const identity = identityOf(session)
    const provider = identity?.provider ?? providerOf(session)
    return identity && provider !== undefined ? { provider, sub: identity.sub, sid: identity.sid, authTime: identity.auth_time, claimsTime: uses.signals ? tokensIssuedAt(session) : undefined } : undefined
  })
}

/** A request URL's path, without its query. */
function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** The longest string every one of `paths` starts with. */
function commonPrefix(paths: string[]): string {
  let prefix = paths[0] ?? ''
  for (const path of paths) while (!path.startsWith(prefix)) prefix = prefix.slice(0, -1)
  return prefix
}

/** The route handlers, by route: codegrant's own, and each provider's login and callback. */
function dispatch(context: Context, route: Route): Promise<CoreResponse> {
  const { config, providers, backchannel, sharedSignals } = context.engine
  if (route.kind === 'logout') return tracedLogout(context)
  if (route.kind === 'logout-done') return Promise.resolve(logoutDone(context))
  if (route.kind === 'frontchannel-logout') return frontchannelLogout(context)
  if (route.kind === 'bff-session') return Promise.resolve(bffSession(context))
  if (route.kind === 'bff-silent-login') return bffSilentLogin(context)
  if (route.kind === 'bff') return bffProxy(context, apiFetch)
  if (route.kind === 'ssf') return sharedSignals ? sharedSignals(context.request) : Promise.resolve(json(404, { error: 'not_found' }))
  if (route.kind === 'backchannel-logout') return backchannel ? backchannel.handle(context.request) : Promise.resolve(json(404, { error: 'not_found' }))
  const initiated = route.kind === 'login' ? initiatedLogin(context.request) : undefined
  if (initiated) return thirdPartyLogin(context, initiated, route.provider)
  if (route.provider === undefined && route.kind === 'login' && config.named && config.defaultProvider === undefined) return Promise.resolve(chooseProvider(config, context.request))
  const runtime = route.provider === undefined ? providers.preferred(undefined) ?? providers.first : providers.byName(route.provider)
  if (!runtime) return Promise.resolve(json(404, { error: 'not_found' }))
  return route.kind === 'login' ? login(context, runtime) : callback(context, runtime)
}
