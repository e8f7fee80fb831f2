import { createHash } from 'node:crypto'
import { now } from '../clock.js'
import type { OAuthConfig, ProviderSettings } from '../config/resolved.js'
import { isCodegrantError } from '../errors.js'
import { formParams, json, type CoreRequest, type CoreResponse } from '../http.js'
import { createJwtVerifier, tokenRejected, unverifiedClaims, type VerifyJwt } from '../provider/jwt.js'
import type { Provider } from '../provider/metadata.js'
import type { ProviderRuntime } from '../providers.js'
import type { SessionRecords } from '../session/ended.js'
import type { IdentifiedSession } from '../session/identity.js'
import type { CoordinatingStore } from '../session/store.js'
import { ATTR, failed, instruments, OK, outcomeOf, traced } from '../telemetry.js'

/** The `events` member that makes a JWT a logout token (Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** What a spent logout token's `jti` is filed as (its tag is the mark). */
const USED = 'used'
/** Logout tokens issued longer ago than this (beyond the clock tolerance) are refused (§2.6 step 8). */
const MAX_TOKEN_AGE = 300
const MAX_TOKEN_CHARS = 16 * 1024
/** `typ` values a logout token may carry: §2.4 recommends `logout+jwt`; other explicit types (`at+jwt`, …) are other tokens. */
const TYPES = new Set([undefined, 'jwt', 'logout+jwt', 'application/logout+jwt'])

export type BackchannelLogout = (request: CoreRequest) => Promise<CoreResponse>

/**
 * OpenID Connect Back-Channel Logout 1.0: the provider POSTs a logout token, and the sessions of
 * that provider session (`sid`) or, without one, of that user (`sub`) end in the store, on every
 * instance. The token is validated fully (§2.6): signature with the provider's JWKS and the
 * pinned ID token algorithm, `typ`, `iss`, `aud`, `iat` (not in the future, at most five minutes
 * old), `exp` and `nbf` when present, the `events` member, `sid` and/or `sub`, no `nonce`, and
 * a `jti` not spent before (marked in the store once its sessions are ended, so a replay to
 * another instance fails too, and a delivery that failed half-way can be retried).
 * With several providers, the token's (unverified) `iss` and `aud` pick whose keys and client id check it.
 * With cookie sessions, `store` is the Redis of `OAUTH_REDIS_URL` and `ended` its "ended before"
 * records: the token's `sid` (or `sub`) is recorded as ended, and each of its cookie sessions ends
 * at its next request, on whichever instance (`session/ended.ts`).
 *
 * @returns 200 with `Cache-Control: no-store`; 400 `{ error: 'invalid_request' }` for a token
 *   that fails any check (§2.8); 405 for anything but POST.
 * @throws {CodegrantError} `codegrant/store_unavailable` or `codegrant/provider_unavailable` (503).
 */
export function createBackchannelLogout(config: OAuthConfig, providers: readonly ProviderRuntime[], store: CoordinatingStore, ended?: SessionRecords): BackchannelLogout {
  const verifying = providers.map((runtime) => ({ runtime, verify: createJwtVerifier(runtime.resolve) }))
  return (request) => traced('codegrant.backchannel_logout', {}, async (span) => {
    if (request.method !== 'POST') return json(405, { error: 'method_not_allowed' }, { allow: 'POST' })
    const counted = (outcome: string) => instruments().backchannelEvents.add(1, { [ATTR.outcome]: outcome })
    try {
      const tokens = formParams(request.body)?.getAll('logout_token') ?? []
      const logoutToken = tokens.length === 1 ? tokens[0] : undefined
      if (logoutToken === undefined || logoutToken.length > MAX_TOKEN_CHARS) throw tokenRejected('the request must carry exactly one logout_token')
      const { runtime, verify, resolved } = await issuerOf(verifying, logoutToken)
      const { header, claims } = await verify(logoutToken, resolved.client.id_token_signed_response_alg ?? 'RS256')
      if (!TYPES.has(typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined)) throw tokenRejected(`its typ ${JSON.stringify(header.typ).slice(0, 40)} is not a logout token's`)
      const at = now()
      const token = checkClaims(config, runtime.settings, resolved.as.issuer, claims, at)
      // a token whose sessions were all ended before is a replay: refused, with no effect
      const used = tagOf('jti', token.iss, token.jti)
      if ((await store.tagged(used)).length > 0) throw tokenRejected('this logout token was used before')
      const { sid, sub } = token
      const destroyed = sid !== undefined
        ? await store.tagged(tagOf('sid', token.iss, sid))
        : sub !== undefined ? await signedInBefore(config, store, tagOf('sub', token.iss, sub), token.iat) : []
      await Promise.all(destroyed.map((id) => store.destroy(id)))
      // cookie sessions: by sid, every session of that provider session (there is no later one);
      // by sub, those begun up to the event, with the clock tolerance in favour of ending (as above)
      if (ended) {
        if (sid !== undefined) await ended.endProviderSession(runtime.name, sid, at + config.clockTolerance + 1)
        else if (sub !== undefined) await ended.endUser(runtime.name, sub, token.iat + config.clockTolerance + 1)
      }
      // The jti is spent only now, once its sessions are ended, and remembered for as long as the
      // token would be accepted: a store failure on the way answers 503 and the provider's retry of
      // the same token works (ending again is harmless), instead of being refused as a replay.
      const until = Math.min(token.exp ?? Number.POSITIVE_INFINITY, token.iat + MAX_TOKEN_AGE) + config.clockTolerance
      await store.tag(used, USED, Math.max(1, until - at))
      config.logger.debug(`back-channel logout: ${ended ? 'cookie sessions recorded as ended' : `${destroyed.length} session(s) ended`} (by ${token.sid !== undefined ? 'sid' : 'sub'})`)
      span.setAttribute(ATTR.provider, runtime.name)
      counted(OK)
      return json(200, {})
    } catch (error) {
      counted(outcomeOf(error))
      if (!isCodegrantError(error, 'codegrant/logout_token_invalid')) throw error
      failed(span, error.code)
      config.logger.warn(`back-channel logout refused: ${error.message}`)
      return json(400, { error: 'invalid_request', error_description: error.message })
    }
  })
}

