// A copy of codegrant's cookie sealing (packages/core/src/session/cookie-codec.ts: AES-256-GCM,
// key from HKDF-SHA256, the cookie name as additional data), which the core does not export.
// The bench uses it only (1) to age a real session cookie (move `uat` back, so the next
// request must renew it: the "stale cookie" case) and (2) to time decryption on its own in
// the micro-benchmark. main.mjs checks it opens a real cookie before using it.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'

const IV_BYTES = 12
const TAG_BYTES = 16

export function createSessionCodec(secret) {
  const key = Buffer.from(hkdfSync('sha256', secret, 'codegrant', 'codegrant cookie encryption v1', 32))
  return {
    seal(name, plaintext) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(Buffer.from(name))
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open(name, sealed) {
      const raw = Buffer.from(sealed, 'base64url')
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES))
      decipher.setAAD(Buffer.from(name))
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
    },
  }
}

/** `codegrant.session=…` (or its chunks `codegrant.session.0=…; …`) from a Cookie header. */
export function sessionValue(cookieHeader, name = 'codegrant.session') {
  const pairs = new Map(cookieHeader.split('; ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]))
  if (pairs.has(name)) return pairs.get(name)
  let value = ''
  for (let i = 0; pairs.has(`${name}.${i}`); i++) value += pairs.get(`${name}.${i}`)
  return value || undefined
}

/**
 * The same session with its last-use time moved `seconds` back, sealed again and sent as one
 * cookie: codegrant then renews (re-encrypts and re-sends) it on every request that carries it.
 */
export function agedSessionCookie(cookieHeader, secret, seconds, name = 'codegrant.session') {
  const codec = createSessionCodec(secret)
  const session = JSON.parse(codec.open(name, sessionValue(cookieHeader, name)))
  session.uat -= seconds
  return `${name}=${codec.seal(name, JSON.stringify(session))}`
}
