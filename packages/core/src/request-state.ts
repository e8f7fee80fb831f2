/**
 * The request state every adapter puts on the request (`req.oauth`, …): its interface, and the
 * methods behind it. One object per request, whose getters and methods live on a shared prototype.
 */
import { now } from './clock.js'
import { sessionOf, noSession, persist, cookiesOf, type Context } from './context.js'
import { causedByStatus, CodegrantError, isCodegrantError } from './errors.js'
import type { LoginOptions } from './config/authorization-params.js'
import { fetchUserinfo } from './flow/userinfo.js'
import { challengesIn } from './provider/dpop.js'
import { fetchWire, type DpopProof, type Wire } from './provider/resource-wire.js'
import { discoverApi, resourceMetadataOf } from './flow/resource-metadata.js'
import { asksForMore, refusalOf } from './api-challenge.js'
import { appLogin } from './routes/login.js'
import { refreshDue } from './flow/refresh.js'
import { userClaims } from './session/claims.js'
import { identityOf } from './session/identity.js'
import type { ApiSettings } from './config/resolved.js'
import type { ProviderRuntime } from './providers.js'
import type { ApiToken, SessionData, TokenSet, UserClaims } from './session/store.js'
import { apiUrl, type SessionWriter } from './wallet.js'
import { answered, ATTR, SpanKind, traced } from './telemetry.js'
import { userSessions, type UserSessions } from './sessions.js'

/** When a session began and when it ends, in seconds since the epoch. */
export interface SessionTimes {
  /** When the user logged in. */
  issuedAt: number
  /** The absolute end (`OAUTH_SESSION_MAX_AGE` after login); no activity extends it. */
  expiresAt: number
  /**
   * The idle end (`OAUTH_SESSION_IDLE_TIMEOUT` after the last renewal). Requests that read the
   * session move it forward, at most every idle timeout / 20. The session ends at the earlier of
   * `expiresAt` and `idleExpiresAt`.
   */
  idleExpiresAt: number
}

/**
 * What every adapter puts on the request (`req.oauth`, `ctx.state.oauth`, `request.oauth`).
 * The session is decrypted on first use, not before.
 *
 * When a server-side session store (Redis) cannot be read for the request, the request still
 * goes on, signed out: `isAuthenticated` is false and `user`, `tokens`, `session`, `provider`
 * and `data` are undefined, so public pages render as for a visitor. What needs the session
 * refuses with `codegrant/store_unavailable` (503 with Retry-After) rather than "signed out":
 * the guard, `accessToken()`, `fetch()`, `refresh()`, `userinfo()` and `login()`. The session
 * cookie is kept, and works again once the store answers.
 */
