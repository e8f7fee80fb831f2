import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { now } from '../clock.js'
import { CodegrantError } from '../errors.js'
import type { Provider } from '../provider/metadata.js'
import { identityOf } from '../session/identity.js'
import type { SessionData, SessionStore } from '../session/store.js'
import { singleFlight, type Flight as SharedFlight } from '../single-flight.js'
import { endpointOf, received, tokenError, tokenSet, verifyIdTokenSignature } from './tokens.js'
import { assertDpopTokenType, dpopHeaders, withNonceRetry } from '../provider/dpop.js'
import { sessionEnd } from './session-end.js'
import { canLock, grantOrSaved, refreshAcrossInstances, saveRefreshed, type Grant } from './refresh-lock.js'
import { ATTR, instruments, OK, outcomeOf, secondsSince, traced } from '../telemetry.js'

/** How long a finished refresh is remembered, for requests that still carry the old cookie. */
const SUCCESSOR_TTL_MS = 60_000
/** How long a grant whose result the store could not save is remembered, for the next attempt to save it. */
const UNSAVED_TTL_MS = 10 * 60_000

/** True when the access token is expired or will be within the skew (capped at half its life). */
export function refreshDue(config: OAuthConfig, session: SessionData, now: number): boolean {
  return tokenDue(config, session.tokens, now)
}

/** True when `tokens` (the session's, or an API's) expire within the skew (capped at half their life). */
export function tokenDue(config: OAuthConfig, tokens: { expiresAt?: number; expiresIn?: number }, now: number): boolean {
  const { expiresAt, expiresIn } = tokens
  if (expiresAt === undefined) return false
  const skew = expiresIn === undefined ? config.refreshSkew : Math.min(config.refreshSkew, expiresIn / 2)
  return expiresAt - now <= skew
}

export interface Refresh {
  (session: SessionData): Promise<SessionData>
  /**
   * The session a finished refresh of `session` produced in this process (within a minute), if
   * any: a request that still carries the pre-refresh cookie must not write the older tokens back.
   */
  successor(session: SessionData): SessionData | undefined
}

/** One refresh: the refresh token it used, the access token it replaces, and its result. */
interface Flight extends SharedFlight<SessionData> {
  from: string
  replaced: string
  /** With a store: its result was saved there. */
  saved?: boolean
  /** With a store that locks and an unsaved result: releases the lock its holder kept. */
  unlock?: () => Promise<void>
}

/**
 * Whether `flight` answers a request for `session`: one still in flight with its refresh token,
 * or a finished one that replaced the very tokens the request holds (it comes with the cookie or
 * record from before). A finished refresh is never the answer for a request that holds other
 * tokens: with a provider that does not rotate refresh tokens those are the refresh's own (now
 * due, or refused with a 401), or newer ones from elsewhere; handing it back would return them.
 */
function answers(flight: Flight | undefined, session: SessionData): flight is Flight {
  if (!flight || flight.from !== session.tokens.refreshToken) return false
  return !flight.done || flight.replaced === session.tokens.accessToken
}

/**
 * Refreshes a session's tokens (RFC 6749 §6), single-flight per session: concurrent calls share
 * one grant, and a request that arrives shortly after with the pre-rotation cookie gets the
 * result instead of replaying a used refresh token (which makes rotating providers revoke the
 * whole grant, RFC 9700 §4.14.2). With a store, the refreshed record is written there (only if
 * it still exists), and with a store that locks, one instance refreshes for all.
 *
 * @param ttl with a store, seconds a refreshed record lives.
 * @param name the provider's name, for telemetry.
 * @throws {CodegrantError} `codegrant/session_ended` on `invalid_grant`, a changed `sub`
 *   (OIDC Core §12.2), or a record ended meanwhile; 502/504 codes on transient failures, which
 *   keep the session; `codegrant/store_unavailable` when the store fails.
 */
