import type { DpopKey } from '../flow/dpop.js'

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
   * The user's claims when they are not simply the ID token's (userinfo merged, or no ID token).
   * Otherwise absent, and read from `tokens.idToken`: the claims are not stored twice, which
   * keeps cookie sessions small. Use {@link sessionUser}.
   */
  user?: UserClaims
  tokens: TokenSet
  /**
   * With DPoP: the session's key pair (private JWK), which its tokens are bound to. Kept only
   * here: inside the encrypted cookie, or in the server-side record. Gone with the session.
   */
  dpop?: DpopKey
  /** What the app's `onLogin` hook added to the session (kept in the cookie with the rest). */
  data?: Record<string, unknown>
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
 * the store is unreachable.
 */
export interface SessionStore {
  get(sid: string): MaybePromise<SessionData | undefined>
  /** @param ttl seconds until the record may be discarded */
  set(sid: string, data: SessionData, ttl: number): MaybePromise<void>
  destroy(sid: string): MaybePromise<void>
}

/** Sessions an in-process store keeps at most, unless told otherwise (~1 KB each measured: ~10 MB). */
export const MEMORY_STORE_MAX_SESSIONS = 10_000

/**
 * An in-process store: for a single instance and for tests. Sessions die with the process.
 * Bounded: past `maxSessions`, expired records are dropped first, then the least recently
 * used (whose users must sign in again), so a flood of logins cannot exhaust memory.
 */
export function memoryStore(options: { maxSessions?: number } = {}): SessionStore {
  const max = Math.max(1, options.maxSessions ?? MEMORY_STORE_MAX_SESSIONS)
  // a Map iterates in insertion order: re-inserting on use keeps it ordered by last use
  const records = new Map<string, { data: SessionData; until: number }>()
  // expired records are dropped a few at a time as others are written: O(1) per write however
  // many sessions are live (a full sweep every 1,024 writes made a million logins quadratic)
  let cursor: Iterator<[string, { until: number }]> | undefined
  const sweepSome = (now: number) => {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      cursor ??= records.entries()
      const next = cursor.next()
      if (next.done) {
        cursor = undefined
        return
      }
      if (next.value[1].until <= now) records.delete(next.value[0])
    }
  }
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
  return {
    get(sid) {
      const record = records.get(sid)
      if (!record) return undefined
      records.delete(sid)
      if (record.until <= Date.now()) return undefined
      records.set(sid, record)
      return record.data
    },
    set(sid, data, ttl) {
      const now = Date.now()
      records.delete(sid)
      if (records.size >= max) makeRoom(now)
      records.set(sid, { data, until: now + ttl * 1000 })
      sweepSome(now)
    },
    destroy(sid) {
      records.delete(sid)
    },
  }
}

/** Records looked at per write: visits every record once per (live records / 4) writes. */
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
    (typeof data.user === 'object' && data.user !== null ? typeof data.user.sub === 'string' : typeof data.tokens.idToken === 'string')
  )
}
