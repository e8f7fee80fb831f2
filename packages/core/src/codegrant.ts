import type { OAuthOptions } from './config/options.js'
import { resolveConfig } from './config/resolve.js'
import type { OAuthConfig } from './config/resolved.js'
import { cookiesOf, load, noSession, now, persist, readStored, UNLOADED, type Context, type CookieSink, type Engine } from './context.js'
import { announce, createDiagnostics, notMounted } from './diagnostics.js'
import { CodegrantError, causedByStatus, isCodegrantError } from './errors.js'
import { CALLBACK_HEADERS, fetchUserinfo } from './flow/callback.js'
import { callback, clearTransaction } from './flow/callback-route.js'
import { createBackchannelLogout } from './flow/backchannel-logout.js'
import { createExchangeOnce } from './flow/exchange-once.js'
import { appLogin, beginLogin, login } from './flow/login-route.js'
import { logout } from './flow/logout-route.js'
import { dpopResourceFetch } from './flow/dpop.js'
import { refreshDue } from './flow/refresh.js'
import { chooseProvider } from './flow/chooser.js'
import { servedRoutes, type Route } from './flow/provider-routes.js'
import { transactionCookies } from './flow/transaction.js'
import { decide, isGuardLogin, type GuardLogin, type RequireAuthOptions } from './guard.js'
import { appPath, errorResponse, json, redirect, type CoreRequest, type CoreResponse } from './http.js'
import { describe } from './provider/http.js'
import { createProviderRuntimes } from './provider/runtime.js'
import type { OAuthRequestState } from './request-state.js'
import { createSessionBackend, remaining } from './session/backend.js'
import { createCookieCodec } from './session/cookie-codec.js'
import { userClaims } from './session/claims.js'
import { identityOf } from './session/identity.js'
import { isCoordinating, type MaybePromise, type SessionData, type SessionStore, type UserClaims } from './session/store.js'

export type { CookieSink } from './context.js'
export type { Route } from './flow/provider-routes.js'

/** One configured codegrant: what an adapter holds. Create it once, at start-up. */
export interface Codegrant {
  readonly config: OAuthConfig
  /**
   * The server-side session store in use: the one passed in, the memory store, or the Redis store
   * opened for `OAUTH_SESSION_STORE=redis` (its `close()` ends the connection, e.g. at shutdown).
   * Undefined for cookie sessions.
   */
  readonly sessionStore: SessionStore | undefined
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

const CONTEXT = Symbol('codegrant.context')

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
  const engine: Engine = {
    config,
    backend,
    transactions: transactionCookies(config, codec, prefix),
    providers,
    exchangeOnce: createExchangeOnce(config, backend.store),
    backchannel: config.backchannelLogout && backend.store && isCoordinating(backend.store)
      ? { store: backend.store, handle: createBackchannelLogout(config, providers.list, backend.store) }
      : undefined,
    // re-issue the session cookie at most every 1/20 of the idle timeout (a day: every 72 minutes)
    renewAfter: Math.max(1, Math.floor(config.sessionIdleTimeout / 20)),
    diagnostics: createDiagnostics(config),
    connections: new WeakMap(),
  }
  for (const runtime of engine.providers.list) announce(config, runtime.settings)
  const served = servedRoutes(config)
  const routes = new Map(served.map(({ path, route }) => [path, route]))

  // what every route's path starts with: most requests are told apart by it without a lookup
  const routePrefix = commonPrefix([...routes.keys()])

  return {
    config,
    sessionStore: backend.opened,
    served,
    match(url) {
      if (!url.startsWith(routePrefix)) return undefined
      const query = url.indexOf('?')
      return routes.get(query === -1 ? url : url.slice(0, query))
    },
    attach(request, sink, target) {
      engine.diagnostics.observe(request)
      const context: Context = { engine, request, sink: sink as CookieSink<unknown>, target, parsed: undefined, session: UNLOADED, superseded: false, unavailable: undefined }
      // one allocation per request: the getters live on a shared prototype
      const state = Object.create(STATE_PROTOTYPE) as OAuthRequestState & { [CONTEXT]: Context }
      state[CONTEXT] = context
      if (!backend.outage) return state
      // a store that does I/O is read first; if it fails, the request goes on signed out (context.ts)
      return readStored(context, state)
    },
    respond(request, error) {
      return errorResponse(config, request, isCodegrantError(error) ? error : unexpected(config, error))
    },
    async handle(route, request, state) {
      const context = contextOf(state)
      context.request = request // may now carry the form body
      try {
        return await dispatch(context, route)
      } catch (error) {
        const failure = isCodegrantError(error) ? error : unexpected(config, error)
        const response = errorResponse(config, request, failure)
        if (route.startsWith('callback')) {
          engine.diagnostics.rejected(failure)
          Object.assign(response.headers, CALLBACK_HEADERS)
          // clean-up is best effort: it must never turn a clear 4xx/5xx into a rejection. A
          // callback refused because the store was down is kept (its code was not exchanged):
          // reloaded once the store answers, it signs the user in
          try {
            if (failure !== context.unavailable) response.cookies.push(...clearTransaction(context))
          } catch (cleanup) {
            config.logger.warn(`the sign-in cookie could not be cleared: ${describe(cleanup)}`)
          }
        }
        return response
      }
    },
  }
}