export function createRefresher(config: OAuthConfig, provider: () => Promise<Provider>, store?: SessionStore, ttl: (fresh: SessionData) => number = () => config.sessionIdleTimeout, name = 'default'): Refresh {
  // per session: concurrent requests share one refresh, and its result answers the old cookie a minute more
  const flights = singleFlight<string, SessionData, Flight>()
  // a grant is remembered by the refresh token it used: when saving its result fails (the store
  // is down), the next attempt saves the same tokens instead of replaying a used refresh token
  const granted = singleFlight<string, SessionData, Flight>()
  // with a store, kept until saved (grant.saved): its result may be the only copy of a rotated refresh token
  const grantKept = () => (store ? UNSAVED_TTL_MS : SUCCESSOR_TTL_MS)
  const grant: Grant = (current) => {
    const used = current.tokens.refreshToken
    if (!used) return Promise.reject(noRefreshToken())
    const known = granted.get(used)
    if (answers(known, current)) return known.result
    return granted.start(used, { from: used, replaced: current.tokens.accessToken, result: refresh(config, provider, current, used) }, grantKept).result
  }
  const grantOf = (current: SessionData) => (current.tokens.refreshToken === undefined ? undefined : granted.get(current.tokens.refreshToken))
  grant.saved = async (current) => {
    const entry = grantOf(current)
    if (!entry?.done) return
    entry.saved = true
    granted.keep(entry.from, entry, SUCCESSOR_TTL_MS)
    const unlock = entry.unlock
    entry.unlock = undefined
    await unlock?.()
  }
  grant.unsaved = (current, unlock) => {
    const entry = grantOf(current)
    if (entry?.done) entry.unlock = unlock
    else void unlock()
  }
  const run = async (session: SessionData): Promise<SessionData> => {
    if (!store) return grant(session)
    // a grant whose result the store could not save is saved now, without taking the lock (its
    // holder kept it, and releases it once saved): writing tokens already granted replays nothing
    const unsaved = grantOf(session)
    if (unsaved?.done && !unsaved.saved && answers(unsaved, session)) {
      await saveRefreshed(store, unsaved.done, ttl(unsaved.done))
      await grant.saved(session)
      return unsaved.done
    }
    // the provider's metadata first: a lock holder that loads it is slower than the lock allows for
    await provider()
    if (canLock(store)) return refreshAcrossInstances(config, store, session, ttl, grant)
    const fresh = await grantOrSaved(store, session, grant)
    if (fresh.saved) return fresh.session
    await saveRefreshed(store, fresh.session, ttl(fresh.session))
    await grant.saved(session)
    return fresh.session
  }

  const refresher = (session: SessionData) => {
    const from = session.tokens.refreshToken
    // the session itself lives on (its lifetime is its own); only API calls need a new login
    if (!from) return Promise.reject(noRefreshToken())
    const flight = flights.get(session.sid)
    if (answers(flight, session)) return flight.result
    return flights.start(session.sid, { from, replaced: session.tokens.accessToken, result: observed(name, () => run(session)) }, () => SUCCESSOR_TTL_MS).result
  }
  // only for a request that still holds the tokens the refresh replaced: never a step back
  refresher.successor = (session: SessionData) => {
    const flight = flights.get(session.sid)
    return flight?.done && answers(flight, session) ? flight.done : undefined
  }
  return refresher
}

/**
 * One refresh (however many requests share it) in its span (`codegrant.refresh`, with whether it
 * waited on another instance's lock), timed and counted by outcome.
 */
function observed(provider: string, refresh: () => Promise<SessionData>): Promise<SessionData> {
  const start = performance.now()
  const attributes = { [ATTR.provider]: provider }
  const measured = (outcome: string) => {
    const { refreshes, refreshDuration } = instruments()
    const labels = { ...attributes, [ATTR.outcome]: outcome }
    refreshes.add(1, labels)
    refreshDuration.record(secondsSince(start), labels)
  }
  return traced('codegrant.refresh', { ...attributes, [ATTR.waited]: false }, async () => {
    try {
      const fresh = await refresh()
      measured(OK)
      return fresh
    } catch (error) {
      measured(outcomeOf(error))
      throw error
    }
  })
}

const noRefreshToken = () => new CodegrantError('codegrant/token_expired', 'The access token expired and the provider gave no refresh token: sign in again to call APIs.')

async function refresh(config: OAuthConfig, resolve: () => Promise<Provider>, session: SessionData, refreshToken: string): Promise<SessionData> {
  const provider = await resolve()
  const { as, client, clientAuth, http } = provider
  let result: oauth.TokenEndpointResponse
  config.logger.debug(`refresh: access token due (expires at ${session.tokens.expiresAt ?? 'unknown'}); refreshing at ${endpointOf(as.token_endpoint)}`)
  // the session's DPoP key signs every refresh: new tokens stay bound to it
  const key = provider.dpop && session.dpop
  try {
    const dpop = await dpopHeaders(provider.dpop, key)
    let response!: Response
    result = await withNonceRetry(async () => {
      response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, { ...http, ...dpop })
      return oauth.processRefreshTokenResponse(as, client, response)
    })
    if (result.id_token) await verifyIdTokenSignature(provider, response, result.id_token)
    if (key) assertDpopTokenType(config, provider.settings, result)
  } catch (error) {
    const failure = tokenError(config, error, 'token refresh', provider)
    if (failure.code === 'codegrant/invalid_grant' || failure.code === 'codegrant/id_token_invalid') {
      throw new CodegrantError('codegrant/session_ended', 'The session has ended at the provider. Sign in again.', { cause: failure })
    }
    throw failure
  }
  const claims = oauth.getValidatedIdTokenClaims(result)
  config.logger.debug(`refresh: token response valid (${received(result)})`)
  // the provider's identity of the user, never the app's (a hook may have mapped `sub`)
  if (claims && claims.sub !== identityOf(session)?.sub) {
    config.logger.error('token refresh returned an ID token for a different subject: session ended')
    throw new CodegrantError('codegrant/session_ended', 'The provider returned a different user on refresh. Sign in again.')
  }
  const at = now()
  // a new ID token may bring the provider's session end nearer (never further than it was)
  const exp = claims ? Math.min(session.exp, providerEnd(config, provider, claims, session.iat, at)) : session.exp
  // userinfo-merged claims stay merged; the app's hook's user stays as the hook made it; otherwise
  // the new ID token is the user
  const user = session.user && claims && !session.userByApp ? { ...session.user, ...claims, sub: session.user.sub } : session.user
  return { ...session, ...(user ? { user } : {}), uat: at, exp, tokens: tokenSet(result, at, session.tokens) }
}

/** {@link sessionEnd} for a refreshed ID token: a provider session that has ended ends ours. */
function providerEnd(config: OAuthConfig, provider: Provider, claims: Readonly<Record<string, unknown>>, issuedAt: number, at: number): number {
  try {
    return sessionEnd(config, provider.settings, claims, issuedAt, at)
  } catch (error) {
    throw new CodegrantError('codegrant/session_ended', 'The session has ended at the provider. Sign in again.', { cause: error })
  }
}
