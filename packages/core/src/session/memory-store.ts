/** The in-process session store (`OAUTH_SESSION_STORE=memory`, and `memoryStore()` for tests and one-instance apps). */
import { markMemoryStore } from '../session-types.js'
import type { CoordinatingStore, SessionData } from './store.js'

/** Sessions an in-process store keeps at most, unless told otherwise (~1 KB each measured: ~10 MB). */
export const MEMORY_STORE_MAX_SESSIONS = 10_000

/**
 * An in-process store: for a single instance and for tests. Sessions die with the process.
 * Bounded: past `maxSessions`, expired records are dropped first, then the least recently
 * used (whose users must sign in again), so a flood of logins cannot exhaust memory.
 * Coordinates refreshes and serves back-channel logout within the process.
 */
export function memoryStore(options: { maxSessions?: number } = {}): CoordinatingStore & Required<Pick<CoordinatingStore, 'endBefore' | 'endedBefore'>> {
  const max = Math.max(1, options.maxSessions ?? MEMORY_STORE_MAX_SESSIONS)
  // a Map iterates in insertion order: re-inserting on use keeps it ordered by last use
  // `at`: the count of appends to the order when the record was last put at its end (see `get`)
  const records = new Map<string, { data: SessionData; until: number; at: number }>()
  let appended = 0
  const locks = new Map<string, { owner: string; until: number }>()
  const tags = new Map<string, Map<string, number>>()
  const seen = new Map<string, { until: number }>()
  const ended = new Map<string, { before: number; until: number }>()
  const sweepEnded = sweeper(ended)
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
    if (record.until <= Date.now()) {
      records.delete(sid)
      return undefined
    }
    // a read moves the record to the end of the order, unless it is in the newer half already
    // (fewer appends since it was put there than half the records), where eviction, which takes
    // the oldest first, cannot reach it before it would be moved again. Moving it on every read
    // rewrote the Map's order each time: 1–2 µs a read with 1,000 sessions (the Map's table is
    // rebuilt as deleted slots fill it), the most of a guarded request's own cost.
    if (appended - record.at > records.size / 2) {
      records.delete(sid)
      records.set(sid, record)
      record.at = ++appended
    }
    return record.data
  }
  const set = (sid: string, data: SessionData, ttl: number) => {
    const now = Date.now()
    records.delete(sid)
    if (records.size >= max) makeRoom(now)
    records.set(sid, { data, until: now + ttl * 1000, at: ++appended })
    sweepRecords(now)
  }
  const store: CoordinatingStore & Required<Pick<CoordinatingStore, 'endBefore' | 'endedBefore'>> = {
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
    endBefore(key, before, ttl) {
      const now = Date.now()
      const found = ended.get(key)
      if (found !== undefined && found.until > now && found.before >= before) return
      ended.set(key, { before, until: now + ttl * 1000 })
      sweepEnded(now)
    },
    endedBefore(key) {
      const found = ended.get(key)
      return found !== undefined && found.until > Date.now() ? found.before : undefined
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
  return markMemoryStore(store)
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
