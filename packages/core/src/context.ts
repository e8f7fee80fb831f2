/**
 * The per-request context every route walks in: the engine made once by `createCodegrant`, the
 * request, and its session, read lazily. Shared by the hub (`codegrant.ts`) and the route
 * modules (`routes/*.ts`); it imports neither.
 */
import { now } from './clock.js'
import type { OAuthConfig } from './config/resolved.js'
import type { Diagnostics } from './diagnostics.js'
import type { createExchangeOnce } from './flow/exchange-once.js'
import type { TransactionCookies } from './flow/transaction.js'
import type { LogoutStateCookie } from './flow/logout-state.js'
import { CodegrantError, isCodegrantError } from './errors.js'
import { describe } from './failures.js'
import { header, type CoreRequest, type CoreResponse } from './http.js'
import type { ProviderRuntimes } from './providers.js'
import type { SessionBackend } from './session/backend.js'
import type { SessionRecords, Verdict } from './session/ended.js'
import type { IdentifiedSession } from './session/identity.js'
import { ownCookies, type RequestCookies } from './session/cookie-jar.js'
import type { CoordinatingStore, MaybePromise, SessionData, UserClaims } from './session/store.js'
import type { Wallet } from './wallet.js'

/**
 * Receives `Set-Cookie` values produced while a request is handled (refresh, renewal, logout),
 * with the `target` given to `attach()` (the response): one function per app, no closure per request.
 */
export type CookieSink<T = never> = (setCookies: string[], target: T) => void

export interface Engine {
  config: OAuthConfig
  backend: SessionBackend
  transactions: TransactionCookies
  /** The `state` of an RP-initiated logout, until the provider sends the browser back. */
  logoutStates: LogoutStateCookie
  providers: ProviderRuntimes
  renewAfter: number
  diagnostics: Diagnostics
  exchangeOnce: ReturnType<typeof createExchangeOnce<{ session: IdentifiedSession; location: string }>>
  /** With `OAUTH_BACKCHANNEL_LOGOUT`: serves its route. */
  backchannel: { store: CoordinatingStore; handle: (request: CoreRequest) => Promise<CoreResponse> } | undefined
  /**
   * With back- or front-channel logout and a server-side store: where new sessions are filed by
   * the provider's `sid` and `sub`, so that the provider's logout finds them.
   */
  sessionIndex: CoordinatingStore | undefined
  /**
   * With cookie sessions and `OAUTH_REDIS_URL`, the "ended before" records that end cookie
   * sessions from the server; with `OAUTH_SSF`, the records of its events: checked on every
   * request by `readSession` (session/ended.ts).
   */
  records: SessionRecords | undefined
  /** With `OAUTH_SSF`: serves `POST /auth/ssf`. */
  sharedSignals: ((request: CoreRequest) => Promise<CoreResponse>) | undefined
  /** Per connection, the last Cookie header read on it and what it opened to (see `readSession`). */
  connections: WeakMap<object, ConnectionMemo>
  /** Each session's API tokens (`OAUTH_APIS`). */
  wallet: Wallet
}

/** What one connection's last Cookie header parsed and opened to, while `generation` holds. */
export interface ConnectionMemo {
  cookie: string
  cookies: RequestCookies
  opened: SessionData | string | undefined
  generation: number
}

/** Longer Cookie headers are not kept per connection (a memo should cost far less than the connection). */
const MEMO_MAX_CHARS = 8 * 1024

export interface Context {
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
  /**
   * Set when the session store could not be read for this request (`codegrant/store_unavailable`):
   * the request goes on signed out (`session` is undefined), and whatever needs the session (the
   * guard, tokens, login, logout, the callback) answers this error instead of "signed out".
   */
  unavailable: CodegrantError | undefined
  /**
   * What a Shared Signals record asks of the session at this request: a fresh sign-in at the
   * guard (`reauthenticate`), or its claims refreshed (`refresh`). Set by `readSession`.
   */
  signal?: Exclude<Verdict, 'ended' | undefined>
}

