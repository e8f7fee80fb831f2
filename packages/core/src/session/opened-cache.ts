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
  get(sealed: string): T | undefined
  set(sealed: string, value: T): void
  delete(sealed: string | undefined): void
  readonly size: number
}

/**
 * Looked up by this prefix of the sealed value (the IV and most of the GCM tag, random per
 * seal) instead of the whole value: hashing a 1.5–12 KB string on every request costs more
 * than the lookup saves. A hit is then confirmed by comparing the whole value.
 */
const KEY_CHARS = 38

/** A copy that does not keep the request's whole Cookie header alive (a slice would). */
function ownCopy(value: string): string {
  return Buffer.from(value, 'latin1').toString('latin1')
}

export function createOpenedCache<T>(maxEntries: number, maxChars: number): OpenedCache<T> {
  const entries = new Map<string, { sealed: string; value: T }>()
  let chars = 0
  const remove = (key: string) => {
    const entry = entries.get(key)
    if (!entry) return
    entries.delete(key)
    chars -= entry.sealed.length
  }
  return {
    get(sealed) {
      const entry = entries.get(sealed.slice(0, KEY_CHARS))
      return entry !== undefined && entry.sealed === sealed ? entry.value : undefined
    },
    set(sealed, value) {
      if (maxEntries <= 0 || sealed.length > maxChars) return
      const own = ownCopy(sealed)
      const key = own.slice(0, KEY_CHARS)
      remove(key)
      entries.set(key, { sealed: own, value })
      chars += own.length
      while (entries.size > maxEntries || chars > maxChars) remove(entries.keys().next().value as string)
    },
    delete(sealed) {
      if (sealed === undefined) return
      const key = sealed.slice(0, KEY_CHARS)
      if (entries.get(key)?.sealed === sealed) remove(key)
    },
    get size() {
      return entries.size
    },
  }
}
