import { randomBytes } from 'node:crypto'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import { describe } from '../failures.js'
import { ATTR, instruments, observeStoreCall, watchBreaker } from '../telemetry.js'
import type { CookieCodec } from './cookie-codec.js'
import { deepFreeze } from './claims.js'
import { clearChunked, readChunks, setCookie, writeChunked, type RequestCookies } from './cookie-jar.js'
import { createOpenedCache } from './opened-cache.js'
import { memoryStore } from './memory-store.js'
import { canRecord, type RecordingStore } from './ended.js'
import { createStoreBreaker, type StoreBreaker } from './store-breaker.js'
import { isSessionData, type MaybePromise, type SessionData, type SessionStore } from './store.js'

/**
 * Where sessions live, stated once by the backend: `cookie`, the whole session encrypted and
 * chunked in the browser; `memory`, the in-process store; `external`, a store passed in or
 * opened (Redis), the only kind whose reads wait on I/O. With a store, the browser carries an
 * encrypted session id in one cookie.
 */
export type SessionBackend = CookieBackend | StoreBackend

export interface CookieBackend extends BackendSteps {
  readonly kind: 'cookie'
  /** True with {@link records}: each request's session is checked against them, which may wait on Redis. */
  readonly io: boolean
  readonly store: undefined
  /**
   * With `OAUTH_REDIS_URL`: the Redis store that keeps the "ended before" records which end cookie
   * sessions from the server (`session/ended.ts`), behind its breaker as a server-side store is.
   */
  readonly records: RecordingStore | undefined
  /** The Redis store of {@link records} as it was opened (its `close()`). */
  readonly opened: SessionStore | undefined
  readonly breaker: StoreBreaker | undefined
}

export interface StoreBackend extends BackendSteps {
  readonly kind: 'memory' | 'external'
  /** True for an external store: a request's session is read (and waited for) before it goes on. */
  readonly io: boolean
  /**
   * The server-side store, behind its breaker (see {@link withBreaker}): every call, wherever it
   * is made, goes through the one circuit breaker, and fails as `codegrant/store_unavailable`.
   */
  readonly store: SessionStore
  /** The store as it was passed in or opened (Redis), without the breaker: its own extras (`close()`). */
  readonly opened: SessionStore
  /**
   * An external store's circuit breaker (failures logged once per outage); none for the memory
   * store, which cannot fail. Every call of {@link store} already goes through it.
   */
  readonly breaker: StoreBreaker | undefined
}

/**
 * The backend's steps of reading a session, which `readSession` (context.ts) takes in turn
 * behind the per-connection memo; and its writes.
 */
interface BackendSteps {
  readonly cookieName: string
  /**
   * What the request's session cookie holds, once opened with our keys: the session (cookie
   * sessions) or its id (a store); undefined when it carries none of ours. Synchronous, and the
   * same for the same cookies until `generation` changes (the opened-cookie cache).
   */
  open(cookies: RequestCookies): SessionData | string | undefined
  /**
   * The live session for what `open` gave: its expiry and idle time checked against `now`, and
   * with a store, its record read.
   *
   * @throws {CodegrantError} `codegrant/store_unavailable` when the store fails.
   */
  resolve(opened: SessionData | string | undefined, now: number): MaybePromise<SessionData | undefined>
  /** `resolve(open(cookies), now)`. */
  read(cookies: RequestCookies, now: number): MaybePromise<SessionData | undefined>
  /**
   * Changes whenever this process writes or ends a session (its cookie becomes obsolete): what
   * `open` gave for earlier cookies may be kept until then (see `context.ts`, per connection).
   */
  readonly generation: number
  /**
   * `Set-Cookie` values that persist `data` (and remove whatever stale form the request carries).
   * With a store, `create` writes a new record; otherwise the record is replaced only if it still
   * exists, so a session ended meanwhile (elsewhere) stays ended.
   *
   * @throws {CodegrantError} `codegrant/session_ended` when the record is gone;
   *   `codegrant/store_unavailable` when the store fails.
   */
  write(cookies: RequestCookies, data: SessionData, now: number, create?: boolean): MaybePromise<string[]>
  /** `Set-Cookie` values that end the session (and the store record). */
  clear(cookies: RequestCookies, data: SessionData | undefined): MaybePromise<string[]>
}

