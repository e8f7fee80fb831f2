/**
 * When a session ends, by our own lifetime and the provider's word on it: the ID token's
 * `session_expiry` (OpenID IPSIE SL1 profile: the time at which the provider wants the RP's session
 * to end), and, when the app configures `max_age` for the provider, the ID token's `auth_time` plus
 * that `max_age` (the user must have authenticated that recently: a session must not outlive it).
 * Both are read from the validated ID token's claims, the provider's identity of the user, never
 * from what the app's hook made of the user.
 */
import type { OAuthConfig, ProviderSettings } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'

/**
 * The absolute end of a session that began at `issuedAt`: `OAUTH_SESSION_MAX_AGE` after it, or
 * earlier when the provider says so (never later: our own lifetime is the bound).
 *
 * @param claims the validated ID token's claims; undefined without an ID token (our lifetime only).
 * @throws {CodegrantError} `codegrant/id_token_invalid` when `session_expiry` is not a number of
 *   seconds, or when the end is not after `now` (the provider's session has ended already: a
 *   session that would be over at once is refused rather than started).
 */
export function sessionEnd(config: OAuthConfig, settings: ProviderSettings, claims: Readonly<Record<string, unknown>> | undefined, issuedAt: number, now: number): number {
  const ours = issuedAt + config.sessionMaxAge
  if (!claims) return ours
  const { session_expiry: expiry, auth_time: authTime } = claims
  if (expiry !== undefined && !(typeof expiry === 'number' && Number.isFinite(expiry))) {
    throw new CodegrantError('codegrant/id_token_invalid', 'The provider\'s ID token was rejected (its session_expiry is not a time in seconds).')
  }
  const maxAge = configuredMaxAge(settings)
  const provider = Math.min(expiry ?? Infinity, maxAge !== undefined && typeof authTime === 'number' ? authTime + maxAge : Infinity)
  if (provider <= now) {
    throw new CodegrantError(
      'codegrant/id_token_invalid',
      provider === expiry
        ? 'The provider\'s session has already ended (the ID token\'s session_expiry has passed): sign in again.'
        : `The provider's sign-in is older than the max_age of ${maxAge} seconds this app requires: sign in again.`,
    )
  }
  return Math.min(ours, Math.floor(provider))
}

/** The `max_age` configured for the provider (its authorization parameters), if any. */
function configuredMaxAge(settings: ProviderSettings): number | undefined {
  const value = settings.authorizationParams.max_age?.[0]
  return value === undefined ? undefined : Number(value)
}
