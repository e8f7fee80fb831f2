/**
 * The provider's validated identity of a session's user, kept apart from the app's `user`: the
 * app's `onLogin` hook may shape `user` freely (drop `sid`, map `sub` to a local account id),
 * and `OAUTH_FETCH_USERINFO` merges userinfo members into it, but every protocol decision
 * (back-channel logout, step-up, a refreshed ID token's `sub`, userinfo's expected `sub`, which
 * provider the tokens go to) reads this instead.
 */
import type { SessionData, SessionIdentity } from './store.js'
import { isRecord } from '../json.js'

export type { SessionIdentity } from './store.js'

/** A session made since identities are kept (every new one). */
export type IdentifiedSession = SessionData & { identity: SessionIdentity }

/** The identity of a session from before identities were stored: its provider is unknown unless it recorded one. */
export type DerivedIdentity = Omit<SessionIdentity, 'provider'> & { readonly provider: string | undefined }

/**
 * The identity taken at the callback, before the app's hook runs: from the validated ID token's
 * claims, or (a plain OAuth 2.0 provider) from the user source's `sub` and the provider's issuer.
 * Only the members it needs are kept; frozen.
 */
export function identityFrom(provider: string, claims: Readonly<Record<string, unknown>>, issuer: string): SessionIdentity {
  const { sid, auth_time: authTime, acr } = claims
  return Object.freeze({
    provider,
    iss: typeof claims.iss === 'string' ? claims.iss : issuer,
    sub: claims.sub as string,
    ...(typeof sid === 'string' && sid !== '' ? { sid } : {}),
    ...(typeof authTime === 'number' ? { auth_time: authTime } : {}),
    ...(typeof acr === 'string' ? { acr } : {}),
  })
}

const derived = new WeakMap<SessionData, Readonly<DerivedIdentity> | null>()

/**
 * The session's identity: the one stored at its callback, or, for a session from before, the one
 * of its stored (and at the time validated) ID token, with the provider it recorded if any.
 * Undefined when it has neither (such a session is signed out: its user may be what the app's
 * hook made of it). Read once per session object.
 */
export function identityOf(session: SessionData): Readonly<DerivedIdentity> | undefined {
  if (session.identity) return session.identity
  let identity = derived.get(session)
  if (identity === undefined) {
    const claims = idTokenClaims(session.tokens.idToken)
    identity = claims && typeof claims.iss === 'string' && typeof claims.sub === 'string' ? Object.freeze({ ...identityFrom('', claims, claims.iss), provider: session.provider }) : null
    derived.set(session, identity)
  }
  return identity ?? undefined
}

/**
 * When the session's tokens, and so its claims, were last issued: the later of its ID token's
 * `iat` and its access token's issue (`expiresAt - expiresIn`), whichever it has; else its login.
 * A refresh moves it on even when the provider sends no new ID token.
 */
export function tokensIssuedAt(session: SessionData): number {
  const iat = idTokenClaims(session.tokens.idToken)?.iat
  const { expiresAt, expiresIn } = session.tokens
  const times = [typeof iat === 'number' ? iat : undefined, expiresAt !== undefined && expiresIn !== undefined ? expiresAt - expiresIn : undefined].filter((time) => time !== undefined)
  return times.length > 0 ? Math.max(...times) : session.iat
}

function idTokenClaims(idToken: string | undefined): Record<string, unknown> | undefined {
  const payload = idToken?.split('.')[1]
  if (payload === undefined) return undefined
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    return isRecord(claims) ? claims : undefined
  } catch {
    return undefined
  }
}
