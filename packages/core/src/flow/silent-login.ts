/**
 * Silent login: an unauthenticated browser is first sent to the provider with `prompt=none`;
 * when the provider answers that it needs the user (`login_required`, …) the browser comes back
 * signed out to the page it wanted (a single-page app's attempt, `/bff/silent-login`, is told on
 * the page that ends it). The attempt is remembered for the browser session by a
 * cookie without Max-Age, so it is made once, never in a loop. OpenID Connect Core §3.1.2.1.
 */
import { serialize } from 'cookie'
import type { OAuthConfig } from '../config/resolved.js'
import { isCodegrantError } from '../errors.js'
import type { RequestCookies } from '../session/cookie-jar.js'
import type { Transaction } from './transaction.js'
import { memberOf } from '../json.js'

/** The provider's answers to `prompt=none` that mean "not without the user" (§3.1.2.6). */
const NEEDS_USER = new Set(['login_required', 'interaction_required', 'consent_required', 'account_selection_required'])

const cookieName = (config: OAuthConfig) => `${config.secure ? '__Host-' : ''}codegrant.silent`

/** True when this browser session already made its silent attempt. */
export function silentAttempted(config: OAuthConfig, cookies: RequestCookies): boolean {
  return cookies[cookieName(config)] !== undefined
}

/** The marker of the attempt: a session cookie (no Max-Age, gone when the browser closes). */
export function silentAttemptCookie(config: OAuthConfig): string {
  return serialize(cookieName(config), '1', { httpOnly: true, path: '/', secure: config.secure, sameSite: 'lax' })
}

/**
 * For a silent attempt the provider could not complete without the user: the provider's answer
 * (`login_required`, …), else undefined (any other failure is a failure).
 */
export function declinedSilently(config: OAuthConfig, transaction: Transaction, error: unknown): string | undefined {
  if (!transaction.silent || !isCodegrantError(error, 'codegrant/authorization_error')) return undefined
  const code = memberOf(error.cause, 'error')
  if (typeof code !== 'string' || !NEEDS_USER.has(code)) return undefined
  config.logger.debug(`callback: silent login answered ${code}; ${transaction.spa ? 'the single-page app is told' : 'back to the app'}, signed out`)
  return code
}