export interface OAuthRequestState {
  /** True when the request carries a live session. */
  readonly isAuthenticated: boolean
  /**
   * The name of the provider the session came from (`github`, `corp`: the keys of `providers`,
   * or the names in `OAUTH_PROVIDERS`); `default` in an app with one provider; undefined when
   * signed out. Refresh, revocation, logout, step-up and `fetch` go to this provider.
   */
  readonly provider: string | undefined
  /**
   * The user's claims: the ID token's without its protocol claims (`iss`, `aud`, `exp`, `nonce`,
   * …; `keepProtocolClaims` keeps them), merged with userinfo when configured; undefined when
   * signed out. The app's to read: codegrant's own decisions read the session's identity.
   */
  readonly user: Readonly<UserClaims> | undefined
  /** The session's tokens; undefined when signed out. */
  readonly tokens: Readonly<TokenSet> | undefined
  /** The session's start and its absolute and idle ends; undefined when signed out. */
  readonly session: Readonly<SessionTimes> | undefined
  /**
   * A valid access token, refreshed first when less than `OAUTH_REFRESH_SKEW` seconds remain.
   * Concurrent calls for one session share one refresh.
   *
   * @throws CodegrantError `codegrant/unauthenticated` when signed out;
   *   `codegrant/store_unavailable` when the session store could not be read (503; the session is kept);
   *   `codegrant/session_ended` when the provider ended the session (it is cleared);
   *   `codegrant/token_expired` when the token expired and there is no refresh token (the
   *   session is kept: only a new login gives a new token);
   *   `codegrant/provider_error` / `codegrant/provider_timeout` on transient failures (the session is kept).
   * @see [RFC 6749 §6 — Refreshing an Access Token](https://www.rfc-editor.org/rfc/rfc6749.html#section-6)
   */
  accessToken(): Promise<string>
  /**
   * The access token for the API `api` of `OAUTH_APIS` (option `apis`): with token mode `login`
   * the session's own; otherwise the API's own token (its `resource`, audience and scope), obtained
   * on first use (RFC 8707 §2.2 refresh-token grant, or RFC 8693 token exchange), kept with the
   * session and renewed when due. Concurrent calls for one session and API share one grant.
   *
   * @throws TypeError for a name `OAUTH_APIS` does not list; CodegrantError as `accessToken()`,
   *   and `codegrant/provider_mismatch` when the API takes another provider's tokens (`OAUTH_<API>_PROVIDER`).
   * @example
   * const token = await req.oauth.accessToken('orders')
   */
  accessToken(api: string): Promise<string>
  /**
   * `fetch` to a protected resource with the access token in the `Authorization` header,
   * refreshing and retrying once when the resource answers 401.
   *
   * A URL under the base URL of one of `OAUTH_APIS` goes with that API's token (the longest base
   * URL that holds it), as `fetch(api, path)` would send it.
   *
   * @throws CodegrantError the `accessToken()` errors (`codegrant/store_unavailable` included);
   *   `codegrant/insufficient_scope` (403) / `codegrant/step_up_required` (401) when the resource
   *   asks for more scope (RFC 6750 §3.1) or a stronger sign-in (RFC 9470), with the `loginUrl`
   *   that would satisfy it (README "Calling APIs").
   * @see [RFC 6750 §2.1 — Authorization Request Header Field](https://www.rfc-editor.org/rfc/rfc6750.html#section-2.1)
   * @see [RFC 9449 §7 — Protected Resource Access with a DPoP-bound token](https://www.rfc-editor.org/rfc/rfc9449.html#section-7)
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>
  /**
   * `fetch` to `path` under the base URL of the API `api` (`OAUTH_<API>_URL`), with that API's own
   * token (see `accessToken(api)`), DPoP-bound when the session is; when the API answers 401 the
   * token is renewed once and the call retried. The path may not leave the base URL (`..`, encoded
   * slashes, another URL: `codegrant/origin_not_allowed`).
   *
   * @throws TypeError for a name `OAUTH_APIS` does not list; CodegrantError as `accessToken(api)`,
   *   and `codegrant/insufficient_scope` / `codegrant/step_up_required` as `fetch(url)`.
   * @example
   * const items = await (await req.oauth.fetch('orders', '/items')).json()
   */
  fetch(api: string, path: string, init?: RequestInit): Promise<Response>
  /**
   * Refreshes the tokens now, however long the access token has left, and saves
   * them in the session. For an app that knows the token is stale before it expires (the
   * user's permissions changed, a resource refused it) or that shows refresh working. Joins a
   * refresh already in flight for the session rather than starting a second one.
   *
   * @returns the session's new tokens.
   * @throws CodegrantError `codegrant/unauthenticated` when signed out;
   *   `codegrant/store_unavailable` when the session store could not be read (503; the session is kept);
   *   `codegrant/token_expired` when the provider gave no refresh token (the session is kept);
   *   `codegrant/session_ended` when the provider refuses the refresh token (the session is
   *   cleared); `codegrant/provider_error` / `codegrant/provider_timeout` on transient failures.
   * @see [RFC 6749 §6 — Refreshing an Access Token](https://www.rfc-editor.org/rfc/rfc6749.html#section-6)
   * @example
   * app.post('/settings/roles', requireAuth(), async (req, res) => {
   *   await req.oauth.refresh() // the new token carries the new roles
   *   res.redirect('/')
   * })
   */
  refresh(): Promise<Readonly<TokenSet>>
  /**
   * Starts a login from the app's own handler, with parameters for this login only
   * (`loginHint`, `uiLocales`, `prompt`, `maxAge`, `acrValues`, or any other through `params`;
   * the protocol's own are refused). The transaction cookie is set on the response; redirect the
   * browser to the URL returned. With `maxAge`, the ID token's `auth_time` is checked.
   *
   * @returns the authorization endpoint URL (or the PAR `request_uri` URL) to redirect to.
   * @throws TypeError for a protected or malformed parameter; CodegrantError when the provider
   *   cannot be reached (`codegrant/provider_unavailable`, `codegrant/provider_error`, …), or
   *   `codegrant/store_unavailable` when the session store could not be read for this request
   *   (the sign-in could not be stored at its end).
   * @see [OpenID Connect Core 1.0 §3.1.2.1 — Authentication Request](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest)
   * @example
   * app.get('/signup', async (req, res) => res.redirect(await req.oauth.login({ prompt: 'create', returnTo: '/welcome' })))
   */
  login(options?: LoginOptions): Promise<string>
  /** What the app's `onLogin` hook kept in the session (`{ data }`); undefined otherwise. */
  readonly data: Readonly<Record<string, unknown>> | undefined
  /**
   * The provider's userinfo for the signed-in user, fetched once per request with a valid access
   * token; its `sub` must be the session's. Like `fetch`, a token the provider refuses (401) is
   * refreshed once and the call retried.
   *
   * @throws CodegrantError `codegrant/unauthenticated` when signed out (`codegrant/store_unavailable`
   *   when the session store could not be read); `codegrant/userinfo_invalid`
   *   when the provider's answer is refused; the `accessToken()` errors.
   * @see [OpenID Connect Core 1.0 §5.3 — UserInfo Endpoint](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)
   * @example
   * const { email } = await req.oauth.userinfo()
   */
  userinfo(): Promise<Readonly<UserClaims>>
  /**
   * The signed-in user's sessions, with a server-side store: listed ("my devices", this one
   * marked `current`) and ended, one or all but this one, on every instance; their refresh
   * tokens revoked at the provider.
   *
   * @example
   * app.post('/devices/sign-out-others', requireAuth(), async (req, res) => {
   *   await req.oauth.sessions.endAll({ except: 'current' })
   *   res.redirect('/devices')
   * })
   */
  readonly sessions: UserSessions
}

