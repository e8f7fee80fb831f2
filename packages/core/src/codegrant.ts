import { resolveConfig, type OAuthConfig, type OAuthOptions } from './config.js'
import { announce, createDiagnostics, notMounted, type Diagnostics } from './diagnostics.js'
import { CodegrantError, causedByStatus, isCodegrantError } from './errors.js'
import { loginParams, mergeParams, queryParams, type AuthorizationParams, type LoginOptions } from './flow/authorization-params.js'
import { CALLBACK_HEADERS, completeLogin, fetchUserinfo } from './flow/callback.js'
import { createBackchannelLogout, indexSession, type BackchannelLogout } from './flow/backchannel-logout.js'
import { createExchangeOnce } from './flow/exchange-once.js'
import { startLogin, type LoginExtras } from './flow/login.js'
import { dpopResourceFetch } from './flow/dpop.js'
import { silentFallback } from './flow/silent-login.js'
import { authTimeFailure, verifyStepUp } from './flow/step-up.js'
import { applyLoginHook } from './flow/on-login.js'
import { finishLogout } from './flow/logout.js'
import { refreshDue } from './flow/refresh.js'
import { chooseProvider } from './flow/chooser.js'
import { assertSameProvider, servedRoutes, withProvider, type Route } from './flow/provider-routes.js'
import { transactionCookies, TRANSACTION_TTL, type TransactionCookies } from './flow/transaction.js'
import { decide, isGuardLogin, type GuardLogin, type RequireAuthOptions } from './guard.js'
import { appPath, errorResponse, escapeHtml, formParams, header, html, json, redirect, type CoreRequest, type CoreResponse } from './http.js'
import { describe } from './provider/http.js'
import { createProviderRuntimes, type ProviderRuntime, type ProviderRuntimes } from './provider/runtime.js'
import type { OAuthRequestState } from './request-state.js'
import { safeReturnTo } from './return-to.js'
import { createSessionBackend, guarded, newSessionId, remaining, type SessionBackend } from './session/backend.js'
import { createCookieCodec } from './session/cookie-codec.js'
import { parseCookies, type RequestCookies } from './session/cookie-jar.js'
import { userClaims } from './session/claims.js'
import { isCoordinating, type CoordinatingStore, type MaybePromise, type SessionData, type UserClaims } from './session/store.js'

export type { Route } from './flow/provider-routes.js'

/**
 * Receives `Set-Cookie` values produced while a request is handled (refresh, renewal, logout),
 * with the `target` given to `attach()` (the response): one function per app, no closure per request.
 */
export type CookieSink<T = never> = (setCookies: string[], target: T) => void

/** One configured codegrant: what an adapter holds. Create it once, at start-up. */
export interface Codegrant {
  readonly config: OAuthConfig
  /** Every route codegrant serves, by path (per provider with several): for frameworks that register routes. */
  readonly served: readonly { readonly path: string; readonly route: Route }[]
  /** Which of codegrant's routes a request path is for (the query is ignored), if any. */
  match(url: string): Route | undefined
  /**
   * The request state for one request. Synchronous for the cookie and memory stores (the
   * session is decrypted lazily, on first use); a promise for stores that do I/O. `sink`
   * receives `Set-Cookie` values with `target`.
   */
  attach<T>(request: CoreRequest, sink: CookieSink<T>, target: T): MaybePromise<OAuthRequestState>
  /** Serves one of codegrant's routes. Never rejects: failures become 4xx/5xx responses. */
  handle(route: Route, request: CoreRequest, state: OAuthRequestState): Promise<CoreResponse>
  /**
   * The answer to an `attach` that failed (`codegrant/store_unavailable`: 503 with Retry-After),
   * as an error page or JSON: adapters send it instead of passing the error on.
   */
  respond(request: CoreRequest, error: unknown): CoreResponse
}

interface Engine {
  config: OAuthConfig
  backend: SessionBackend
  transactions: TransactionCookies
  providers: ProviderRuntimes
  renewAfter: number
  diagnostics: Diagnostics
  exchangeOnce: ReturnType<typeof createExchangeOnce<{ session: SessionData; location: string }>>
  /** With `OAUTH_BACKCHANNEL_LOGOUT`: serves its route, and new sessions are indexed for it. */
  backchannel: { store: CoordinatingStore; handle: BackchannelLogout } | undefined
}

