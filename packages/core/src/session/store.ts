import type { DpopKey } from '../flow/dpop.js'
import { isSessionIdentity, type SessionIdentity } from './identity.js'

/** The user's tokens, as kept in the session (never sent to the browser in clear). */
export interface TokenSet {
  accessToken: string
  refreshToken?: string
  idToken?: string
  /** `Bearer`, or `DPoP` for a sender-constrained token (RFC 9449): the `Authorization` scheme to send it with. */
  tokenType: string
  scope: string
  /** Access-token expiry, seconds since the epoch; undefined when the provider did not say. */
  expiresAt?: number
  /** Lifetime the provider gave the access token (seconds), used to cap the refresh skew. */
  expiresIn?: number
}

/** The standard OpenID Connect claims (OpenID Connect Core 1.0 §5.1), all optional but `sub`. */
export interface StandardClaims {
  sub: string
  name?: string
  given_name?: string
  family_name?: string
  middle_name?: string
  nickname?: string
  preferred_username?: string
  profile?: string
  picture?: string
  website?: string
  email?: string
  email_verified?: boolean
  gender?: string
  birthdate?: string
  zoneinfo?: string
  locale?: string
  phone_number?: string
  phone_number_verified?: boolean
  address?: { formatted?: string; street_address?: string; locality?: string; region?: string; postal_code?: string; country?: string }
  updated_at?: number
}

/**
 * The user's claims: the ID token's (merged with userinfo where configured), or what `onLogin`
 * made of them. Standard claims are typed; add your own by declaration merging:
 *
 * @example
 * declare module '@codegrant/core' {
 *   interface UserClaims { groups?: string[]; roles?: string[] }
 * }
 */
export interface UserClaims extends StandardClaims {
  [claim: string]: unknown
}

export interface SessionData {
  /** Session id: 128+ random bits, new at every login (no fixation). */
  sid: string
  /** Issued, last used, and absolute expiry, seconds since the epoch. */
  iat: number
  uat: number
  exp: number
  /**
   * The user's claims when they are not simply the ID token's (userinfo merged, no ID token, or
   * what the app's `onLogin` hook returned). Otherwise absent, and read from `tokens.idToken`:
   * the claims are not stored twice, which keeps cookie sessions small. Use {@link sessionUser}.
   * The app's to shape: no protocol decision reads it (they read `identity`).
   */
  user?: UserClaims
  /** True when `user` is what the app's `onLogin` hook returned: a refresh leaves it as the hook made it. */
  userByApp?: true
  /**
   * The provider's validated identity of the user, taken at the callback before the app's hook
   * ran (see `session/identity.ts`). Absent only in sessions from before it was kept: those are
   * read through their stored ID token (`identityOf`).
   */
  identity?: SessionIdentity
  tokens: TokenSet
  /**
   * With DPoP: the session's key pair (private JWK), which its tokens are bound to. Kept only
   * here: inside the encrypted cookie, or in the server-side record. Gone with the session.
   */
  dpop?: DpopKey
  /** What the app's `onLogin` hook added to the session (kept in the cookie with the rest). */
  data?: Record<string, unknown>
  /**
   * Sessions from before `identity` was kept: the provider the user signed in with, by name, when
   * the app had several. No longer written (`identity.provider` is).
   */
  provider?: string
}

/** The session's user: its own claims, or its (already validated) ID token's. */
export function sessionUser(session: SessionData): UserClaims {
  if (session.user) return session.user
  const payload = session.tokens.idToken!.split('.')[1]!
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as UserClaims
}

export type MaybePromise<T> = T | Promise<T>

/**
 * A server-side session store. The browser then carries only an encrypted session id.
 * Implementations must fail loudly (reject) rather than report a session as missing when
 * the store is unreachable, and should bound every call with a timeout.
 *
 * The optional members make a store safe for several instances (and for back-channel logout);
 * the memory store and `@codegrant/redis` implement all of them. A store without them works
 * for one process: refreshes are then coordinated per process only, and writes after a refresh
 * fall back to `get` + `set`.
 */
export interface SessionStore {
  get(sid: string): MaybePromise<SessionData | undefined>
  /** Creates or replaces a record. @param ttl seconds until the record may be discarded */
  set(sid: string, data: SessionData, ttl: number): MaybePromise<void>
  destroy(sid: string): MaybePromise<void>
  /**
   * Replaces a record only if it still exists (atomically): a session destroyed meanwhile (logout
   * on another instance, back-channel logout) stays destroyed. Resolves false when it was gone.
   */
  update?(sid: string, data: SessionData, ttl: number): MaybePromise<boolean>
  /**
   * Takes the session's refresh lock for `owner` unless someone holds it; the lock lapses after
   * `ttlMs` if its holder dies. Resolves true when taken.
   */
  lock?(sid: string, owner: string, ttlMs: number): MaybePromise<boolean>
  /** Releases the lock only if `owner` still holds it (compare-and-delete). */
  unlock?(sid: string, owner: string): MaybePromise<void>
  /** Files the session under `tag` (a provider `sid` or `sub`) until `ttl` seconds have passed. */
  tag?(tag: string, sid: string, ttl: number): MaybePromise<void>
  /** The sessions filed under `tag` (some may be gone already). */
  tagged?(tag: string): MaybePromise<string[]>
  /** Records a one-time `key` for `ttl` seconds; resolves false when it was already recorded. */
  once?(key: string, ttl: number): MaybePromise<boolean>
  /**
   * Drops whatever the store keeps of records in this process (a cache): codegrant calls it when
   * the store's circuit breaker opens, so that nothing kept from before an outage is served after
   * it (`@codegrant/redis`'s session cache).
   */
  flushCache?(): void
}