const CONTEXT = Symbol('codegrant.context')

/** A request state as `createRequestState` makes it: the request's context on it, under a symbol. */
interface AttachedState extends OAuthRequestState {
  [CONTEXT]: Context
}

/** The request state for `context`: one allocation per request, as the getters live on a shared prototype. */
export function createRequestState(context: Context): OAuthRequestState {
  const state: AttachedState = Object.create(STATE_PROTOTYPE)
  state[CONTEXT] = context
  return state
}

/** The context of a request state made by `createRequestState`; undefined for anything else (the middleware did not run). */
export function contextOf(state: OAuthRequestState | undefined): Context | undefined {
  return isAttached(state) ? state[CONTEXT] : undefined
}

function isAttached(state: OAuthRequestState | undefined): state is AttachedState {
  return typeof state === 'object' && state !== null && CONTEXT in state
}

/**
 * Refreshes the request's session (its provider's single-flight refresher) and keeps the result
 * for the rest of the request. A refresh the provider refused ends the session: its cookies are
 * cleared through the sink.
 */
export async function refreshSession(context: Context, session: SessionData): Promise<SessionData> {
  try {
    const fresh = await providerOf(context, session).refresh(session)
    context.session = fresh
    // with a store, the refresher wrote the record (only if it still existed); the cookie holds only its id
    if (context.engine.backend.kind === 'cookie') await persist(context, fresh)
    return fresh
  } catch (error) {
    await endedWith(context, session, error)
    throw error
  }
}

