import { randomUUID } from 'node:crypto'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, isCodegrantError } from '../errors.js'
import { replaceRecord } from '../session/backend.js'
import type { SessionData, SessionStore } from '../session/store.js'
import { annotate, ATTR } from '../telemetry.js'

type LockingStore = SessionStore & Required<Pick<SessionStore, 'lock' | 'unlock'>>

export function canLock(store: SessionStore): store is LockingStore {
  return typeof store.lock === 'function' && typeof store.unlock === 'function'
}

/** How often an instance that waits for another's refresh looks at the record. */
const POLL_MS = 50
/**
 * What one store call may take, as far as the lock is concerned: the Redis store's default
 * timeout (`OAUTH_REDIS_TIMEOUT`). The core does not know a custom store's own bound.
 */
const STORE_CALL_MS = 2000
/** Pauses before each further attempt to save a refreshed record (a store blip passes). */
const WRITE_PAUSES_MS = [100, 400]

/**
 * Lifetimes of the cross-instance refresh lock. It must outlive everything its holder does
 * while holding it, since a lock that lapses under a live holder lets another instance replay
 * the refresh token being used (and a rotating provider then revokes the grant): the record
 * read, the token call and its DPoP nonce retry, the provider's keys for the new ID token
 * (provider metadata is loaded before the lock), and the write-back with its retries. A holder
 * that dies blocks the session's refresh for that long; waiters give up a little later (503).
 */
export function lockTimes(config: OAuthConfig): { lockMs: number; waitMs: number } {
  const writes = WRITE_PAUSES_MS.reduce((sum, pause) => sum + pause + STORE_CALL_MS, STORE_CALL_MS)
  const lockMs = STORE_CALL_MS + 3 * config.httpTimeout + writes + 1000
  return { lockMs, waitMs: lockMs + config.httpTimeout + 1000 }
}

/** The grant for a session's current record, and what to do once its result is saved. */
export interface Grant {
  (current: SessionData): Promise<SessionData>
  /** The result of the grant for `current` is in the store (the refresher may forget it soon). */
  saved(current: SessionData): Promise<void>
  /**
   * The result of the grant for `current` could not be saved: the refresher keeps it for the
   * next attempt, which saves it and then calls `unlock` (the lock is kept until then).
   */
  unsaved(current: SessionData, unlock: () => Promise<void>): void
}

/**
 * Refreshes a session once across every instance that shares `store` (RFC 9700 §4.14.2: a rotated
 * refresh token used twice makes the provider revoke the grant). The instance that takes the
 * session's lock reads the record right before it uses the refresh token, calls the token
 * endpoint and writes the record back only if it still exists (a session ended meanwhile stays
 * ended); the others wait, bounded, and use what it stored. A holder that dies leaves a lock
 * that lapses, and a waiter takes over. A holder that cannot save its result keeps the lock,
 * so no other instance replays the used refresh token meanwhile, and `grant` keeps the result
 * for this instance's next attempt, which saves it and releases the lock.
 *
 * @param ttl seconds the record lives after the write.
 * @throws {CodegrantError} `codegrant/session_ended` when the record is gone;
 *   `codegrant/store_unavailable` when the store fails or the wait runs out.
 */
export async function refreshAcrossInstances(
  config: OAuthConfig,
  store: LockingStore,
  session: SessionData,
  ttl: (fresh: SessionData) => number,
  grant: Grant,
): Promise<SessionData> {
  const { lockMs, waitMs } = lockTimes(config)
  const owner = randomUUID()
  const deadline = Date.now() + waitMs
  const refreshedElsewhere = (current: SessionData) => current.tokens.accessToken !== session.tokens.accessToken
  const unlock = () => Promise.resolve(store.unlock(session.sid, owner)).catch(() => undefined)
  for (;;) {
    if (await store.lock(session.sid, owner, lockMs)) {
      let release = true
      try {
        const current = await currentRecord(store, session.sid)
        if (refreshedElsewhere(current)) return current
        const fresh = await grantOrSaved(store, current, grant)
        if (fresh.saved) return fresh.session
        try {
          await saveRefreshed(store, fresh.session, ttl(fresh.session))
        } catch (error) {
          // unsaved: the lock stays (until saved, or until it lapses), so no other instance replays
          // the used refresh token
          if (isCodegrantError(error, 'codegrant/store_unavailable')) {
            release = false
            grant.unsaved(current, unlock)
          }
          throw error
        }
        await grant.saved(current)
        return fresh.session
      } finally {
        if (release) await unlock()
      }
    }
    // another instance holds the lock: this refresh waits on it
    annotate(ATTR.waited, true)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const current = await currentRecord(store, session.sid)
    if (refreshedElsewhere(current)) return current
    if (Date.now() > deadline) {
      throw new CodegrantError('codegrant/store_unavailable', 'Another instance is still refreshing this session. Try again in a moment.')
    }
  }
}

/**
 * The grant for `current`. When the provider refuses its refresh token (`invalid_grant`: the
 * session ends), another instance may have used it meanwhile and saved the result: the record
 * is read again, and a record that holds other tokens by now is the answer (`saved`).
 */
export async function grantOrSaved(store: SessionStore, current: SessionData, grant: Grant): Promise<{ session: SessionData; saved: boolean }> {
  try {
    return { session: await grant(current), saved: false }
  } catch (error) {
    if (!isCodegrantError(error, 'codegrant/session_ended')) throw error
    const now = await store.get(current.sid)
    if (now && now.tokens.accessToken !== current.tokens.accessToken) return { session: now, saved: true }
    throw error
  }
}

/**
 * Writes a refreshed session back (only if its record still exists), trying again after a short
 * pause when the store fails: the result holds the only copy of a rotated refresh token.
 *
 * @throws {CodegrantError} `codegrant/session_ended` when the record is gone;
 *   `codegrant/store_unavailable` when every attempt failed.
 */
export async function saveRefreshed(store: SessionStore, fresh: SessionData, ttl: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (await replaceRecord(store, fresh, ttl)) return
      throw ended()
    } catch (error) {
      const pause = WRITE_PAUSES_MS[attempt]
      if (!isCodegrantError(error, 'codegrant/store_unavailable') || pause === undefined) throw error
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
}

async function currentRecord(store: SessionStore, sid: string): Promise<SessionData> {
  const current = await store.get(sid)
  if (!current) throw ended()
  return current
}

export function ended(): CodegrantError {
  return new CodegrantError('codegrant/session_ended', 'The session was ended (signed out elsewhere). Sign in again.')
}
