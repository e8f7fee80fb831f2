import { sessionUser, type SessionData, type UserClaims } from './store.js'

const decoded = new WeakMap<SessionData, Readonly<UserClaims>>()

/**
 * The session's user, decoded once per session object rather than once per request: a session
 * read from the opened-session cache is the same object on every request that carries its
 * cookie. Frozen, since every one of those requests shares it.
 */
export function userClaims(session: SessionData): Readonly<UserClaims> {
  let claims = decoded.get(session)
  if (claims === undefined) {
    claims = deepFreeze(sessionUser(session))
    decoded.set(session, claims)
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
