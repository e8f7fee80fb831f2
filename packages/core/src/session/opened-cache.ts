/**
 * Session cookies already opened in this process, by their exact sealed value: a request that
 * carries a cookie seen before skips the AES-GCM decryption and the JSON parse. Only values that
 * opened (authenticated) with one of this codegrant's keys are ever stored, and a lookup matches
 * the whole value, so a tampered or foreign cookie is never a hit; the cache belongs to one
 * codec, so changing the key list (a new `createCodegrant()`) starts from an empty cache. It
 * holds what the cookie says, never whether the session is still live: callers check expiry and
 * idle time on every hit.
 *
 * Bounded by entries and by the characters of the cookies it keeps (chunked sessions are long);
 * the oldest entry goes first.
 */
export interface OpenedCache<T> {
  /** @param parts the cookie value as it arrived: one cookie, or its chunks in order */
  get(parts: readonly string[]): T | undefined
  set(parts: readonly string[], value: T): void
  delete(parts: readonly string[] | undefined): void
  readonly size: number
}

/**
 * Looked up by a number made of the first characters of the sealed value (its IV, random per
 * seal: 7 base64url characters are 42 random bits) instead of the whole value: hashing a
 * 1.5–12 KB string on every request costs more than the lookup saves, and even a 38-character
 * prefix costs a string cut from the request's header and hashed on every request (~120 ns, a
 * number ~50 ns). The key only finds a candidate: a hit is confirmed by comparing every part of
 * the value, chunk by chunk (joining the chunks would copy the whole value on every request), so
 * two values that share a key (among 10,000 cached sessions, some pair does with a chance of about
 * 1 in 90,000) cost each other's place in the cache, never a wrong answer.
 */
const KEY_CHARS = 7

/** The key of a sealed value: its first {@link KEY_CHARS} character codes (7 bits each: below 2^53, exact as a number). */
function keyOf(parts: readonly string[]): number {
  const first = parts[0]!
  const chars = Math.min(KEY_CHARS, first.length)
  let key = 0
  for (let i = 0; i < chars; i++) key = key * 128 + (first.charCodeAt(i) & 0x7f)
  return key
}

/** A copy that does not keep the request's whole Cookie header alive (a slice would). */
function ownCopy(value: string): string {
  return Buffer.from(value, 'latin1').toString('latin1')
}

interface Entry<T> {
  parts: string[]
  chars: number
  value: T
}

function samePartsAs(entry: Entry<unknown>, parts: readonly string[]): boolean {
  if (entry.parts.length !== parts.length) return false
  for (let i = 0; i < parts.length; i++) if (entry.parts[i] !== parts[i]) return false
  return true
}

export function createOpenedCache<T>(maxEntries: number, maxChars: number): OpenedCache<T> {
  const entries = new Map<number, Entry<T>>()
  let chars = 0
  const remove = (key: number) => {
    const entry = entries.get(key)
    if (!entry) return
    entries.delete(key)
    chars -= entry.chars
  }
  return {
    get(parts) {
      const entry = entries.get(keyOf(parts))
      return entry !== undefined && samePartsAs(entry, parts) ? entry.value : undefined
    },
    set(parts, value) {
      const size = parts.reduce((sum, part) => sum + part.length, 0)
      if (maxEntries <= 0 || size > maxChars || parts.length === 0) return
      const own = parts.map(ownCopy)
      const key = keyOf(own)
      remove(key)
      entries.set(key, { parts: own, chars: size, value })
      chars += size
      for (const oldest of entries.keys()) {
        if (entries.size <= maxEntries && chars <= maxChars) break
        remove(oldest)
      }
    },
    delete(parts) {
      if (parts === undefined || parts.length === 0) return
      const key = keyOf(parts)
      const entry = entries.get(key)
      if (entry !== undefined && samePartsAs(entry, parts)) remove(key)
    },
    get size() {
      return entries.size
    },
  }
}
