import { BasicPooledClientSideCache, type RedisArgument } from '@redis/client'
import type { SessionData } from '@codegrant/core'

/** Bounds of the session cache: whichever is reached first evicts the least recently used record. */
export interface SessionCacheLimits {
  /** Records kept at most. Default 10,000. */
  entries?: number
  /** Bytes kept at most, as estimated by {@link estimateBytes}. Default 32 MiB. */
  bytes?: number
}

export const CACHE_ENTRIES = 10_000
export const CACHE_BYTES = 32 * 1024 * 1024

/**
 * What a cached record is taken to cost in the heap: its key, its text and the parsed object
 * (together about twice the text's length), and the entry around them: 2.7 KiB for a login's
 * 1.2 KB record, where 2.66 KiB were measured (bench/RESULTS.md). The byte bound counts this.
 */
export function estimateBytes(key: string, raw: string | null): number {
  return 2 * key.length + 2 * (raw?.length ?? 0) + 256
}

interface Entry {
  /** The record's text; null for an "ended before" record known to be absent (see {@link SessionCache}). */
  raw: string | null
  /** Parsed on first use; undefined when the text is not JSON (never served: see `read`). */
  data: SessionData | undefined
  bytes: number
  /** The record's Redis TTL as read with it (`performance.now()` clock): not served after. Infinity for an absent record (until invalidated). */
  expiresAt: number
  /** The count of appends to the cache's order when this entry was last put at its end (see `read`). */
  at: number
}

/** A read under way: it may store its reply only if nothing invalidated its key meanwhile. */
interface Load {
  valid: boolean
}

type Client = Parameters<BasicPooledClientSideCache['handleCache']>[0]
type Parser = Parameters<BasicPooledClientSideCache['handleCache']>[1]

/**
 * Server-assisted client-side caching of session records (Redis `CLIENT TRACKING ON OPTIN`,
 * RESP3 push invalidations), given to node-redis as its `clientSideCache` for a single Redis, a
 * Sentinel-watched master or every node of a Cluster. node-redis turns tracking on for each
 * connection it makes, marks the reads we choose (`GET` of a session key) with `CLIENT CACHING
 * YES`, hands us those reads and every invalidation, and tells us when a connection errs or
 * closes and while a Cluster rediscovers its slots. Only session records and "ended before"
 * records are cached: locks, one-time keys and tags are never read through here.
 *
 * A record is dropped when Redis invalidates its key (a write, a delete, its expiry, `FLUSHDB`),
 * when its TTL as read with it has passed, and everything is dropped when a connection errs,
 * closes or reconnects (invalidations may have been missed), on a Sentinel failover (the master's
 * connections close), during a Cluster's rediscovery, when the store's heartbeat fails, and
 * when {@link clear} is called (the core's breaker opening). Hits are served only while the
 * heartbeat has lately proved that every tracking connection carries its invalidations
 * ({@link confirm}): a connection that silently stops (a network partition without a reset)
 * stops the hits within one heartbeat window.
 *
 * A read that an invalidation (or a flush) overtakes while it is under way returns its reply but
 * does not store it. Unlike node-redis's own cache, a hit returns the parsed record itself (the
 * same object until the record changes: callers treat sessions as immutable) with no round trip,
 * no copy and no parse, and the memory is bounded in bytes as well as entries.
 */
export class SessionCache extends BasicPooledClientSideCache {
  readonly #entries = new Map<string, Entry>()
  readonly #loads = new Map<string, Set<Load>>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  #bytes = 0
  /** Entries put at the end of the order so far (stored or moved there by a hit). */
  #appended = 0
  /** Changes with every record stored or dropped and every flush: see `version`. */
  #version = 0
  #disabled = false
  /** Hits are served until then (`performance.now()`), see {@link confirm}. */
  #confirmedUntil = 0

  readonly #isEndedKey: (key: string) => boolean

  /**
   * @param isEndedKey the keys of "ended before" records (`endedBefore`), cached like session
   *   records and, unlike them, also while absent (Redis tracks a key read while it did not exist,
   *   and invalidates it when it is written): the usual answer, "no record", costs no round trip.
   */
  constructor(isSessionKey: (key: string) => boolean, limits: SessionCacheLimits = {}, isEndedKey: (key: string) => boolean = () => false) {
    super({
      trackingMode: 'optin',
      recordStats: false,
      cacheable: (command, keys) => {
        if (command.toUpperCase() !== 'GET' || keys.length !== 1) return false
        const key = keyText(keys[0]!)
        return isSessionKey(key) || isEndedKey(key)
      },
    })
    this.#isEndedKey = isEndedKey
    this.#maxEntries = Math.max(1, limits.entries ?? CACHE_ENTRIES)
    this.#maxBytes = Math.max(1, limits.bytes ?? CACHE_BYTES)
  }

  /** Records cached now. */
  override size(): number {
    return this.#entries.size
  }