interface Context {
  engine: Engine
  request: CoreRequest
  sink: CookieSink<unknown>
  target: unknown
  parsed: RequestCookies | undefined
  session: SessionData | undefined | typeof UNLOADED
  /** `userinfo()`'s answer, once per request. */
  userinfo?: Promise<UserClaims>
  /** True when the request's cookie predates a refresh this process finished: `session` is its result. */
  superseded: boolean
}

const UNLOADED = Symbol('unloaded')
const CONTEXT = Symbol('codegrant.context')

const now = () => Math.floor(Date.now() / 1000)

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
  }
  for (const runtime of engine.providers.list) announce(runtime.config)
  const served = servedRoutes(config)
  const routes = new Map(served.map(({ path, route }) => [path, route]))

  // what every route's path starts with: most requests are told apart by it without a lookup
  const routePrefix = commonPrefix([...routes.keys()])

  return {
    config,
    served,
    match(url) {
      if (!url.startsWith(routePrefix)) return undefined
      const query = url.indexOf('?')
      return routes.get(query === -1 ? url : url.slice(0, query))
    },
    attach(request, sink, target) {
      engine.diagnostics.observe(request)
      const context: Context = { engine, request, sink: sink as CookieSink<unknown>, target, parsed: undefined, session: UNLOADED, superseded: false }
      // one allocation per request: the getters live on a shared prototype
      const state = Object.create(STATE_PROTOTYPE) as OAuthRequestState & { [CONTEXT]: Context }
      state[CONTEXT] = context
      if (typeof config.sessionStore !== 'object') return state
      // a store that does I/O is read, and its renewal saved, before the request goes on
      // (getters cannot wait); a failed read rejects with codegrant/store_unavailable
      const settle = (found: SessionData | undefined) => {
        const session = found && engine.providers.of(found) ? found : undefined
        const saved = renew(context, session, read instanceof Promise ? now() : at)
        return saved ? saved.then(() => state) : state
      }
      const at = now()
      const read = engine.backend.read(cookiesOf(context), at)
      return read instanceof Promise ? read.then(settle) : settle(read)
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
          // clean-up is best effort: it must never turn a clear 4xx/5xx into a rejection
          try {
            response.cookies.push(...clearTransaction(context))
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
 * was attached with.
 */
export function guard(state: OAuthRequestState, request?: CoreRequest, options: RequireAuthOptions = NO_REQUIREMENTS): MaybePromise<CoreResponse | undefined> {
  if (!(state as { [CONTEXT]?: Context } | undefined)?.[CONTEXT]) return notMounted(request)
  const context = contextOf(state)
  const { config } = context.engine
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

/** Starts a login with the configured parameters under `params` (later layers win a name). */
async function beginLogin(context: Context, runtime: ProviderRuntime, returnTo: string | null, params: AuthorizationParams, extras: LoginExtras = {}): Promise<CoreResponse> {
  const { config } = runtime
  const merged = mergeParams(config.authorizationParams, params)
  return startLogin(config, await runtime.resolve(), context.engine.transactions, cookiesOf(context), returnTo, now(), { ...extras, params: merged.params, maxAge: merged.maxAge })
}

/** `oauth.login(options)`: the transaction cookie goes out through the sink; the app redirects to the URL. */
async function appLogin(context: Context, options: LoginOptions = {}): Promise<string> {
  const { providers } = context.engine
  const runtime = options.provider === undefined ? providers.preferred(load(context)) : providers.byName(options.provider)
  if (!runtime) {
    throw new TypeError(`codegrant: login() needs a provider (${options.provider === undefined ? 'none is the default' : `${JSON.stringify(options.provider)} is not one`}): one of ${providers.list.map((provider) => provider.name).join(', ')}`)
  }
  const response = await beginLogin(context, runtime, options.returnTo ?? null, loginParams(options))
  context.sink(response.cookies, context.target)
  return response.headers.location!
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

function cookiesOf(context: Context): RequestCookies {
  return (context.parsed ??= parseCookies(header(context.request, 'cookie')))
}

function userOf(context: Context): Readonly<UserClaims> | undefined {
  const session = load(context)
  return session && userClaims(session)
}

function load(context: Context, at?: number): SessionData | undefined {
  if (context.session !== UNLOADED) return context.session
  const { backend, providers } = context.engine
  const time = at ?? now()
  const read = backend.read(cookiesOf(context), time)
  // only the cookie and memory backends get here, and they read synchronously
  if (read instanceof Promise) read.catch(() => {})
  // a session from a provider this app no longer has is no session
  const runtime = read instanceof Promise || !read ? undefined : providers.of(read)
  let session = runtime ? (read as SessionData) : undefined
  // a cookie from before a refresh this process already did: continue from the refreshed
  // session, so this response cannot write the older tokens (a used refresh token) back
  const newer = session && !backend.store ? runtime!.refresh.successor(session) : undefined
  if (newer) {
    context.superseded = true
    session = { ...newer, uat: Math.max(newer.uat, session!.uat) }
    persist(context, session)?.catch(() => undefined)
  }
  renew(context, session, time)
  // renew() has set it (a fresh read of the property: the narrowing above no longer holds)
  return (context as Context).session as SessionData | undefined
}

/**
 * Sets the context's session, sliding its idle window: re-issued at most every `renewAfter`
 * seconds. A renewal that cannot be saved is logged and skipped (the session was read; the next
 * request tries again). Returns the pending save of a store that does I/O; it never rejects.
 */
function renew(context: Context, session: SessionData | undefined, at = now()): Promise<void> | undefined {
  context.session = session
  if (!session || at - session.uat < context.engine.renewAfter) return undefined
  const renewed = { ...session, uat: at }
  context.session = renewed
  const skipped = (error: unknown) => context.engine.config.logger.warn(`the session's idle window could not be renewed: ${describe(error)}`)
  try {
    return persist(context, renewed)?.catch(skipped)
  } catch (error) {
    skipped(error)
    return undefined
  }
}

function persist(context: Context, session: SessionData): Promise<void> | undefined {
  const written = context.engine.backend.write(cookiesOf(context), session, now())
  if (!(written instanceof Promise)) {
    context.sink(written, context.target)
    return undefined
  }
  return written.then((cookies) => context.sink(cookies, context.target))
}

async function refreshSession(context: Context, session: SessionData, force = false): Promise<SessionData> {
  try {
    const fresh = await context.engine.providers.of(session)!.refresh(session, { force })
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
  if (!session) throw new CodegrantError('codegrant/unauthenticated', 'Not signed in.')
  if (!refreshDue(context.engine.config, session, now())) return session.tokens.accessToken
  return (await refreshSession(context, session)).tokens.accessToken
}

async function forceRefresh(context: Context): Promise<SessionData['tokens']> {
  const session = load(context)
  if (!session) throw new CodegrantError('codegrant/unauthenticated', 'Not signed in.')
  // the request came with the cookie from before a refresh that finished: that refresh is the answer
  if (context.superseded) return session.tokens
  return (await refreshSession(context, session, true)).tokens
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

/** The provider's userinfo for the signed-in user (its `sub` must be the session's), with a fresh access token. */
async function userinfo(context: Context): Promise<UserClaims> {
  const token = await accessToken(context)
  // read after accessToken(), which may have refreshed the session
  const session = load(context)
  if (!session) throw new CodegrantError('codegrant/unauthenticated', 'Not signed in.')
  const runtime = context.engine.providers.of(session)!
  const ask = async (current: SessionData, accessToken: string) =>
    fetchUserinfo(runtime.config, await runtime.resolve(), accessToken, runtime.config.openid ? userClaims(current).sub : undefined, current.tokens.tokenType === 'DPoP' ? current.dpop : undefined, current.tokens.scope)
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

async function login(context: Context, runtime: ProviderRuntime): Promise<CoreResponse> {
  const { config } = context.engine
  const { request } = context
  if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET')
  const mismatch = context.engine.diagnostics.loginOrigin(request)
  if (mismatch) return mismatch
  const query = new URL(request.url, 'http://local.invalid').searchParams
  // a sign-in that could not be stored at the end is not started: 503 now, not after the provider
  const store = context.engine.backend.store
  if (store && typeof config.sessionStore === 'object') await guarded(config, 'read', () => store.get(newSessionId()))
  // from the browser's query: returnTo, and only the parameters the app allows
  return beginLogin(context, runtime, query.get('returnTo'), queryParams(config.loginQueryParams, query))
}

async function callback(context: Context, runtime: ProviderRuntime): Promise<CoreResponse> {
  const { config, transactions, backend } = context.engine
  const provider = runtime.resolve
  const { request } = context
  const method = config.responseMode === 'form_post' ? 'POST' : 'GET'
  if (request.method !== method) return { ...methodNotAllowed(method), headers: { ...CALLBACK_HEADERS, allow: method } }
  const params = method === 'GET' ? new URL(request.url, 'http://local.invalid').searchParams : formParams(request.body)
  const states = params?.getAll('state') ?? []
  if (!params || states.length !== 1) {
    throw new CodegrantError('codegrant/invalid_callback', states.length > 1 ? 'The sign-in response carries more than one state.' : 'The sign-in response has no state: start the sign-in again.')
  }
  const state = states[0]!
  const cookies = cookiesOf(context)
  const transaction = transactions.read(cookies, state, now())
  if (transaction === 'missing') {
    // the back button after a completed login lands here: the user is already in
    if (load(context)) return redirect(appPath(config, '/'), [], { ...CALLBACK_HEADERS })
    throw new CodegrantError('codegrant/transaction_missing', missingTransactionHint(context))
  }
  if (transaction === 'invalid') {
    throw new CodegrantError('codegrant/transaction_invalid', 'The sign-in cookie is invalid or expired. Start the sign-in again.')
  }
  // a response for another provider's login is refused before anything is sent anywhere
  assertSameProvider(transaction, runtime.name, context.engine.providers.first.name)
  let completed: Awaited<ReturnType<typeof completeLogin>>
  try {
    // one exchange per state in this process: a duplicate delivery shares the first one's result
    completed = await context.engine.exchangeOnce(state, params.toString(), async () => completeLogin(runtime.config, await provider(), transaction, params, now()))
  } catch (error) {
    const back = silentFallback(config, transaction, error, CALLBACK_HEADERS)
    if (back) return { ...back, cookies: [transactions.remove(state)] }
    throw authTimeFailure(transaction, error) ?? error
  }
  const { location } = completed
  if (transaction.stepUp) verifyStepUp(transaction.stepUp, userClaims(completed.session))
  // the app's hook last: it sees (and may reshape) a user who passed every check
  const session = withProvider(runtime.config, await applyLoginHook(config, completed.session, (await provider()).as.issuer))
  const previous = load(context)
  if (previous && previous.sid !== session.sid) {
    // end the previous session's server-side record; its cookie is overwritten below
    const destroyed = backend.clear({}, previous)
    if (destroyed instanceof Promise) await destroyed
  }
  // filed for back-channel logout before the cookie exists: no session the provider cannot end
  if (context.engine.backchannel) await indexSession(config, context.engine.backchannel.store, (await provider()).as.issuer, session, now())
  const written = backend.write(cookies, session, now(), true)
  const sessionCookies = written instanceof Promise ? await written : written
  const cookiesOut = [transactions.remove(state), ...sessionCookies]
  config.logger.debug(`callback: session started (${typeof config.sessionStore === 'object' ? 'custom' : config.sessionStore} store, ${sessionCookies.length} cookie(s), ${sessionCookies.reduce((size, line) => size + line.length, 0)} bytes); redirecting to the app`)
  context.session = session
  return redirect(location, cookiesOut, { ...CALLBACK_HEADERS })
}

function clearTransaction(context: Context): string[] {
  const { transactions } = context.engine
  const params = context.request.method === 'GET' ? new URL(context.request.url, 'http://local.invalid').searchParams : formParams(context.request.body)
  const state = params?.get('state')
  if (!state) return []
  const name = transactions.name(state)
  return cookiesOf(context)[name] !== undefined && transactions.isTransaction(name) ? [transactions.remove(state)] : []
}

/** Names the likely cause instead of a bare "invalid state". */
function missingTransactionHint(context: Context): string {
  const { config, transactions } = context.engine
  const others = Object.keys(cookiesOf(context)).filter(transactions.isTransaction).length
  if (others > 0) {
    return 'This sign-in response does not match a sign-in started in this browser (it may already have been used). Start the sign-in again.'
  }
  const host = (config.trustProxy ? header(context.request, 'x-forwarded-host') : undefined) ?? header(context.request, 'host')
  const hostHint = host && host !== config.baseUrl.host ? ` This request came to ${host}, but OAUTH_BASE_URL is ${config.baseUrl.origin}: open the app at that address.` : ''
  const modeHint = config.responseMode === 'form_post' ? ' With form_post the cookie needs SameSite=None and Secure (https).' : ''
  return `This browser did not send back the sign-in cookie, so the response cannot be trusted. Start the sign-in again from this site; it must be finished within ${TRANSACTION_TTL / 60} minutes with cookies allowed.${hostHint}${modeHint}`
}

async function logout(context: Context): Promise<CoreResponse> {
  const { config, backend, providers } = context.engine
  const { request } = context
  if (request.method !== 'GET' && request.method !== 'POST') return methodNotAllowed('GET, POST')
  // RFC 9700 leaves RP logout CSRF open: only a request known to come from this origin (or
  // typed by the user) may log out on GET; anything else is asked to confirm with a POST
  const site = header(request, 'sec-fetch-site')
  const fromHere = site === 'same-origin' || site === 'none'
  if (request.method === 'GET' && !fromHere) return confirmLogout(config)
  // a POST: the browser's fetch metadata decides when it sends it (it is never opaque: a
  // sandboxed frame's request is cross-site); without it, the Origin must be this one or absent
  // (`null`, an opaque origin, is refused). A same-origin page with Referrer-Policy: no-referrer
  // posts `Origin: null` with `Sec-Fetch-Site: same-origin`, so Origin alone cannot decide.
  const origin = header(request, 'origin')
  const foreign = site !== undefined ? !fromHere : origin !== undefined && origin !== config.baseUrl.origin
  if (request.method === 'POST' && foreign) {
    throw new CodegrantError('codegrant/cross_site_request', 'Sign-out requests must come from this site.')
  }
  const session = load(context)
  const cleared = backend.clear(cookiesOf(context), session)
  const cookies = cleared instanceof Promise ? await cleared : cleared
  context.session = undefined
  const requested = new URL(request.url, 'http://local.invalid').searchParams.get('returnTo')
  const localReturnTo = requested === null ? undefined : appPath(config, safeReturnTo(requested))
  // the session's provider ends its session; signed out, the default one (if any) is told too
  const runtime = providers.preferred(session)
  const resolved = await runtime?.resolve().catch(() => undefined)
  return redirect(await finishLogout(runtime?.config ?? config, resolved, session, localReturnTo), cookies)
}

function confirmLogout(config: OAuthConfig): CoreResponse {
  const action = escapeHtml(appPath(config, config.routes.logout))
  return html(200, 'Sign out?', [`<form method="post" action="${action}"><button type="submit">Sign out</button></form>`])
}

function methodNotAllowed(allow: string): CoreResponse {
  return { status: 405, headers: { allow, 'content-type': 'application/json; charset=utf-8' }, cookies: [], body: JSON.stringify({ error: 'method_not_allowed' }) }
}

function unexpected(config: OAuthConfig, error: unknown): CodegrantError {
  config.logger.error(`unexpected failure: ${error instanceof Error ? `${error.name}: ` : ''}${describe(error)}`)
  return new CodegrantError('codegrant/provider_error', 'Sign-in failed unexpectedly. Try again.', { cause: error })
}
