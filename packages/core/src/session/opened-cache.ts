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
 * Looked up by this prefix of the sealed value (the IV and most of the GCM tag, random per
 * seal) instead of the whole value: hashing a 1.5–12 KB string on every request costs more
 * than the lookup saves. A hit is then confirmed by comparing every part of the value, chunk by
 * chunk (joining the chunks would copy the whole value on every request).
 */
const KEY_CHARS = 38

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
  const entries = new Map<string, Entry<T>>()
  let chars = 0
  const keyOf = (parts: readonly string[]) => parts[0]!.slice(0, KEY_CHARS)
  const remove = (key: string) => {
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
