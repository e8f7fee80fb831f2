/**
 * RP-initiated logout with `state` (OpenID Connect RP-Initiated Logout 1.0 §2, §3): the `state`
 * sent to the end-session endpoint is kept in a short-lived sealed cookie of the browser that
 * logged out, so that the return to `/auth/logout/done` is acted on only when it carries that
 * browser's own state (as the login transaction binds the callback).
 */
import type { OAuthConfig } from '../config/resolved.js'
import type { CookieCodec } from '../session/cookie-codec.js'
import { deleteCookie, setCookie, type CookieAttributes, type RequestCookies } from '../session/cookie-jar.js'

/** A logout not back from the provider in this time is not acted on. */
export const LOGOUT_STATE_TTL = 10 * 60

/** What the browser is owed once the provider sends it back: where to go, if its `state` matches. */
export interface LogoutState {
  state: string
  /** The app's local path to land on. */
  returnTo: string
  /** Seconds since the epoch. */
  iat: number
}

export interface LogoutStateCookie {
  write(logout: LogoutState): string
  /** The browser's pending logout when `state` is its state and it is fresh; else undefined. */
  read(cookies: RequestCookies, state: string | null, now: number): LogoutState | undefined
  remove(): string
}

export function logoutStateCookie(config: OAuthConfig, codec: CookieCodec, prefix: string): LogoutStateCookie {
  const name = `${prefix}codegrant.logout`
  // the provider's redirect back is a top-level GET: Lax cookies come along
  const attributes: Omit<CookieAttributes, 'maxAge'> = { secure: config.secure, sameSite: 'lax' }
  return {
    write: (logout) => setCookie(name, codec.seal(name, JSON.stringify(logout)), { ...attributes, maxAge: LOGOUT_STATE_TTL }),
    read(cookies, state, now) {
      const value = cookies[name]
      const json = value === undefined || state === null ? undefined : codec.open(name, value)
      if (json === undefined) return undefined
      try {
        const logout = JSON.parse(json) as Partial<LogoutState>
        const valid = logout.state === state && typeof logout.returnTo === 'string' && typeof logout.iat === 'number' && now - logout.iat <= LOGOUT_STATE_TTL
        return valid ? (logout as LogoutState) : undefined
      } catch {
        return undefined
      }
    },
    remove: () => deleteCookie(name, attributes),
  }
}