/** Past this, the Cookie header nears Node.js's default 16 KB header limit. */
const LARGE_SESSION_BYTES = 10 * 1024
/**
 * A cookie session larger than this is refused: with the transaction cookies and the other
 * headers it would pass the 16 KB that Node.js (and many proxies) accept, and every request of
 * that browser, logout included, would then be answered 431 until the cookies expire.
 */
export const MAX_COOKIE_SESSION_BYTES = 13 * 1024

/** The opened-session cache keeps at most this many characters of cookies (its entry count is `sessionCacheSize`). */
const CACHE_MAX_CHARS = 16 * 1024 * 1024

export function newSessionId(): string {
  return randomBytes(18).toString('base64url')
}

const isSessionId = (value: unknown): value is string => typeof value === 'string'

export function isLive(data: SessionData, now: number, config: OAuthConfig): boolean {
  return now < data.exp && now - data.uat < config.sessionIdleTimeout
}

/** Seconds until the session ends, whichever of the absolute and idle limits comes first. */
export function remaining(data: SessionData, now: number, config: OAuthConfig): number {
  return Math.min(data.exp, data.uat + config.sessionIdleTimeout) - now
}

export function createSessionBackend(config: OAuthConfig, codec: CookieCodec, cookieName: string): SessionBackend {
  const attributes = { secure: config.secure, sameSite: 'lax' as const }
  let generation = 0
  /**
   * Opens the session cookie through the opened-cookie cache (cookies already opened in this
   * process, by exact value): to the session with cookie sessions, to its id with a store; each
   * backend has its one kind, and its cache holds only values that passed its check. Frozen, as
   * requests share them. `forget` drops a cookie a write or a clear made obsolete (rotation,
   * refresh, logout).
   */
  const opener = <T extends SessionData | string>(valid: (value: unknown) => value is T) => {
    const cache = createOpenedCache<T>(config.sessionCacheSize, CACHE_MAX_CHARS)
    return {
      open(cookies: RequestCookies): T | undefined {
        const parts = readChunks(cookies, cookieName)
        if (parts === undefined) return undefined
        const hit = cache.get(parts)
        if (hit !== undefined) return hit
        const json = codec.open(cookieName, parts.join(''))
        if (json === undefined) return undefined
        let value: unknown
        try {
          value = JSON.parse(json)
        } catch {
          return undefined
        }
        if (!valid(value)) return undefined
        cache.set(parts, deepFreeze(value))
        return value
      },
      forget(cookies: RequestCookies): void {
        generation++
        cache.delete(readChunks(cookies, cookieName))
      },
    }
  }
  const live = (data: SessionData | undefined, now: number): SessionData | undefined => (data !== undefined && isLive(data, now, config) ? data : undefined)
  // what a store gives back is checked like a cookie's content
  const liveStored = (data: unknown, now: number): SessionData | undefined => (isSessionData(data) ? live(data, now) : undefined)

  const setting = config.sessionStore
  if (setting === 'cookie') {
    // with OAUTH_REDIS_URL: the "ended before" records, in Redis behind a breaker
    const given = config.redis?.open()
    const guardedRecords = given && guardStore(config, 'external', given)
    const records = guardedRecords && canRecord(guardedRecords.store) ? guardedRecords.store : undefined
    let warned = false
    const { open, forget } = opener(isSessionData)
    const resolve = (content: SessionData | string | undefined, now: number) => (typeof content === 'object' ? live(content, now) : undefined)
    return {
      kind: 'cookie',
      io: records !== undefined,
      cookieName,
      store: undefined,
      records,
      opened: given,
      breaker: guardedRecords?.breaker,
      open,
      resolve,
      read: (cookies, now) => resolve(open(cookies), now),
      get generation() {
        return generation
      },
      write(cookies, data, now) {
        forget(cookies)
        const sealed = codec.seal(cookieName, JSON.stringify(data))
        if (sealed.length > MAX_COOKIE_SESSION_BYTES) {
          config.logger.error(`a session of ${sealed.length} bytes was not written: cookie sessions are limited to ${MAX_COOKIE_SESSION_BYTES} bytes`)
          throw new CodegrantError(
            'codegrant/session_too_large',
            `The provider's answer makes a session too large for cookies (${sealed.length} bytes; at most ${MAX_COOKIE_SESSION_BYTES}). ` +
              'The app must request fewer scopes or claims, or keep sessions server-side (OAUTH_SESSION_STORE=memory or redis).',
          )
        }
        if (sealed.length > LARGE_SESSION_BYTES && !warned) {
          warned = true
          config.logger.warn(
            `a session cookie of ${sealed.length} bytes was written: browsers and Node.js (16 KB of headers by default) may refuse ` +
              'headers this large; request fewer claims, or use a server-side session store',
          )
        }
        return writeChunked(cookies, cookieName, sealed, { ...attributes, maxAge: remaining(data, now, config) })
      },
      clear(cookies) {
        forget(cookies)
        return clearChunked(cookies, cookieName, attributes)
      },
    }
  }

  const { kind, given } = openStore(config, setting)
  const { store, breaker } = guardStore(config, kind, given)
  const { open, forget } = opener(isSessionId)
  const resolve = (sid: SessionData | string | undefined, now: number) =>
    typeof sid === 'string' ? andThen(store.get(sid), (data) => liveStored(data, now)) : undefined
  return {
    kind,
    io: kind === 'external',
    cookieName,
    store,
    opened: given,
    breaker,
    open,
    resolve,
    read: (cookies, now) => resolve(open(cookies), now),
    get generation() {
      return generation
    },
    write(cookies, data, now, create = false) {
      forget(cookies)
      const ttl = remaining(data, now, config)
      const cookie = setCookie(cookieName, codec.seal(cookieName, JSON.stringify(data.sid)), { ...attributes, maxAge: ttl })
      const headers = [cookie, ...clearChunked(cookies, cookieName, attributes, new Set([cookieName]))]
      if (create) return andThen(store.set(data.sid, data, ttl), () => headers)
      return andThen(replaceRecord(store, data, ttl), (kept) => {
        if (!kept) throw new CodegrantError('codegrant/session_ended', 'The session was ended (signed out elsewhere). Sign in again.')
        return headers
      })
    },
    clear(cookies, data) {
      forget(cookies)
      const headers = clearChunked(cookies, cookieName, attributes)
      return data ? andThen(store.destroy(data.sid), () => headers) : headers
    },
  }
}

