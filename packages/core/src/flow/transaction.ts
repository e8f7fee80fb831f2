import { isFormPostMode } from '../config/enums.js'
import type { OAuthConfig } from '../config/resolved.js'
import type { CookieCodec } from '../session/cookie-codec.js'
import type { DpopKey } from '../session/store.js'
import { deleteCookie, isCookieName, setCookie, type CookieAttributes, type RequestCookies } from '../session/cookie-jar.js'

/** What a login must remember until its callback: kept in a cookie named for its state. */
export interface Transaction {
  state: string
  nonce?: string
  verifier: string
  returnTo: string
  redirectUri: string
  /** Seconds since the epoch. */
  iat: number
  /** With DPoP: the key pair made for this login, bound to its code and then to its session. */
  dpop?: DpopKey
  /** The `max_age` sent: the ID token's `auth_time` is checked against it. */
  maxAge?: number
  /** A step-up login: what the callback requires of the new ID token. */
  stepUp?: StepUp
  /** A `prompt=none` attempt. */
  silent?: true
  /** A single-page app's silent login (`/bff/silent-login`): the callback ends on the page that posts the result to the SPA. */
  spa?: true
  /** Scopes added to this login's because an API asked for them: kept in the session (`SessionData.added`). */
  added?: string
  /** With several providers: the one this login went to; only its callback accepts the response. */
  provider?: string
}

/** What a step-up login requires: the same user (when one was signed in), and an `acr` among these. */
export interface StepUp {
  sub?: string
  acr?: readonly string[]
}

/** A login not finished in this time is refused. */
export const TRANSACTION_TTL = 10 * 60
/** Logins in progress at once (tabs); past this, the oldest is dropped. */
export const MAX_TRANSACTIONS = 5

export interface TransactionCookies {
  name(state: string): string
  /** A transaction cookie's name (one that can be deleted: see `isCookieName`). */
  isTransaction(cookie: string): boolean
  write(transaction: Transaction): string
  read(cookies: RequestCookies, state: string, now: number): Transaction | 'missing' | 'invalid'
  remove(state: string): string
  /** Deletes the oldest transactions so that one more still fits under the cap. */
  evict(cookies: RequestCookies): string[]
}

export function transactionCookies(config: OAuthConfig, codec: CookieCodec, prefix: string): TransactionCookies {
  const base = `${prefix}codegrant.tx.`
  // form_post answers are cross-site POSTs: only SameSite=None cookies come along (and need Secure)
  const attributes: Omit<CookieAttributes, 'maxAge'> =
    isFormPostMode(config.responseMode) ? { secure: true, sameSite: 'none' } : { secure: config.secure, sameSite: 'lax' }
  const name = (state: string) => base + state
  const decode = (cookie: string, value: string | undefined): Transaction | undefined => {
    const json = value === undefined ? undefined : codec.open(cookie, value)
    if (json === undefined) return undefined
    try {
      const parsed = JSON.parse(json) as Transaction
      return typeof parsed.state === 'string' && typeof parsed.verifier === 'string' && typeof parsed.iat === 'number' ? parsed : undefined
    } catch {
      return undefined
    }
  }
  return {
    name,
    isTransaction: (cookie) => cookie.startsWith(base) && isCookieName(cookie),
    write: (transaction) =>
      setCookie(name(transaction.state), codec.seal(name(transaction.state), JSON.stringify(transaction)), { ...attributes, maxAge: TRANSACTION_TTL }),
    read(cookies, state, now) {
      const cookie = name(state)
      const value = cookies[cookie]
      if (value === undefined) return 'missing'
      const transaction = decode(cookie, value)
      if (!transaction || transaction.state !== state || now - transaction.iat > TRANSACTION_TTL) return 'invalid'
      return transaction
    },
    remove: (state) => deleteCookie(name(state), attributes),
    evict(cookies) {
      const pending = Object.keys(cookies)
        .filter((cookie) => cookie.startsWith(base) && isCookieName(cookie))
        .map((cookie) => ({ cookie, iat: decode(cookie, cookies[cookie])?.iat ?? 0 }))
        .sort((a, b) => a.iat - b.iat)
      return pending.slice(0, Math.max(0, pending.length - (MAX_TRANSACTIONS - 1))).map(({ cookie }) => deleteCookie(cookie, attributes))
    },
  }
}
