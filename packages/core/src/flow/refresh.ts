import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config.js'
import { CodegrantError } from '../errors.js'
import type { Provider } from '../provider/metadata.js'
import { replaceRecord } from '../session/backend.js'
import { sessionUser, type SessionData, type SessionStore } from '../session/store.js'
import { endpointOf, received, tokenError, tokenSet, verifyIdTokenSignature } from './callback.js'
import { assertDpopTokenType, withNonceRetry } from './dpop.js'
import { canLock, refreshAcrossInstances } from './refresh-lock.js'

/** How long a finished refresh is remembered, for requests that still carry the old cookie. */
const SUCCESSOR_TTL_MS = 60_000

/** True when the access token is expired or will be within the skew (capped at half its life). */
export function refreshDue(config: OAuthConfig, session: SessionData, now: number): boolean {
  const { expiresAt, expiresIn } = session.tokens
  if (expiresAt === undefined) return false
  const skew = expiresIn === undefined ? config.refreshSkew : Math.min(config.refreshSkew, expiresIn / 2)
  return expiresAt - now <= skew
}

/** `force`: never hand back a refresh that has already finished (an explicit `refresh()`). */
export interface Refresh {
  (session: SessionData, options?: { force?: boolean }): Promise<SessionData>
  /**
   * The session a finished refresh of `session` produced in this process (within a minute), if
   * any: a request that still carries the pre-refresh cookie must not write the older tokens back.
   */
  successor(session: SessionData): SessionData | undefined
}

/**
 * Refreshes a session's tokens (RFC 6749 §6), single-flight per session: concurrent calls share
 * one grant, and a request that arrives shortly after with the pre-rotation cookie gets the
 * result instead of replaying a used refresh token (which makes rotating providers revoke the
 * whole grant, RFC 9700 §4.14.2). With a store, the refreshed record is written there (only if
 * it still exists), and with a store that locks, one instance refreshes for all.
 *
 * @param ttl with a store, seconds a refreshed record lives.
 * @throws {CodegrantError} `codegrant/session_ended` on `invalid_grant`, a changed `sub`
 *   (OIDC Core §12.2), or a record ended meanwhile; 502/504 codes on transient failures, which
 *   keep the session; `codegrant/store_unavailable` when the store fails.
 */
export function createRefresher(config: OAuthConfig, provider: () => Promise<Provider>, store?: SessionStore, ttl: (fresh: SessionData) => number = () => config.sessionIdleTimeout): Refresh {
  const flights = new Map<string, { from: string; result: Promise<SessionData>; done?: SessionData }>()
  // a grant is remembered by the refresh token it used: when saving its result fails (the store
  // is down), the next attempt saves the same tokens instead of replaying a used refresh token
  const granted = new Map<string, { grant: Promise<SessionData>; done?: SessionData }>()
  const direct = (current: SessionData) => {
    const used = current.tokens.refreshToken!
    const known = granted.get(used)
    // a grant whose tokens this session already holds is spent (a provider that does not rotate)
    if (known && known.done?.tokens.accessToken !== current.tokens.accessToken) return known.grant
    const entry: { grant: Promise<SessionData>; done?: SessionData } = { grant: refresh(config, provider, current, used) }
    granted.set(used, entry)
    const forget = () => { if (granted.get(used) === entry) granted.delete(used) }
    entry.grant.then((fresh) => { entry.done = fresh; setTimeout(forget, SUCCESSOR_TTL_MS).unref() }, forget)
    return entry.grant
  }
  const run = (session: SessionData): Promise<SessionData> => {
    if (!store) return direct(session)
    if (canLock(store)) return refreshAcrossInstances(config, store, session, ttl, direct)
    return direct(session).then(async (fresh) => {
      if (!(await replaceRecord(config, store, fresh, ttl(fresh)))) throw new CodegrantError('codegrant/session_ended', 'The session was ended (signed out elsewhere). Sign in again.')
      return fresh
    })
  }

  const refresher = (session: SessionData, options?: { force?: boolean }) => {
    const from = session.tokens.refreshToken
    // the session itself lives on (its lifetime is its own); only API calls need a new login
    if (!from) return Promise.reject(new CodegrantError('codegrant/token_expired', 'The access token expired and the provider gave no refresh token: sign in again to call APIs.'))
    const flight = flights.get(session.sid)
    // A forced refresh joins one in flight, and takes a finished one only when this request still
    // carries the session from before it (replaying `from` would be refresh-token reuse). When the
    // request already holds the finished result (a provider that does not rotate refresh tokens),
    // handing it back would return the very tokens it is asked to replace: refresh anew.
    if (flight && flight.from === from && !(options?.force && flight.done?.tokens.accessToken === session.tokens.accessToken)) return flight.result
    const entry: { from: string; result: Promise<SessionData>; done?: SessionData } = { from, result: run(session) }
    flights.set(session.sid, entry)
    const forget = () => { if (flights.get(session.sid) === entry) flights.delete(session.sid) }
    entry.result.then((fresh) => { entry.done = fresh; setTimeout(forget, SUCCESSOR_TTL_MS).unref() }, forget)
    return entry.result
  }
  refresher.successor = (session: SessionData) => {
    const done = flights.get(session.sid)?.done
    if (!done || flights.get(session.sid)!.from !== session.tokens.refreshToken || done.tokens.accessToken === session.tokens.accessToken) return undefined
    // never a step back: a session refreshed again since (elsewhere) keeps its newer tokens
    return (done.tokens.expiresAt ?? 0) >= (session.tokens.expiresAt ?? 0) ? done : undefined
  }
  return refresher
}

async function refresh(config: OAuthConfig, resolve: () => Promise<Provider>, session: SessionData, refreshToken: string): Promise<SessionData> {
  const provider = await resolve()
  const { as, client, clientAuth, http } = provider
  let result: oauth.TokenEndpointResponse
  config.logger.debug(`refresh: access token due (expires at ${session.tokens.expiresAt ?? 'unknown'}); refreshing at ${endpointOf(as.token_endpoint)}`)
  // the session's DPoP key signs every refresh: new tokens stay bound to it
  const key = provider.dpop && session.dpop
  try {
    const dpop = key ? { DPoP: await provider.dpop!.handle(key) } : {}
    let response!: Response
    result = await withNonceRetry(async () => {
      response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, { ...http, ...dpop })
      return oauth.processRefreshTokenResponse(as, client, response)
    })
    if (result.id_token) await verifyIdTokenSignature(config, provider, response, result.id_token)
    if (key) assertDpopTokenType(config, result)
  } catch (error) {
    const failure = tokenError(config, error, 'token refresh', provider)
    if (failure.code === 'codegrant/invalid_grant' || failure.code === 'codegrant/id_token_invalid') {
      throw new CodegrantError('codegrant/session_ended', 'The session has ended at the provider. Sign in again.', { cause: failure })
    }
    throw failure
  }
  const claims = oauth.getValidatedIdTokenClaims(result)
  config.logger.debug(`refresh: token response valid (${received(result)})`)
  const { sub } = sessionUser(session)
  if (claims && claims.sub !== sub) {
    config.logger.error('token refresh returned an ID token for a different subject: session ended')
    throw new CodegrantError('codegrant/session_ended', 'The provider returned a different user on refresh. Sign in again.')
  }
  const now = Math.floor(Date.now() / 1000)
  // merged claims stay merged; otherwise the new ID token is the user
  const user = session.user && claims ? { ...session.user, ...claims, sub } : session.user
  return { ...session, ...(user ? { user } : {}), uat: now, tokens: tokenSet(result, now, session.tokens) }
}
