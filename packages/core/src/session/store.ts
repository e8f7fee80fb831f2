/**
 * Reading and checking a session's record: its user, its shape as a store returns it. The types
 * of a session and of a store live at the base (session-types.ts), since the configuration names
 * them; they are re-exported here, where the session layer takes them from.
 */
import type { SessionData, SessionIdentity, UserClaims } from '../session-types.js'

export { isCoordinating, type ApiToken, type CoordinatingStore, type DpopKey, type MaybePromise, type SessionData, type SessionIdentity, type SessionStore, type StandardClaims, type TokenSet, type UserClaims } from '../session-types.js'

/** The session's user: its own claims, or its (already validated) ID token's. */
export function sessionUser(session: SessionData): UserClaims {
  if (session.user) return session.user
  const payload = session.tokens.idToken!.split('.')[1]!
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as UserClaims
}

export function isSessionData(value: unknown): value is SessionData {
  if (typeof value !== 'object' || value === null) return false
  const data = value as Partial<SessionData>
  return (
    typeof data.sid === 'string' &&
    typeof data.iat === 'number' &&
    typeof data.uat === 'number' &&
    typeof data.exp === 'number' &&
    typeof data.tokens === 'object' && data.tokens !== null && typeof data.tokens.accessToken === 'string' &&
    (typeof data.user === 'object' && data.user !== null ? typeof data.user.sub === 'string' : typeof data.tokens.idToken === 'string') &&
    (data.identity === undefined || isSessionIdentity(data.identity))
  )
}

/** True for a stored identity of the expected shape (what `isSessionData` checks). */
export function isSessionIdentity(value: unknown): value is SessionIdentity {
  if (typeof value !== 'object' || value === null) return false
  const { provider, iss, sub } = value as Partial<SessionIdentity>
  return typeof provider === 'string' && typeof iss === 'string' && typeof sub === 'string'
}
