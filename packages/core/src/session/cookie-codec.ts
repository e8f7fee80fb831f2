import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

/**
 * Authenticated encryption for cookie values: AES-256-GCM with keys derived once (HKDF-SHA256)
 * from the configured secrets. The cookie's name is bound into the ciphertext as additional
 * authenticated data, so a value cannot be replayed under another cookie name (a transaction
 * cookie as a session, or one tab's transaction as another's).
 */
export interface CookieCodec {
  seal(name: string, plaintext: string): string
  /** The plaintext, or undefined when the value was not made by one of our keys for this name. */
  open(name: string, sealed: string): string | undefined
}

const IV_BYTES = 12
const TAG_BYTES = 16

export function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'codegrant', 'codegrant cookie encryption v1', 32))
}

/** @param secrets first one encrypts; every one decrypts (key rotation). */
export function createCookieCodec(secrets: readonly string[]): CookieCodec {
  const keys = secrets.map(deriveKey)
  const current = keys[0]
  if (!current) throw new TypeError('at least one cookie secret is required')
  return {
    seal(name, plaintext) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', current, iv)
      cipher.setAAD(Buffer.from(name))
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open(name, sealed) {
      const raw = Buffer.from(sealed, 'base64url')
      if (raw.length <= IV_BYTES + TAG_BYTES) return undefined
      // Node's decoder skips characters it does not know and ignores a last character's spare
      // bits: only the one canonical spelling of a sealed value is accepted (many spellings of
      // one session would each be "a different cookie" to a cache keyed by the value)
      if (raw.toString('base64url') !== sealed) return undefined
      const iv = raw.subarray(0, IV_BYTES)
      const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES)
      const body = raw.subarray(IV_BYTES + TAG_BYTES)
      const aad = Buffer.from(name)
      for (const key of keys) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv)
          decipher.setAAD(aad)
          decipher.setAuthTag(tag)
          return decipher.update(body, undefined, 'utf8') + decipher.final('utf8')
        } catch {
          // not this key (or tampered): try the next one
        }
      }
      return undefined
    },
  }
}