/** A refresh or an API grant the provider refused for good ends the session: its cookies are cleared through the sink. */
async function endedWith(context: Context, session: SessionData, error: unknown): Promise<void> {
  if (!isCodegrantError(error, 'codegrant/session_ended')) return
  context.session = undefined
  context.sink(await context.engine.backend.clear(cookiesOf(context), session), context.target)
}

/** The provider a loaded session came from: loading keeps only sessions whose provider the app has. */
function providerOf(context: Context, session: SessionData) {
  const runtime = context.engine.providers.of(session)
  if (!runtime) throw noSession(context)
  return runtime
}

async function accessToken(context: Context): Promise<string> {
  const session = sessionOf(context)
  if (!session) throw noSession(context)
  if (!refreshDue(context.engine.config, session, now())) return session.tokens.accessToken
  return (await refreshSession(context, session)).tokens.accessToken
}

async function forceRefresh(context: Context): Promise<SessionData['tokens']> {
  const session = sessionOf(context)
  if (!session) throw noSession(context)
  // the request came with the cookie from before a refresh that finished: that refresh is the answer
  if (context.superseded) return session.tokens
  return (await refreshSession(context, session)).tokens
}

/**
 * `oauth.fetch` in a client span (`codegrant.fetch`, with the method, the API's host and port and
 * its answer's status; never the path or query, which may carry anything).
 */