  /** Bytes the cached records are estimated to take. */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * The cached record for `key`, if one may be served now: not invalidated, within its TTL, and
   * the connections lately confirmed. An absent session record is never cached (its `raw` is
   * never null); an absent "ended before" record is (`raw` null).
   */
  read(key: string): Entry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    const now = performance.now()
    if (now >= entry.expiresAt) {
      this.#drop(key, entry)
      return undefined
    }
    if (this.#disabled || now >= this.#confirmedUntil) return undefined
    // least recently used first: a hit moves the record to the end, unless it is in the newer half
    // of the order already (fewer appends since it was put there than half the entries), where
    // eviction, which takes the oldest first, cannot reach it before it would be moved again.
    // Moving it on every hit rewrote the Map's order each time: 0.5 µs a hit with one record
    // cached, 2 µs with 1,000 (the Map's table is rebuilt as deleted slots fill it).
    if (this.#appended - entry.at > this.#entries.size / 2) {
      this.#entries.delete(key)
      this.#entries.set(key, entry)
      entry.at = ++this.#appended
    }
    return entry
  }

  /**
   * A number that changes whenever a record is stored, dropped (invalidated, evicted, expired) or
   * everything is flushed; undefined while hits are not served. What was read from the cache at
   * one version would be read the same while it stays the same.
   */
  get version(): number | undefined {
    return this.serving ? this.#version : undefined
  }

  /** Whether hits are served now: the heartbeat has lately confirmed every tracking connection (and a Cluster is not rediscovering its slots). */
  get serving(): boolean {
    return !this.#disabled && performance.now() < this.#confirmedUntil
  }

  /** Keeps the parsed form of a record just read, if its text is the one cached. */
  remember(key: string, raw: string, data: SessionData): void {
    const entry = this.#entries.get(key)
    if (entry !== undefined && entry.raw === raw) entry.data = data
  }

  /** Hits may be served until `until` (`performance.now()` clock): every tracking connection answered a PING sent after `until - window`. */
  confirm(until: number): void {
    this.#confirmedUntil = until
  }

  /** The heartbeat failed: serve nothing until it succeeds again, and drop everything. */
  unconfirm(): void {
    this.#confirmedUntil = 0
    this.clear()
  }

  /**
   * node-redis's entry point for a read we chose to cache (a session `GET`), on a miss: sends it
   * with its `PTTL` (one write, one round trip), and stores the reply unless its key was
   * invalidated (or everything flushed) while it was under way, or the server did not confirm
   * the tracking.
   */
  override async handleCache(client: Client, parser: Parser, fn: () => Promise<unknown>, transformReply?: (...args: never[]) => unknown, typeMapping?: unknown, isStorable?: () => boolean): Promise<unknown> {
    const key = keyText(parser.keys[0]!)
    const load: Load = { valid: !this.#disabled }
    let loads = this.#loads.get(key)
    if (loads === undefined) this.#loads.set(key, (loads = new Set()))
    loads.add(load)
    const sent = performance.now()
    let reply: unknown
    let ttl: unknown
    try {
      // PTTL through the client's typed entry (its command methods are not on node-redis's caching client type)
      ;[reply, ttl] = await Promise.all([fn(), client.sendCommand<unknown>(['PTTL', key])])
    } finally {
      loads.delete(load)
      if (loads.size === 0 && this.#loads.get(key) === loads) this.#loads.delete(key)
    }
    const value = transformReply ? (transformReply as (reply: unknown, preserve: unknown, typeMapping: unknown) => unknown)(reply, parser.preserve, typeMapping) : reply
    if (load.valid && (isStorable?.() ?? true) && typeof ttl === 'number') {
      if (typeof value === 'string' && ttl > 0) this.#store(key, value, sent + ttl)
      // PTTL -2: no such key (a record that expires between the two is invalidated, as expiry is a change)
      else if (value === null && ttl === -2 && this.#isEndedKey(key)) this.#store(key, null, Number.POSITIVE_INFINITY)
    }
    return value
  }

  override invalidate(key: RedisArgument | null): void {
    if (key === null) {
      this.clear()
      return
    }
    const text = keyText(key)
    const entry = this.#entries.get(text)
    if (entry !== undefined) this.#drop(text, entry)
    const loads = this.#loads.get(text)
    if (loads) for (const load of loads) load.valid = false
  }

  override clear(): void {
    this.#version++
    this.#entries.clear()
    this.#bytes = 0
    for (const loads of this.#loads.values()) for (const load of loads) load.valid = false
    super.clear(false)
  }

  override onError(): void {
    this.clear()
  }

  override onClose(): void {
    this.clear()
  }

  override onPoolClose(): void {
    this.clear()
  }

  /** A Cluster rediscovering its slots: nothing is stored or served until it is done. */
  override disable(): void {
    this.#disabled = true
    this.clear()
  }

  override enable(): void {
    this.#disabled = false
  }

  #store(key: string, raw: string | null, expiresAt: number): void {
    const bytes = estimateBytes(key, raw)
    if (bytes > this.#maxBytes) return
    const old = this.#entries.get(key)
    if (old !== undefined) this.#drop(key, old)
    this.#version++
    this.#entries.set(key, { raw, data: undefined, bytes, expiresAt, at: ++this.#appended })
    this.#bytes += bytes
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break
      this.#drop(oldest, entry)
    }
  }

  #drop(key: string, entry: Entry): void {
    this.#version++
    this.#entries.delete(key)
    this.#bytes -= entry.bytes
  }
}

function keyText(key: RedisArgument): string {
  return typeof key === 'string' ? key : key.toString()
}