/** A provider of the app, and its verifier of logout tokens (signed like its ID tokens). */
interface Verifying {
  runtime: ProviderRuntime
  verify: VerifyJwt
}

/**
 * The provider that is to verify the token: the only one, or the one whose issuer the token names
 * and, of several at that issuer (two clients of one provider), whose client its `aud` names
 * (its claims are not trusted yet: they only pick the keys and the client, and `iss` and `aud`
 * are checked again after).
 */
async function issuerOf(providers: readonly Verifying[], token: string): Promise<Verifying & { resolved: Provider }> {
  const [only] = providers
  if (providers.length === 1 && only) return { ...only, resolved: await only.runtime.resolve() }
  const claims = unverifiedClaims(token)
  const audience = Array.isArray(claims?.aud) ? claims.aud : [claims?.aud]
  let atIssuer: (Verifying & { resolved: Provider }) | undefined
  for (const provider of providers) {
    const resolved = await provider.runtime.resolve().catch(() => undefined)
    if (!resolved || resolved.as.issuer !== claims?.iss) continue
    if (audience.includes(provider.runtime.settings.clientId)) return { ...provider, resolved }
    atIssuer ??= { ...provider, resolved }
  }
  // the issuer's provider refuses it on `aud` (and says so)
  if (atIssuer) return atIssuer
  throw tokenRejected('its "iss" is not a provider of this app')
}

/**
 * Files a new session under its provider session (`sid`) and user (`sub`), as the provider's
 * identity of the user names them (never the app's `user`, which its hook may have reshaped),
 * for as long as it can live (its absolute lifetime: the record's idle window slides up to it),
 * so a logout token finds it.
 */
export async function indexSession(store: CoordinatingStore, session: IdentifiedSession, now: number): Promise<void> {
  const { iss, sub, sid } = session.identity
  const ttl = Math.max(1, session.exp - now)
  const tags = [tagOf('sub', iss, sub), ...(sid !== undefined ? [tagOf('sid', iss, sid)] : [])]
  await Promise.all(tags.map((tag) => store.tag(tag, session.sid, ttl)))
}

/**
 * The user's sessions that began before the logout event (`iat`, with the clock tolerance in
 * favour of ending): a user who signed in again after it, before the token arrived, stays in.
 * (A `sid` names one provider session, which a later sign-in does not share.)
 */
async function signedInBefore(config: OAuthConfig, store: CoordinatingStore, tag: string, iat: number): Promise<string[]> {
  const ids = await store.tagged(tag)
  const sessions = await Promise.all(ids.map((id) => store.get(id)))
  return ids.filter((_, index) => {
    const session = sessions[index]
    return session !== undefined && !(session.iat > iat + config.clockTolerance)
  })
}

/** The sessions filed under one provider session (`sid` at `iss`) by {@link indexSession}. */
export async function sessionsOfSid(store: CoordinatingStore, iss: string, sid: string): Promise<string[]> {
  return await store.tagged(tagOf('sid', iss, sid))
}

/** Tags are hashed: whatever the provider sends becomes a safe, fixed-size key. */
function tagOf(kind: 'sid' | 'sub' | 'jti', issuer: string, value: string): string {
  return `${kind}:${createHash('sha256').update(`${issuer}\u0000${value}`).digest('base64url')}`
}

interface LogoutToken {
  iss: string
  iat: number
  exp: number | undefined
  jti: string
  sid: string | undefined
  sub: string | undefined
}

/** Back-Channel Logout 1.0 §2.6 steps 3–8 (the signature was step 2). */
function checkClaims(config: OAuthConfig, provider: ProviderSettings, issuer: string, claims: Record<string, unknown>, now: number): LogoutToken {
  const { iss, aud, iat, exp, nbf, events, sid, sub, jti } = claims
  const tolerance = config.clockTolerance
  const isText = (value: unknown): value is string => typeof value === 'string' && value !== ''
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
  if (iss !== issuer) throw tokenRejected('its "iss" is not the provider')
  if (!(aud === provider.clientId || (Array.isArray(aud) && aud.includes(provider.clientId)))) throw tokenRejected('its "aud" does not name this client')
  if (typeof iat !== 'number' || iat > now + tolerance) throw tokenRejected('its "iat" is missing or in the future')
  if (iat < now - MAX_TOKEN_AGE - tolerance) throw tokenRejected('it was issued too long ago ("iat")')
  const expires = typeof exp === 'number' ? exp : undefined
  if (exp !== undefined && (expires === undefined || expires <= now - tolerance)) throw tokenRejected('it has expired ("exp")')
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) throw tokenRejected('it is not valid yet ("nbf")')
  if (!isObject(events) || !isObject(events[BACKCHANNEL_LOGOUT_EVENT])) throw tokenRejected('its "events" lack the back-channel logout event')
  if (sid !== undefined && !isText(sid)) throw tokenRejected('its "sid" is not a string')
  if (sub !== undefined && !isText(sub)) throw tokenRejected('its "sub" is not a string')
  if (sid === undefined && sub === undefined) throw tokenRejected('it names neither "sid" nor "sub"')
  if ('nonce' in claims) throw tokenRejected('it carries a "nonce" (an ID token is no logout token)')
  if (!isText(jti)) throw tokenRejected('it has no "jti"')
  return { iss, iat, exp: expires, jti, sid, sub }
}
