/** A call that several callers may share, and its value once it resolved. */
export interface Flight<V> {
  readonly result: Promise<V>
  /** Set when `result` resolved. */
  done?: V
}

/**
 * One call in flight per key, shared by every caller that asks meanwhile, and kept a while after
 * it resolved (the map-plus-forget pattern, once). A call that rejects is forgotten at once, so
 * that the next caller tries again; one that resolves is kept for `keepFor(entry)` ms, which
 * `keep` may change later. Only the key's current entry is ever forgotten: an older entry's
 * timer never drops a newer one. The timers do not hold the process open.
 */
export interface SingleFlight<K, V, E extends Flight<V>> {
  get(key: K): E | undefined
  /** Files `entry` (its call just started) under `key`, replacing what was there; returns it. */
  start(key: K, entry: E, keepFor: (entry: E) => number): E
  /** Keeps `key`'s entry, if it is still `entry`, for `ms` from now instead. */
  keep(key: K, entry: E, ms: number): void
}

export function singleFlight<K, V, E extends Flight<V> = Flight<V>>(): SingleFlight<K, V, E> {
  const entries = new Map<K, { entry: E; timer: ReturnType<typeof setTimeout> | undefined }>()
  const forget = (key: K, entry: E) => {
    const slot = entries.get(key)
    if (slot?.entry !== entry) return
    clearTimeout(slot.timer)
    entries.delete(key)
  }
  const keep = (key: K, entry: E, ms: number) => {
    const slot = entries.get(key)
    if (slot?.entry !== entry) return
    clearTimeout(slot.timer)
    slot.timer = setTimeout(() => forget(key, entry), ms).unref()
  }
  return {
    get: (key) => entries.get(key)?.entry,
    start(key, entry, keepFor) {
      clearTimeout(entries.get(key)?.timer)
      entries.set(key, { entry, timer: undefined })
      entry.result.then(
        (value) => {
          entry.done = value
          keep(key, entry, keepFor(entry))
        },
        () => forget(key, entry),
      )
      return entry
    },
    keep,
  }
}
