import { randomBytes } from 'node:crypto'
import type { OAuthConfig } from '../config.js'
import type { CookieCodec } from './cookie-codec.js'
import { clearChunked, readChunked, setCookie, writeChunked, type RequestCookies } from './cookie-jar.js'
import { isSessionData, memoryStore, type MaybePromise, type SessionData, type SessionStore } from './store.js'

/**
 * Where sessions live. `cookie`: the whole session, encrypted and chunked, in the browser.
 * A store: the session server-side, and an encrypted session id in one cookie.
 */
export interface SessionBackend {
  readonly cookieName: string
  read(cookies: RequestCookies, now: number): MaybePromise<SessionData | undefined>
  /** `Set-Cookie` values that persist `data` (and remove whatever stale form the request carries). */
  write(cookies: RequestCookies, data: SessionData, now: number): MaybePromise<string[]>
  /** `Set-Cookie` values that end the session (and the store record). */
  clear(cookies: RequestCookies, data: SessionData | undefined): MaybePromise<string[]>
}

/** Past this, the Cookie header nears Node.js's default 16 KB header limit. */
const LARGE_SESSION_BYTES = 10 * 1024

export function newSessionId(): string {
  return randomBytes(18).toString('base64url')
}

export function isLive(data: SessionData, now: number, config: OAuthConfig): boolean {
  return now < data.exp && now - data.uat < config.sessionIdleTimeout
}

/** Seconds until the session ends, whichever of the absolute and idle limits comes first. */
function remaining(data: SessionData, now: number, config: OAuthConfig): number {
  return Math.min(data.exp, data.uat + config.sessionIdleTimeout) - now
}

export function createSessionBackend(config: OAuthConfig, codec: CookieCodec, cookieName: string): SessionBackend {
  const attributes = { secure: config.secure, sameSite: 'lax' as const }
  const decode = (sealed: string | undefined): unknown => {
    const json = sealed === undefined ? undefined : codec.open(cookieName, sealed)
    if (json === undefined) return undefined
    try {
      return JSON.parse(json)
    } catch {
      return undefined
    }
  }
  const live = (value: unknown, now: number): SessionData | undefined =>
    isSessionData(value) && isLive(value, now, config) ? value : undefined

  if (config.sessionStore === 'cookie') {
    let warned = false
    return {
      cookieName,
      read: (cookies, now) => live(decode(readChunked(cookies, cookieName)), now),
      write(cookies, data, now) {
        const sealed = codec.seal(cookieName, JSON.stringify(data))
        if (sealed.length > LARGE_SESSION_BYTES && !warned) {
          warned = true
          config.logger.warn(
            `a session cookie of ${sealed.length} bytes was written: browsers and Node.js (16 KB of headers by default) may refuse ` +
              'headers this large; request fewer claims, or use a server-side session store',
          )
        }
        return writeChunked(cookies, cookieName, sealed, { ...attributes, maxAge: remaining(data, now, config) })
      },
      clear: (cookies) => clearChunked(cookies, cookieName, attributes),
    }
  }

  const store: SessionStore = config.sessionStore === 'memory' ? memoryStore() : config.sessionStore
  return {
    cookieName,
    read(cookies, now) {
      const sid = decode(readChunked(cookies, cookieName))
      if (typeof sid !== 'string') return undefined
      const found = store.get(sid)
      return found instanceof Promise ? found.then((data) => live(data, now)) : live(found, now)
    },
    write(cookies, data, now) {
      const ttl = remaining(data, now, config)
      const cookie = setCookie(cookieName, codec.seal(cookieName, JSON.stringify(data.sid)), { ...attributes, maxAge: ttl })
      const headers = [cookie, ...clearChunked(cookies, cookieName, attributes, new Set([cookieName]))]
      const saved = store.set(data.sid, data, ttl)
      return saved instanceof Promise ? saved.then(() => headers) : headers
    },
    clear(cookies, data) {
      const headers = clearChunked(cookies, cookieName, attributes)
      const destroyed = data ? store.destroy(data.sid) : undefined
      return destroyed instanceof Promise ? destroyed.then(() => headers) : headers
    },
  }
}