export const UNLOADED = Symbol('unloaded')

export function cookiesOf(context: Context): RequestCookies {
  return (context.parsed ??= ownCookies(header(context.request, 'cookie')))
}

/** What `readSession` answers unless asked for something else: the session. */
const SESSION = Symbol('session')

/**
 * The request's session: the one way to read it, once per request (then it is kept on the
 * context). Behind it, in turn: the per-connection memo (`opened`), the backend's opened-cookie
 * cache (`open`), the expiry and idle checks and, with a store, the record (`resolve`); with
 * records (cookie sessions' "ended before", Shared Signals'), what they say of it (`checkRecords`); then a
 * session from a provider this app no longer has is none, a cookie from before a refresh this
 * process finished continues from that refresh, and the idle window slides (`renew`). The
 * user's claims are decoded once per session object, behind `userClaims` (session/claims.ts).
 *
 * Synchronous unless the backend does I/O (`backend.io`: an external store such as Redis),
 * whose session `attach` reads before the request goes on, since the state's getters cannot
 * wait; see {@link sessionOf} for them. A store that fails does not fail the request: the
 * context records the failure (`unavailable`) and the request goes on signed out, so public
 * pages keep working while the store is down; the session cookie is left as it is (nothing is
 * written or cleared), so the same cookie works again once the store answers. The failure is
 * logged by the backend, once per outage.
 *
 * @param answer what the read resolves to instead of the session (`attach`: the request state),
 *   so that a store's read stays one promise.
 */
export function readSession(context: Context, at?: number): MaybePromise<SessionData | undefined>
export function readSession<R>(context: Context, at: number | undefined, answer: R): MaybePromise<R>
export function readSession(context: Context, at?: number, answer: unknown = SESSION): unknown {
  if (context.session !== UNLOADED) return answer === SESSION ? context.session : answer
  const time = at ?? now()
  const { backend, records } = context.engine
  const resolved = backend.resolve(opened(context), time)
  const read = records ? checkRecords(context, records, resolved) : resolved
  if (!(read instanceof Promise)) return settle(context, read, time, answer)
  return read.then(
    (found) => settle(context, found, now(), answer),
    (error: unknown) => {
      // only the store's own failure is survivable; anything else is a fault to report
      if (!isCodegrantError(error, 'codegrant/store_unavailable')) throw error
      context.session = undefined
      context.unavailable = error
      return answer === SESSION ? undefined : answer
    },
  )
}

/**
 * The request's session where it cannot be a promise (the getters, the guard, the routes): read
 * now from a backend without I/O, or what `attach` read from an external store.
 */
export function sessionOf(context: Context, at?: number): SessionData | undefined {
  if (context.session !== UNLOADED) return context.session
  const session = readSession(context, at)
  if (!(session instanceof Promise)) return session
  // not reached: attach reads an external store's session before anything asks for it
  session.catch(() => undefined)
  return undefined
}

/** `readSession`'s end: the found session checked, continued and renewed, and set on the context. */
function settle(context: Context, found: SessionData | undefined, at: number, answer: unknown): unknown {
  const { backend, providers } = context.engine
  // a session from a provider this app no longer has is no session
  const runtime = found && providers.of(found)
  let session = runtime ? found : undefined
  // a cookie from before a refresh this process already did: continue from the refreshed
  // session, so this response cannot write the older tokens (a used refresh token) back
  const newer = session && runtime && backend.kind === 'cookie' ? runtime.refresh.successor(session) : undefined
  if (session && newer) {
    context.superseded = true
    session = { ...newer, uat: Math.max(newer.uat, session.uat) }
    persist(context, session)?.catch(() => undefined)
  }
  // an external store's renewal is waited for; the others save synchronously
  const saved = renew(context, session, at)
  const result = answer === SESSION ? context.session : answer
  return saved ? saved.then(() => result) : result
}