/** A store that coordinates instances and serves back-channel logout. */
export type CoordinatingStore = Required<Omit<SessionStore, 'flushCache'>> & Pick<SessionStore, 'flushCache'>

export function isCoordinating(store: SessionStore): store is CoordinatingStore {
  const { update, lock, unlock, tag, tagged, once } = store
  return [update, lock, unlock, tag, tagged, once].every((member) => typeof member === 'function')
}

/** Sessions an in-process store keeps at most, unless told otherwise (~1 KB each measured: ~10 MB). */
export const MEMORY_STORE_MAX_SESSIONS = 10_000

/**
 * An in-process store: for a single instance and for tests. Sessions die with the process.
 * Bounded: past `maxSessions`, expired records are dropped first, then the least recently
 * used (whose users must sign in again), so a flood of logins cannot exhaust memory.
 * Coordinates refreshes and serves back-channel logout within the process.
 */
export function memoryStore(options: { maxSessions?: number } = {}): CoordinatingStore {
  const max = Math.max(1, options.maxSessions ?? MEMORY_STORE_MAX_SESSIONS)
  // a Map iterates in insertion order: re-inserting on use keeps it ordered by last use
  const records = new Map<string, { data: SessionData; until: number }>()
  const locks = new Map<string, { owner: string; until: number }>()
  const tags = new Map<string, Map<string, number>>()
  const seen = new Map<string, { until: number }>()
  const sweepRecords = sweeper(records)
  const sweepSeen = sweeper(seen)
  let swept = 0
  // full: expired records go (a full sweep at most once a second), then the least recently used
  const makeRoom = (now: number) => {
    if (now - swept > 1000) {
      swept = now
      for (const [key, record] of records) if (record.until <= now) records.delete(key)
    }
    for (const key of records.keys()) {
      if (records.size < max) break
      records.delete(key)
    }
  }
  const get = (sid: string) => {
    const record = records.get(sid)
    if (!record) return undefined
    records.delete(sid)
    if (record.until <= Date.now()) return undefined
    records.set(sid, record)
    return record.data
  }
  const set = (sid: string, data: SessionData, ttl: number) => {
    const now = Date.now()
    records.delete(sid)
    if (records.size >= max) makeRoom(now)
    records.set(sid, { data, until: now + ttl * 1000 })
    sweepRecords(now)
  }
  return {
    get,
    set,
    update(sid, data, ttl) {
      if (get(sid) === undefined) return false
      set(sid, data, ttl)
      return true
    },
    destroy(sid) {
      records.delete(sid)
    },
    lock(sid, owner, ttlMs) {
      const held = locks.get(sid)
      if (held && held.until > Date.now()) return false
      locks.set(sid, { owner, until: Date.now() + ttlMs })
      return true
    },
    unlock(sid, owner) {
      if (locks.get(sid)?.owner === owner) locks.delete(sid)
    },
    tag(tag, sid, ttl) {
      let members = tags.get(tag)
      if (!members) tags.set(tag, (members = new Map()))
      const now = Date.now()
      for (const [member, until] of members) if (until <= now) members.delete(member)
      members.set(sid, now + ttl * 1000)
    },
    tagged(tag) {
      const members = tags.get(tag)
      if (!members) return []
      const now = Date.now()
      for (const [sid, until] of members) if (until <= now) members.delete(sid)
      if (members.size === 0) tags.delete(tag)
      return [...members.keys()]
    },
    once(key, ttl) {
      const now = Date.now()
      const found = seen.get(key)
      if (found !== undefined && found.until > now) return false
      seen.set(key, { until: now + ttl * 1000 })
      sweepSeen(now)
      return true
    },
  }
}

/**
 * Drops expired entries a few at a time as others are written: O(1) per write however many are
 * live (a full sweep every 1,024 writes made a million logins quadratic).
 */
function sweeper(entries: Map<string, { until: number }>): (now: number) => void {
  let cursor: Iterator<[string, { until: number }]> | undefined
  return (now) => {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      cursor ??= entries.entries()
      const next = cursor.next()
      if (next.done) {
        cursor = undefined
        return
      }
      if (next.value[1].until <= now) entries.delete(next.value[0])
    }
  }
}

/** Entries looked at per write: visits every entry once per (live entries / 4) writes. */
const SWEEP_PER_WRITE = 4

export function isSessionData(value: unknown): value is SessionData {
  if (typeof value !== 'object' || value === null) return false
  const data = value as Partial<SessionData>
  return (
    typeof data.sid === 'string' &&
    typeof data.iat === 'number' &&
    typeof data.uat === 'number' &&
    typeof data.exp === 'number' &&
    typeof data.tokens === 'object' && data.tokens !== null && typeof data.tokens.accessToken === 'string' &&
    (typeof data.user === 'object' && data.user !== null ? typeof data.user.sub === 'string' : typeof data.tokens.idToken === 'string') &&
    (data.identity === undefined || isSessionIdentity(data.identity))
  )
}