const NO_REQUIREMENTS: RequireAuthOptions = Object.freeze({})

/**
 * The guard: undefined lets the request through; otherwise the response to send (302 to login,
 * 401, 403, or 502/504 when a due refresh cannot be done). Refreshes first when the access
 * token is due, so guarded handlers see fresh tokens. `request` defaults to the one the state
 * was attached with. When the session store could not be read for this request: 503 with
 * Retry-After (never 401 or a login: the user's session may well exist).
 */
export function guard(state: OAuthRequestState, request?: CoreRequest, options: RequireAuthOptions = NO_REQUIREMENTS): MaybePromise<CoreResponse | undefined> {
  if (!(state as { [CONTEXT]?: Context } | undefined)?.[CONTEXT]) return notMounted(request)
  const context = contextOf(state)
  const { config } = context.engine
  if (context.unavailable) return errorResponse(config, request ?? context.request, context.unavailable)
  // one clock reading for the whole decision
  const at = now()
  const session = load(context, at)
  const asked = request ?? context.request
  if (session && session.tokens.refreshToken && refreshDue(config, session, at)) {
    return refreshSession(context, session).then(
      (fresh) => settle(context, decide(config, asked, fresh, options, cookiesOf(context), now())),
      (error: unknown) =>
        isCodegrantError(error, 'codegrant/session_ended')
          ? settle(context, decide(config, asked, undefined, options, cookiesOf(context), now()))
          : errorResponse(config, asked, isCodegrantError(error) ? error : unexpected(config, error)),
    )
  }
  return settle(context, decide(config, asked, session, options, cookiesOf(context), at))
}

/** A guard decision as a response: a login the guard asked for (step-up, silent) is started here. */
function settle(context: Context, decision: CoreResponse | GuardLogin | undefined): MaybePromise<CoreResponse | undefined> {
  if (!isGuardLogin(decision)) return decision
  const { config, providers } = context.engine
  // the session's provider (step-up), else the default; with neither, the user chooses first
  const runtime = providers.preferred(load(context))
  if (!runtime) return redirect(`${appPath(config, config.routes.login)}?${new URLSearchParams({ returnTo: decision.returnTo })}`)
  return beginLogin(context, runtime, decision.returnTo, decision.params, { ...(decision.stepUp ? { stepUp: decision.stepUp } : {}), ...(decision.silent ? { silent: true } : {}) }).then(
    (response) => ({ ...response, cookies: [...response.cookies, ...decision.cookies] }),
    (error: unknown) => errorResponse(config, context.request, isCodegrantError(error) ? error : unexpected(config, error)),
  )
}

/** The longest string every one of `paths` starts with. */
function commonPrefix(paths: string[]): string {
  let prefix = paths[0] ?? ''
  for (const path of paths) while (!path.startsWith(prefix)) prefix = prefix.slice(0, -1)
  return prefix
}

function contextOf(state: OAuthRequestState): Context {
  const context = (state as unknown as { [CONTEXT]?: Context })[CONTEXT]
  if (!context) throw new TypeError('not a codegrant request state: mount oauth() before requireAuth()')
  return context
}

function userOf(context: Context): Readonly<UserClaims> | undefined {
  const session = load(context)
  return session && userClaims(session)
}

async function refreshSession(context: Context, session: SessionData): Promise<SessionData> {
  try {
    const fresh = await context.engine.providers.of(session)!.refresh(session)
    context.session = fresh
    // with a store, the refresher wrote the record (only if it still existed); the cookie holds only its id
    if (!context.engine.backend.store) await persist(context, fresh)
    return fresh
  } catch (error) {
    if (isCodegrantError(error, 'codegrant/session_ended')) {
      context.session = undefined
      context.sink(await context.engine.backend.clear(cookiesOf(context), session), context.target)
    }
    throw error
  }
}

async function accessToken(context: Context): Promise<string> {
  const session = load(context)
  if (!session) throw noSession(context)
  if (!refreshDue(context.engine.config, session, now())) return session.tokens.accessToken
  return (await refreshSession(context, session)).tokens.accessToken
}

async function forceRefresh(context: Context): Promise<SessionData['tokens']> {
  const session = load(context)
  if (!session) throw noSession(context)
  // the request came with the cookie from before a refresh that finished: that refresh is the answer
  if (context.superseded) return session.tokens
  return (await refreshSession(context, session)).tokens
}

