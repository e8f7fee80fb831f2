// The bench ages a real session cookie (moves `uat` back, so the next request must renew it)
// and times decryption alone, with the core's own cookie codec.
import { createCookieCodec } from '@codegrant/core'

/** The core's codec for one cookie secret: `seal(name, text)`, `open(name, sealed)`. */
export function createSessionCodec(secret) {
  return createCookieCodec([secret])
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

/**
 * `count` sessions like the one in `cookieHeader` (each with its own session id), sealed with the
 * same secret: as many different users' cookies, for a connection that carries many users (a proxy's pool).
 */
export function sessionCookieVariants(cookieHeader, secret, count, name = 'codegrant.session') {
  const codec = createSessionCodec(secret)
  const session = JSON.parse(codec.open(name, sessionValue(cookieHeader, name)))
  return Array.from({ length: count }, (_, i) => `${name}=${codec.seal(name, JSON.stringify({ ...session, sid: `${session.sid.slice(0, -4)}${String(i).padStart(4, '0')}` }))}`)
}
