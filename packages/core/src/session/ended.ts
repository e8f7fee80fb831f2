/**
 * "Ended before" records: how the server ends cookie sessions, which live in their browsers and
 * cannot be destroyed. A small record per provider user (`sub`) and per provider session (`sid`)
 * says "the sessions of this user, or of this provider session, that began before T are over";
 * it is kept in a shared store (Redis: `OAUTH_REDIS_URL` beside `OAUTH_SESSION_STORE=cookie`) for
 * as long as such a session can live (`OAUTH_SESSION_MAX_AGE`). Back-channel logout,
 * `sessions.endAll` and the admin's `codegrant.sessions.endAll` write them.
 *
 * Shared Signals (`OAUTH_SSF`) keep two more per user, with any store: "re-authenticate when the
 * user authenticated before T" (CAEP `credential-change`, `assurance-level-change`) and "refresh
 * the claims when they were issued before T" (`token-claims-change`).
 *
 * Every request's session is checked against its records (`readSession`, context.ts), which the
 * store answers from memory while they are unchanged (`@codegrant/redis`'s client-side cache).
 * Records are keyed by the provider's name and the hashed `sub` or `sid`: the provider's word,
 * from the session's identity, never the app's `user`.
 */
import { createHash } from 'node:crypto'
import { now } from '../clock.js'
import type { MaybePromise, SessionData, SessionStore } from './store.js'

/** A store that keeps these records. */
export type RecordingStore = SessionStore & Required<Pick<SessionStore, 'endBefore' | 'endedBefore'>>

export function canRecord(store: SessionStore | undefined): store is RecordingStore {
  return typeof store?.endBefore === 'function' && typeof store.endedBefore === 'function'
}

/** The kinds of record: the user's sessions ended, a provider session's ended, re-authentication, claims refresh. */
type Kind = 'sub' | 'sid' | 'reauth' | 'claims'

const hash = (value: string) => createHash('sha256').update(value).digest('base64url')

/** A record's key: its kind, then the provider's name and the value, hashed (a fixed-size, safe key). */
export const recordKey = (kind: Kind, provider: string, value: string) => `${kind}:${hash(`${provider}\u0000${value}`)}`

/** What a session's records say of it at this request, if anything. */
export type Verdict = 'ended' | 'reauthenticate' | 'refresh' | undefined

export interface SessionRecords {
  /** The store the records are kept in (behind the session backend's breaker). */
  readonly store: RecordingStore
  /**
   * Ends, on every instance, the sessions of the user `sub` at `provider` that began before
   * `before` (seconds; default: those begun until now).
   *
   * @throws {CodegrantError} `codegrant/store_unavailable` when the record cannot be written.
   */
  endUser(provider: string, sub: string, before?: number): Promise<void>
  /** Ends, on every instance, the sessions of the provider session `sid` at `provider` that began before `before`. */
  endProviderSession(provider: string, sid: string, before?: number): Promise<void>
  /** Requires, of the user's sessions authenticated until now, a fresh sign-in at their next guarded request. */
  reauthenticate(provider: string, sub: string): Promise<void>
  /** Refreshes, at their next request, the claims of the user's sessions issued until now. */
  refreshClaims(provider: string, sub: string): Promise<void>
  /**
   * What the records say of `session` (ended first, then re-authentication, then refresh).
   * Synchronous while the store answers from memory.
   *
   * @throws {CodegrantError} `codegrant/store_unavailable` (rejects) when the records cannot be read.
   */
  check(session: SessionData): MaybePromise<Verdict>
}

/** A session's record keys and the times they are compared with, once per session object (cookie sessions are shared, frozen, per cookie). */
interface Checked {
  keys: string[]
  verdicts: Verdict[]
  times: number[]
  /** The verdict of the last reads, and the store's `recordsVersion` then: kept while that is unchanged. */
  kept?: { version: number; verdict: Verdict }
}

/** What the records are for: ending cookie sessions (`ends`), Shared Signals' (`signals`). */
export interface RecordUses {
  ends: boolean
  signals: boolean
}

export interface RecordedIdentity {
  provider: string
  sub: string
  sid?: string | undefined
  /** When the user authenticated (the ID token's `auth_time`), if known. */
  authTime?: number | undefined
  /** When the session's tokens, and so its claims, were last issued, if known (else its login). */
  claimsTime?: number | undefined
}

/**
 * The records kept in `store`. `identify` gives a session's provider (by name) and the provider's
 * identity of its user; a session without one is never matched by a record (it has no user).
 */
export function createSessionRecords(store: RecordingStore, maxAge: number, uses: RecordUses, identify: (session: SessionData) => RecordedIdentity | undefined): SessionRecords {
  const checked = new WeakMap<SessionData, Checked | null>()
  const checkedOf = (session: SessionData): Checked | null => {
    let found = checked.get(session)
    if (found === undefined) {
      const identity = identify(session)
      found = identity ? plan(session, identity, uses) : null
      checked.set(session, found)
    }
    return found
  }
  const write = async (key: string, before = now() + 1) => {
    // kept until every session that began before `before` has reached its absolute end
    await store.endBefore(key, before, Math.max(1, before - now() + maxAge))
  }
  return {
    store,
    endUser: (provider, sub, before) => write(recordKey('sub', provider, sub), before),
    endProviderSession: (provider, sid, before) => write(recordKey('sid', provider, sid), before),
    reauthenticate: (provider, sub) => write(recordKey('reauth', provider, sub)),
    refreshClaims: (provider, sub) => write(recordKey('claims', provider, sub)),
    check(session) {
      const found = checkedOf(session)
      if (found === null) return undefined
      // read before the records: a change while they are read gives the next request another version
      const version = store.recordsVersion?.()
      if (version !== undefined && found.kept?.version === version) return found.kept.verdict
      const read = found.keys.map((key) => store.endedBefore(key))
      if (!read.some((time) => time instanceof Promise)) {
        const verdict = verdictOf(found, read as (number | undefined)[])
        if (version !== undefined) found.kept = { version, verdict }
        return verdict
      }
      return Promise.all(read).then((times) => verdictOf(found, times))
    },
  }
}

/** Which records a session is checked against, and the time each compares with. */
function plan(session: SessionData, identity: RecordedIdentity, uses: RecordUses): Checked {
  const { provider, sub, sid } = identity
  const entries: [string, Verdict, number][] = []
  if (uses.ends) {
    entries.push([recordKey('sub', provider, sub), 'ended', session.iat])
    if (sid !== undefined) entries.push([recordKey('sid', provider, sid), 'ended', session.iat])
  }
  if (uses.signals) {
    entries.push([recordKey('reauth', provider, sub), 'reauthenticate', identity.authTime ?? session.iat])
    entries.push([recordKey('claims', provider, sub), 'refresh', identity.claimsTime ?? session.iat])
  }
  return { keys: entries.map(([key]) => key), verdicts: entries.map(([, verdict]) => verdict), times: entries.map(([, , time]) => time) }
}

/** The first verdict (in the order planned: ended first) whose record's time is after the session's. */
function verdictOf(checked: Checked, befores: readonly (number | undefined)[]): Verdict {
  for (let i = 0; i < befores.length; i++) {
    const before = befores[i]
    if (before !== undefined && checked.times[i]! < before) return checked.verdicts[i]
  }
  return undefined
}