async function authorizedFetch(context: Context, input: string | URL, init: RequestInit = {}): Promise<Response> {
  const { providers } = context.engine
  const send = async (session: SessionData) => {
    // a DPoP-bound token goes with a proof of the session's key (flow/dpop.ts)
    const runtime = session.dpop && (await providers.of(session)!.resolve()).dpop
    if (runtime) return dpopResourceFetch(runtime, session.dpop!, session.tokens.accessToken, input, init)
    const headers = new Headers(init.headers)
    headers.set('authorization', `Bearer ${session.tokens.accessToken}`)
    return fetch(input, { ...init, headers })
  }
  // the origins of the session's provider (the first one's when signed out: the error is the same)
  const signedIn = load(context)
  await (signedIn ? providers.of(signedIn)! : providers.first).allowOrigin(input instanceof URL ? input : String(input))
  await accessToken(context)
  const session = load(context)!
  const response = await send(session)
  if (response.status !== 401 || !session.tokens.refreshToken) return response
  await response.body?.cancel()
  return send(await refreshSession(context, session))
}

const STATE_PROTOTYPE: ThisType<{ [CONTEXT]: Context }> & OAuthRequestState = {
  get isAuthenticated() {
    return load(this[CONTEXT]) !== undefined
  },
  get provider() {
    const session = load(this[CONTEXT])
    return session && this[CONTEXT].engine.providers.of(session)!.name
  },
  get user() {
    return userOf(this[CONTEXT])
  },
  get tokens() {
    return load(this[CONTEXT])?.tokens
  },
  get session() {
    const context = this[CONTEXT]
    const session = load(context)
    if (!session) return undefined
    return { issuedAt: session.iat, expiresAt: session.exp, idleExpiresAt: session.uat + context.engine.config.sessionIdleTimeout }
  },
  accessToken() {
    return accessToken(this[CONTEXT])
  },
  fetch(input, init) {
    return authorizedFetch(this[CONTEXT], input, init)
  },
  refresh() {
    return forceRefresh(this[CONTEXT])
  },
  login(options) {
    return appLogin(this[CONTEXT], options)
  },
  get data() {
    return load(this[CONTEXT])?.data
  },
  userinfo() {
    const context = this[CONTEXT]
    if (!context.userinfo) {
      const pending = userinfo(context)
      context.userinfo = pending
      pending.catch(() => { if (context.userinfo === pending) context.userinfo = undefined })
    }
    return context.userinfo
  },
}

/** The provider's userinfo for the signed-in user (its `sub` must be the session identity's), with a fresh access token. */
async function userinfo(context: Context): Promise<UserClaims> {
  const token = await accessToken(context)
  // read after accessToken(), which may have refreshed the session
  const session = load(context)
  if (!session) throw noSession(context)
  const runtime = context.engine.providers.of(session)!
  const ask = async (current: SessionData, accessToken: string) =>
    fetchUserinfo(context.engine.config, await runtime.resolve(), accessToken, runtime.settings.openid ? identityOf(current)?.sub : undefined, current.tokens.tokenType === 'DPoP' ? current.dpop : undefined, current.tokens.scope)
  try {
    return await ask(session, token)
  } catch (error) {
    // like oauth.fetch: a token the provider refuses (401, e.g. its grant was revoked) is refreshed
    // once and the call retried; a refresh answered invalid_grant ends the session (401)
    if (!causedByStatus(error, 401) || !session.tokens.refreshToken) throw error
    const fresh = await refreshSession(context, session)
    return ask(fresh, fresh.tokens.accessToken)
  }
}

/** The route handlers, by route: codegrant's own, and each provider's login and callback. */
function dispatch(context: Context, route: Route): Promise<CoreResponse> {
  const { config, providers } = context.engine
  if (route === 'logout') return logout(context)
  if (route === 'backchannel-logout') return context.engine.backchannel ? context.engine.backchannel.handle(context.request) : Promise.resolve(json(404, { error: 'not_found' }))
  if (route === 'login' && config.named && config.defaultProvider === undefined) return Promise.resolve(chooseProvider(config, context.request))
  const [kind, name] = route.split(':') as ['login' | 'callback', string | undefined]
  const runtime = name === undefined ? providers.preferred(undefined) ?? providers.first : providers.byName(name)!
  return kind === 'login' ? login(context, runtime) : callback(context, runtime)
}

function unexpected(config: OAuthConfig, error: unknown): CodegrantError {
  config.logger.error(`unexpected failure: ${error instanceof Error ? `${error.name}: ` : ''}${describe(error)}`)
  return new CodegrantError('codegrant/provider_error', 'Sign-in failed unexpectedly. Try again.', { cause: error })
}