/**
 * The session as its records leave it: none when an "ended before" record ends it (the request
 * is then signed out as by a logout, its session cookie cleared in this response); with a Shared
 * Signals record, the session still, and what the record asks of it (`context.signal`).
 * Synchronous while the records are answered from memory (the store's cache); a store that
 * fails rejects, as a session store's read does.
 */
function checkRecords(context: Context, records: SessionRecords, found: MaybePromise<SessionData | undefined>): MaybePromise<SessionData | undefined> {
  if (found instanceof Promise) return found.then((session) => checkRecords(context, records, session))
  if (found === undefined) return undefined
  const verdict = records.check(found)
  return verdict instanceof Promise ? verdict.then((said) => applyVerdict(context, found, said)) : applyVerdict(context, found, verdict)
}

function applyVerdict(context: Context, session: SessionData, verdict: Verdict): SessionData | undefined {
  if (verdict === undefined) return session
  if (verdict === 'ended') return signedOut(context)
  context.signal = verdict
  return session
}

/** Clears the request's session cookie (a session ended elsewhere): nothing of it is kept. */
function signedOut(context: Context): undefined {
  const cleared = context.engine.backend.clear(cookiesOf(context), undefined)
  // without a session's data, clearing writes no store: the headers are at hand
  if (!(cleared instanceof Promise)) context.sink(cleared, context.target)
  return undefined
}

/**
 * What the request's session cookie opened to (`SessionBackend.open`). A keep-alive connection
 * usually sends the same Cookie header on every request: when this request's header is exactly
 * the one the connection's previous request carried, and no session was written or ended in this
 * process since, the previous parse and opening are used again instead of parsing the header and
 * looking the value up in the opened-session cache. Exact string equality is the only test, so a
 * changed, tampered or foreign cookie always takes the full path; liveness (expiry, idle time)
 * and, with a store, the record are still checked on every request by `resolve`. Connections
 * shared by many users (a proxy's pool) simply miss.
 */
function opened(context: Context): SessionData | string | undefined {
  const { backend, connections } = context.engine
  const connection = context.request.connection
  const cookie = header(context.request, 'cookie')
  if (connection === undefined || cookie === undefined || cookie.length > MEMO_MAX_CHARS) return backend.open(cookiesOf(context))
  const memo = connections.get(connection)
  if (memo !== undefined && memo.cookie === cookie && memo.generation === backend.generation) {
    context.parsed ??= memo.cookies
    return memo.opened
  }
  // the parsed cookies are shared with the connection's next requests: read-only (by type; nothing writes them)
  const cookies = (context.parsed ??= ownCookies(cookie))
  const generation = backend.generation
  const opened = backend.open(cookies)
  // one memo per connection, updated in place: a connection that carries many users' cookies
  // (a proxy's pool) costs a failed comparison and four writes per request, no allocation
  if (memo === undefined) connections.set(connection, { cookie, cookies, opened, generation })
  else {
    memo.cookie = cookie
    memo.cookies = cookies
    memo.opened = opened
    memo.generation = generation
  }
  return opened
}

/**
 * What a call that needs the session throws when there is none: `codegrant/store_unavailable`
 * when the store could not be read (the user may well be signed in), else `codegrant/unauthenticated`.
 */
export function noSession(context: Context): CodegrantError {
  return context.unavailable ?? new CodegrantError('codegrant/unauthenticated', 'Not signed in.')
}

/**
 * Sets the context's session, sliding its idle window: re-issued at most every `renewAfter`
 * seconds. A renewal that cannot be saved is logged and skipped (the session was read; the next
 * request tries again). Returns the pending save of a store that does I/O; it never rejects.
 */
export function renew(context: Context, session: SessionData | undefined, at = now()): Promise<void> | undefined {
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

export function persist(context: Context, session: SessionData): Promise<void> | undefined {
  const written = context.engine.backend.write(cookiesOf(context), session, now())
  if (!(written instanceof Promise)) {
    context.sink(written, context.target)
    return undefined
  }
  return written.then((cookies) => context.sink(cookies, context.target))
}