function tracedFetch(context: Context, input: string | URL, init: RequestInit = {}, send = () => authorizedCall(context, input, fetchWire(init))): Promise<Response> {
  const url = URL.canParse(input) ? new URL(input) : undefined
  const session = sessionOf(context)
  const provider = session && context.engine.providers.of(session)?.name
  const attributes = {
    'http.request.method': (init.method ?? 'GET').toUpperCase(),
    ...(url ? { 'server.address': url.hostname, 'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80) } : {}),
    ...(provider ? { [ATTR.provider]: provider } : {}),
  }
  return traced('codegrant.fetch', attributes, async (span) => {
    const response = await send()
    answered(span, response.status)
    const refusal = await refusalOf(context, response)
    if (!refusal) return response
    await response.body?.cancel()
    throw refusal
  }, SpanKind.CLIENT)
}

/**
 * A call with the session's token over `wire`, refreshed and retried once on a 401 (unless
 * `retry` is false); a URL of an API with a token of its own goes with that token.
 */
async function authorizedCall<A>(context: Context, input: string | URL, wire: Wire<A>, retry = true): Promise<A> {
  // no cost without OAUTH_APIS
  if (context.engine.config.apis.length > 0 && URL.canParse(input)) {
    const api = context.engine.wallet.apiFor(new URL(input))
    if (api) return apiCall(context, api, new URL(input), wire, retry)
  }
  // the origins of the session's provider (the first one's when signed out: the error is the same)
  const signedIn = sessionOf(context)
  await (signedIn ? providerOf(context, signedIn) : context.engine.providers.first).allowOrigin(input instanceof URL ? input : String(input))
  await accessToken(context)
  const session = sessionOf(context)
  if (!session) throw noSession(context)
  const runtime = providerOf(context, session)
  const send = async (current: SessionData) => wire.send(input, current.tokens.accessToken, await dpopOf(runtime, current), runtime.settings)
  const answer = await send(session)
  // a 401 that asks for more scope or a stronger sign-in is the answer: a refreshed token would not do
  if (wire.status(answer) !== 401 || !session.tokens.refreshToken || !retry || (await asksForMore(wire.head(answer)))) return answer
  await wire.discard(answer)
  return send(await refreshSession(context, session))
}

/**
 * The proof a DPoP-bound token of `session` goes with (its key and the provider's DPoP runtime),
 * none for a Bearer token. `bound`: the token's own type says (an API's token), else the session's key does.
 */
async function dpopOf(runtime: ProviderRuntime, session: SessionData, bound = true): Promise<DpopProof | undefined> {
  if (!session.dpop || !bound) return undefined
  const dpop = (await runtime.resolve()).dpop
  return dpop && { runtime: dpop, key: session.dpop }
}

/** The session an API call is made for, and its provider, which must be the one the API takes tokens of. */
function apiSession(context: Context, api: ApiSettings): { session: SessionData; runtime: ProviderRuntime } {
  const session = sessionOf(context)
  if (!session) throw noSession(context)
  const runtime = providerOf(context, session)
  if (api.provider !== undefined && api.provider !== runtime.name) {
    throw new CodegrantError('codegrant/provider_mismatch', `The API ${api.name} takes tokens of the provider ${api.provider}; this session is from ${runtime.name}. Sign in with ${api.provider} to call it.`)
  }
  return { session, runtime }
}

/** Makes a session with new API tokens the request's; cookie sessions also get their cookie (a store's record is written by the wallet). */
function writerOf(context: Context): SessionWriter {
  return (fresh) => {
    context.session = fresh
    return context.engine.backend.kind === 'cookie' ? persist(context, fresh) : undefined
  }
}

/** `api`'s own token for the request's session (see `Wallet`); `renew`: one the API refused. */
async function apiToken(context: Context, api: ApiSettings, renew?: string): Promise<ApiToken> {
  const { wallet } = context.engine
  const { session, runtime } = apiSession(context, api)
  const ready = wallet.ready(session, api, renew)
  if (ready) return ready
  // the login's token first: an exchange presents it, and a resource grant must not spend the
  // refresh token while the login's own refresh is due (both would spend it)
  await accessToken(context)
  const current = apiSession(context, api).session
  try {
    return await wallet.token(runtime, api, current, writerOf(context), renew)
  } catch (error) {
    // a resource grant's refresh token refused: the session's grant is gone (as for a refresh)
    await endedWith(context, current, error)
    throw error
  }
}

async function apiAccessToken(context: Context, name: string): Promise<string> {
  const api = context.engine.wallet.api(name)
  if (api.token === 'login') {
    apiSession(context, api)
    return accessToken(context)
  }
  return (await apiToken(context, api)).accessToken
}

/**
 * A call over `wire` to `url` (under `api`'s base URL) with `api`'s token, renewed and retried
 * once on a 401 unless `retry` is false (a streamed request body cannot be sent twice: the BFF's proxy).
 */
export async function apiCall<A>(context: Context, api: ApiSettings, url: URL, wire: Wire<A>, retry = true): Promise<A> {
  if (api.token !== 'login') return ownTokenCall(context, api, url, wire, retry)
  const { runtime } = apiSession(context, api)
  const learned = context.engine.wallet.learned(api, runtime.name)
  if (learned) return ownTokenCall(context, learned, url, wire, retry)
  if (api.resource !== undefined || api.audience !== undefined) return authorizedCall(context, url, wire, retry)
  return discoveringCall(context, api, url, wire, retry)
}

/**
 * A login-token API that names no resource, called with the session's token: when it answers 401
 * naming its protected resource metadata (RFC 9728 §5.1), what the metadata says is checked
 * (flow/resource-metadata.ts), the API's own token is asked for and the call made once more with
 * it; what was learned serves the API's next calls in this process. Any other 401 refreshes the
 * session's tokens and retries once, as `oauth.fetch` does.
 */
async function discoveringCall<A>(context: Context, api: ApiSettings, url: URL, wire: Wire<A>, retry: boolean): Promise<A> {
  const { runtime } = apiSession(context, api)
  await runtime.allowOrigin(url)
  await accessToken(context)
  const send = async (session: SessionData) => wire.send(url, session.tokens.accessToken, await dpopOf(runtime, session), runtime.settings)
  const session = apiSession(context, api).session
  const answer = await send(session)
  if (wire.status(answer) !== 401 || !retry) return answer
  const refusal = wire.head(answer)
  const metadata = resourceMetadataOf(await challengesIn(refusal))
  if (metadata !== undefined) {
    await wire.discard(answer)
    const learned = await discoverApi(context.engine.config, await runtime.resolve(), api, url, metadata)
    context.engine.wallet.learn(learned, runtime.name)
    // once: a second refusal is the API's answer
    return ownTokenCall(context, learned, url, wire, false)
  }
  if (!session.tokens.refreshToken || (await asksForMore(refusal))) return answer
  await wire.discard(answer)
  return send(await refreshSession(context, session))
}

/** A call over `wire` to `url` with `api`'s own token; with `retry`, renewed and retried once on a 401. */
async function ownTokenCall<A>(context: Context, api: ApiSettings, url: URL, wire: Wire<A>, retry: boolean): Promise<A> {
  const send = async (token: ApiToken) => {
    const { session, runtime } = apiSession(context, api)
    return wire.send(url, token.accessToken, await dpopOf(runtime, session, token.tokenType === 'DPoP'), runtime.settings)
  }
  const token = await apiToken(context, api)
  const answer = await send(token)
  if (wire.status(answer) !== 401 || !retry || (await asksForMore(wire.head(answer)))) return answer
  await wire.discard(answer)
  return send(await apiToken(context, api, token.accessToken))
}

/** The provider's userinfo for the signed-in user (its `sub` must be the session identity's), with a fresh access token. */
async function userinfo(context: Context): Promise<UserClaims> {
  const token = await accessToken(context)
  // read after accessToken(), which may have refreshed the session
  const session = sessionOf(context)
  if (!session) throw noSession(context)
  const runtime = providerOf(context, session)
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

const STATE_PROTOTYPE: ThisType<AttachedState> & OAuthRequestState = {
  get isAuthenticated() {
    return sessionOf(this[CONTEXT]) !== undefined
  },
  get provider() {
    const session = sessionOf(this[CONTEXT])
    return session && this[CONTEXT].engine.providers.of(session)?.name
  },
  get user() {
    const context = this[CONTEXT]
    const session = sessionOf(context)
    return session && userClaims(session, context.engine.config.keepProtocolClaims)
  },
  get tokens() {
    return sessionOf(this[CONTEXT])?.tokens
  },
  get session() {
    const context = this[CONTEXT]
    const session = sessionOf(context)
    if (!session) return undefined
    return { issuedAt: session.iat, expiresAt: session.exp, idleExpiresAt: session.uat + context.engine.config.sessionIdleTimeout }
  },
  accessToken(api?: string) {
    return api === undefined ? accessToken(this[CONTEXT]) : apiAccessToken(this[CONTEXT], api)
  },
  fetch(input: string | URL, pathOrInit?: string | RequestInit, init?: RequestInit) {
    const context = this[CONTEXT]
    if (typeof pathOrInit !== 'string') return tracedFetch(context, input, pathOrInit)
    try {
      const api = context.engine.wallet.api(String(input))
      const url = apiUrl(api, pathOrInit)
      return tracedFetch(context, url, init, () => apiCall(context, api, url, fetchWire(init ?? {})))
    } catch (error) {
      return Promise.reject(error)
    }
  },
  refresh() {
    return forceRefresh(this[CONTEXT])
  },
  login(options) {
    return appLogin(this[CONTEXT], options)
  },
  get data() {
    return sessionOf(this[CONTEXT])?.data
  },
  get sessions() {
    return userSessions(this[CONTEXT])
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
