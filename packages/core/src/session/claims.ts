import { sessionUser, type SessionData, type UserClaims } from './store.js'

/**
 * Claims that describe the ID token rather than the user: what express-openid-connect's
 * `identityClaimFilter` drops by default, but `auth_time`, which like `acr` and `amr` tells how
 * the user signed in (apps show it and check it). They stay in the token and in the session's
 * identity (session/identity.ts), which codegrant's own decisions read; `user` leaves them out
 * unless the app keeps them (`keepProtocolClaims`).
 */
export const PROTOCOL_CLAIMS: ReadonlySet<string> = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'nonce', 'azp', 'at_hash', 'c_hash', 's_hash'])

/**
 * The session's user as the app sees it: the user's claims without the protocol claims, unless
 * the app keeps them. A user the app's `onLogin` hook returned is the app's own, as it made it.
 * A fresh object: the app's hook may change it.
 */
export function appUser(session: SessionData, keepProtocolClaims: boolean): UserClaims {
  const user = sessionUser(session)
  if (keepProtocolClaims || session.userByApp) return user
  return Object.fromEntries(Object.entries(user).filter(([name]) => !PROTOCOL_CLAIMS.has(name))) as UserClaims
}

const decoded = { clean: new WeakMap<SessionData, Readonly<UserClaims>>(), all: new WeakMap<SessionData, Readonly<UserClaims>>() }

/**
 * The session's user ({@link appUser}), decoded once per session object rather than once per
 * request: a session read from the opened-session cache is the same object on every request
 * that carries its cookie. Frozen, since every one of those requests shares it.
 */
export function userClaims(session: SessionData, keepProtocolClaims: boolean): Readonly<UserClaims> {
  const cache = keepProtocolClaims ? decoded.all : decoded.clean
  let claims = cache.get(session)
  if (claims === undefined) {
    claims = deepFreeze(appUser(session, keepProtocolClaims))
    cache.set(session, claims)
  }
  return claims
}

/** Freezes plain data (parsed JSON) all the way down; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const member of Object.values(value)) deepFreeze(member)
  }
  return value
}
