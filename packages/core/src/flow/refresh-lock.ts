import { randomUUID } from 'node:crypto'
import type { OAuthConfig } from '../config.js'
import { CodegrantError } from '../errors.js'
import { guarded, replaceRecord } from '../session/backend.js'
import type { SessionData, SessionStore } from '../session/store.js'

type LockingStore = SessionStore & Required<Pick<SessionStore, 'lock' | 'unlock'>>

export function canLock(store: SessionStore): store is LockingStore {
  return typeof store.lock === 'function' && typeof store.unlock === 'function'
}

/** How often an instance that waits for another's refresh looks at the record. */
const POLL_MS = 50

/**
 * Lifetimes of the cross-instance refresh lock: it must outlive one token call (so a slow but
 * live holder keeps it) and lapse soon after (so a dead holder does not block the session).
 */
export function lockTimes(config: OAuthConfig): { lockMs: number; waitMs: number } {
  const lockMs = config.httpTimeout + 2000
  return { lockMs, waitMs: lockMs + config.httpTimeout + 1000 }
}

/**
 * Refreshes a session once across every instance that shares `store` (RFC 9700 §4.14.2: a rotated
 * refresh token used twice makes the provider revoke the grant). The instance that takes the
 * session's lock calls the token endpoint and writes the record back only if it still exists
 * (a session ended meanwhile stays ended); the others wait, bounded, and use what it stored.
 * A holder that dies leaves a lock that lapses, and a waiter takes over.
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
  refresh: (current: SessionData) => Promise<SessionData>,
): Promise<SessionData> {
  const { lockMs, waitMs } = lockTimes(config)
  const owner = randomUUID()
  const deadline = Date.now() + waitMs
  const refreshedElsewhere = (current: SessionData) => current.tokens.accessToken !== session.tokens.accessToken
  for (;;) {
    if (await guarded(config, 'lock', () => store.lock(session.sid, owner, lockMs))) {
      try {
        const current = await currentRecord(config, store, session.sid)
        if (refreshedElsewhere(current)) return current
        const fresh = await refresh(current)
        if (!(await replaceRecord(config, store, fresh, ttl(fresh)))) throw ended()
        return fresh
      } finally {
        await Promise.resolve(guarded(config, 'lock', () => store.unlock(session.sid, owner))).catch(() => undefined)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const current = await currentRecord(config, store, session.sid)
    if (refreshedElsewhere(current)) return current
    if (Date.now() > deadline) {
      throw new CodegrantError('codegrant/store_unavailable', 'Another instance is still refreshing this session. Try again in a moment.')
    }
  }
}

async function currentRecord(config: OAuthConfig, store: SessionStore, sid: string): Promise<SessionData> {
  const current = await guarded(config, 'read', () => store.get(sid))
  if (!current) throw ended()
  return current
}

function ended(): CodegrantError {
  return new CodegrantError('codegrant/session_ended', 'The session was ended (signed out elsewhere). Sign in again.')
}
