import { parse, serialize, type SerializeOptions } from 'cookie'

/** Cookies parsed once per request from the `Cookie` header. */
export type RequestCookies = Readonly<Record<string, string | undefined>>

export function parseCookies(header: string | undefined): RequestCookies {
  return header ? parse(header) : {}
}

/** Every cookie of codegrant's is named so, after `__Host-` on https (`codegrant.session`, `codegrant.tx.…`). */
const OWN = 'codegrant.'

/**
 * codegrant's own cookies of a `Cookie` header, parsed by `cookie` as {@link parseCookies} does,
 * without parsing the app's: a header that carries a dozen analytics and preference cookies costs
 * a few `indexOf` calls instead of a parse of every pair (issue 24: a proxy's connection carries
 * many users' headers, so the per-connection memo cannot spare the parse). A pair is ours when its
 * name starts with `codegrant.` or `__Host-codegrant.`; the text `codegrant.` inside another
 * cookie's name or value is not. The pairs keep their order, so a duplicate name resolves as
 * `cookie` resolves it (the first).
 */
export function ownCookies(header: string | undefined): RequestCookies {
  if (!header) return {}
  let own = ''
  // while every pair seen is ours, the header itself is what `cookie` should parse (no copy)
  let whole = true
  let expected = 0
  for (let at = header.indexOf(OWN); at !== -1; ) {
    const start = header.lastIndexOf(';', at) + 1
    const end = header.indexOf(';', at)
    const name = header.slice(start, at).trimStart()
    if (name === '' || name === '__Host-') {
      if (start !== expected) whole = false
      if (end === -1) return parse(whole ? header : own + header.slice(start))
      own += header.slice(start, end + 1)
      expected = end + 1
    } else whole = false
    if (end === -1) break
    at = header.indexOf(OWN, end)
  }
  return own ? parse(own) : {}
}

/**
 * True for a name `Set-Cookie` can carry (RFC 6265 token, as the `cookie` library checks).
 * A request may carry other names (planted from a sibling subdomain): they cannot be deleted
 * and are ignored, never passed to `serialize`, which throws on them.
 */
export function isCookieName(name: string): boolean {
  return /^[\u0021-\u003A\u003C\u003E-\u007E]+$/.test(name)
}

/** Browsers drop a `Set-Cookie` whose serialized form exceeds 4096 bytes. */
const MAX_SET_COOKIE_BYTES = 4096
const MAX_CHUNKS = 32

export interface CookieAttributes {
  secure: boolean
  sameSite: 'lax' | 'none'
  /** Seconds; 0 deletes the cookie. */
  maxAge: number
}

export function setCookie(name: string, value: string, attributes: CookieAttributes): string {
  const options: SerializeOptions = {
    httpOnly: true,
    path: '/',
    secure: attributes.secure,
    sameSite: attributes.sameSite,
    maxAge: Math.max(0, Math.floor(attributes.maxAge)),
  }
  // sealed values are base64url: nothing to encode
  return serialize(name, value, { ...options, encode: (v) => v })
}

export function deleteCookie(name: string, attributes: Omit<CookieAttributes, 'maxAge'>): string {
  return setCookie(name, '', { ...attributes, maxAge: 0 })
}

/** Names a value occupies: `name` when it fits in one cookie, else `name.0`, `name.1`, … */
function chunkName(name: string, index: number): string {
  return `${name}.${index}`
}

/** The value stored under `name`, reassembled from its chunks when it was split. */
export function readChunked(cookies: RequestCookies, name: string): string | undefined {
  const whole = cookies[name]
  if (whole !== undefined) return whole
  let value = ''
  for (let index = 0; index < MAX_CHUNKS; index++) {
    const chunk = cookies[chunkName(name, index)]
    if (chunk === undefined) return index === 0 ? undefined : value
    value += chunk
  }
  return undefined
}

/**
 * The cookies that hold the value stored under `name`, in order: `[value]`, or its chunks. For
 * readers that compare values without joining them (joining 12 KB of chunks on every request
 * costs more than the comparison).
 */
export function readChunks(cookies: RequestCookies, name: string): string[] | undefined {
  const whole = cookies[name]
  if (whole !== undefined) return [whole]
  const chunks: string[] = []
  for (let index = 0; index < MAX_CHUNKS; index++) {
    const chunk = cookies[chunkName(name, index)]
    if (chunk === undefined) return index === 0 ? undefined : chunks
    chunks.push(chunk)
  }
  return undefined
}

/**
 * `Set-Cookie` values that store `value` under `name`, split so every header stays within
 * 4096 bytes, and that delete whatever stale form (single or chunks) the request still carries.
 */
export function writeChunked(cookies: RequestCookies, name: string, value: string, attributes: CookieAttributes): string[] {
  const overhead = setCookie(chunkName(name, MAX_CHUNKS), '', attributes).length
  const room = MAX_SET_COOKIE_BYTES - overhead
  const written = new Set<string>()
  const headers: string[] = []
  const whole = setCookie(name, value, attributes)
  if (whole.length <= MAX_SET_COOKIE_BYTES) {
    headers.push(whole)
    written.add(name)
  } else {
    const count = Math.ceil(value.length / room)
    if (count > MAX_CHUNKS) throw new RangeError(`a ${value.length}-byte cookie value needs more than ${MAX_CHUNKS} cookies`)
    for (let index = 0; index < count; index++) {
      const chunk = chunkName(name, index)
      headers.push(setCookie(chunk, value.slice(index * room, (index + 1) * room), attributes))
      written.add(chunk)
    }
  }
  return headers.concat(clearChunked(cookies, name, attributes, written))
}

/** Deletes `name` and all its chunks that the request carries (except those in `keep`). */
export function clearChunked(
  cookies: RequestCookies,
  name: string,
  attributes: Omit<CookieAttributes, 'maxAge'>,
  keep: ReadonlySet<string> = new Set(),
): string[] {
  return Object.keys(cookies)
    .filter((cookie) => !keep.has(cookie) && (cookie === name || isChunkOf(cookie, name)) && isCookieName(cookie))
    .map((cookie) => deleteCookie(cookie, attributes))
}

function isChunkOf(cookie: string, name: string): boolean {
  return cookie.startsWith(`${name}.`) && /^\d+$/.test(cookie.slice(name.length + 1))
}