/**
 * The server-side store and its kind: the memory store (the one `memoryStore()` the app passed, or
 * a new one), or an external one, the store passed in
 * or `@codegrant/redis` opened now (the configuration only checked its settings: reading it
 * opens no connection).
 */
function openStore(config: OAuthConfig, setting: Exclude<OAuthConfig['sessionStore'], 'cookie'>): { kind: StoreBackend['kind']; given: SessionStore } {
  if (setting === 'memory') return { kind: 'memory', given: config.customStore ?? memoryStore() }
  const given = setting === 'redis' ? config.redis?.open() : config.customStore
  if (!given) throw new CodegrantError('codegrant/config_invalid', `OAUTH_SESSION_STORE=${setting} without its store: resolve the configuration with resolveConfig()`)
  return { kind: 'external', given }
}

/**
 * A store opened for this backend, behind its breaker (see {@link withBreaker}); the memory store
 * cannot fail: no breaker, its calls stay synchronous.
 */
function guardStore(config: OAuthConfig, kind: StoreBackend['kind'], given: SessionStore): { store: SessionStore; breaker: StoreBreaker | undefined } {
  const breaker = kind === 'memory' ? undefined : createStoreBreaker(config.logger, () => {
    instruments().breakerOpens.add(1, { [ATTR.storeKind]: kind })
    given.flushCache?.()
  })
  if (breaker) watchBreaker(breaker)
  return { store: withBreaker(config, given, breaker), breaker }
}

/**
 * Replaces a session's record only if it still exists: atomically with a store that has
 * `update`; otherwise read-then-write (a store without `update` cannot close that race).
 */
export function replaceRecord(store: SessionStore, data: SessionData, ttl: number): MaybePromise<boolean> {
  if (store.update) return store.update(data.sid, data, ttl)
  return andThen(store.get(data.sid), (found) => (found ? andThen(store.set(data.sid, data, ttl), () => true) : false))
}

/**
 * The store every part of codegrant uses, built once where the store is opened: each call goes
 * through {@link guarded} with this store's one `breaker` — its circuit breaker, one log line
 * per outage, any failure as `codegrant/store_unavailable` — whether the session backend makes
 * it or the refresh lock, `replaceRecord`, back-channel logout, the exchange claim or the
 * session index. So, once the breaker is open, none of them waits for the store's timeout, and
 * none of them wraps its calls again.
 * Offers only the methods the store has (the optional ones decide what codegrant can do). The
 * store's own timeout bounds each call (`OAUTH_REDIS_TIMEOUT`); no second timer is added.
 * An external store's calls are traced here, and only here (`codegrant.store.<operation>` spans,
 * the store-call histogram): the one place every call passes.
 */
function withBreaker(config: OAuthConfig, store: SessionStore, breaker: StoreBreaker | undefined): SessionStore {
  const through = <A extends unknown[], T>(what: string, method: (...args: A) => MaybePromise<T>, traced = true) => {
    // the memory store's calls are synchronous and cannot fail: not traced; nor the "ended before"
    // checks, two per request, answered from the client-side cache (a span each would be noise)
    if (!breaker || !traced) return (...args: A): MaybePromise<T> => guarded(config, what, () => method.apply(store, args), breaker)
    const name = `codegrant.store.${what}`
    const attributes = { [ATTR.operation]: what, [ATTR.storeKind]: 'external' }
    return (...args: A): MaybePromise<T> => observeStoreCall(name, attributes, () => guarded(config, what, () => method.apply(store, args), breaker))
  }
  const optional = {
    update: store.update && through('write', store.update),
    lock: store.lock && through('lock', store.lock),
    unlock: store.unlock && through('unlock', store.unlock),
    tag: store.tag && through('index', store.tag),
    tagged: store.tagged && through('find', store.tagged),
    once: store.once && through('claim', store.once),
    endBefore: store.endBefore && through('end', store.endBefore),
    endedBefore: store.endedBefore && through('check', store.endedBefore, false),
    // a number read from memory: nothing to guard (an open breaker flushes the cache, which changes it)
    recordsVersion: store.recordsVersion?.bind(store),
  }
  return {
    get: through('read', store.get),
    set: through('write', store.set),
    destroy: through('destroy', store.destroy),
    ...Object.fromEntries(Object.entries(optional).filter(([, method]) => method !== undefined)),
  }
}

/**
 * A store call whose failure, thrown or rejected, becomes `codegrant/store_unavailable` (503
 * with Retry-After). The store's own error is logged, not kept: it may quote the command and
 * so the session it carried. With `breaker`, failures are logged once per outage and a success
 * ends it, and its circuit breaker applies: while it is open, the call fails at once with the same
 * error and the store is not called (see `store-breaker.ts`). Without, each failure is logged.
 */
function guarded<T>(config: OAuthConfig, what: string, call: () => MaybePromise<T>, breaker: StoreBreaker | undefined): MaybePromise<T> {
  // a working store: one flag check
  if (breaker?.open && breaker.refuses()) return Promise.reject(storeUnavailable())
  const unavailable = (error: unknown) => {
    // a store that answers codegrant's own error (a custom store built on another's): passed on as it is
    if (error instanceof CodegrantError && error.code === 'codegrant/store_unavailable') return error
    if (breaker) breaker.failed(what, error)
    else config.logger.error(`the session store failed to ${what} a session: ${describe(error)}`)
    return storeUnavailable()
  }
  try {
    const result = call()
    if (!(result instanceof Promise)) return breaker ? breaker.answered(result) : result
    return result.then<T, never>(breaker?.answered, (error: unknown) => { throw unavailable(error) })
  } catch (error) {
    return Promise.reject(unavailable(error))
  }
}

const storeUnavailable = () => new CodegrantError('codegrant/store_unavailable', 'Sessions cannot be read or saved right now. Try again in a moment.')

/** `value.then(next)` without a microtask when `value` is not a promise (the memory store). */
function andThen<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value)
}
