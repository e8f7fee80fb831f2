/**
 * OpenID Shared Signals (issue 23 item 5): the provider's transmitter pushes Security Event Tokens
 * (RFC 8417) to `POST /auth/ssf` (RFC 8935 push delivery), and CAEP events act on the subject's
 * sessions: `session-revoked` ends them, `credential-change` and `assurance-level-change` require
 * a fresh sign-in at the next guarded request (step-up), `token-claims-change` refreshes the
 * claims at the next request. Other events are acknowledged and ignored.
 *
 * A SET is verified as a logout token is: signed with a key of the transmitter (its metadata at
 * the provider's issuer, `/.well-known/ssf-configuration` → `jwks_uri`; an unknown `kid`
 * refetches the keys), `typ` `secevent+jwt`, `iss` the transmitter's issuer, `aud` this client,
 * `iat` neither in the future nor more than five minutes old, and its `jti` accepted once (marked
 * in the store once it acted, so a replay to another instance is refused and a delivery that
 * failed half-way can be retried).
 */
import { createHash } from 'node:crypto'
import { now } from '../clock.js'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, isCodegrantError } from '../errors.js'
import { header as headerOf, json, type CoreRequest, type CoreResponse } from '../http.js'
import { isRecord } from '../json.js'
import * as oauth from 'oauth4webapi'
import { createJwksKeeper } from '../provider/jwks.js'
import { createJwtVerifier, unverifiedClaims } from '../provider/jwt.js'
import type { ProviderRuntime } from '../providers.js'
import type { CoordinatingStore } from '../session/store.js'

/** The CAEP event types (OpenID Continuous Access Evaluation Profile 1.0 §3) codegrant acts on. */
export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'
/** SETs issued longer ago than this (beyond the clock tolerance) are refused, as logout tokens are. */
const MAX_SET_AGE = 300
const MAX_SET_CHARS = 16 * 1024
const TYPES = new Set(['secevent+jwt', 'application/secevent+jwt'])
/** How long a transmitter's metadata is used before it is fetched again (its keys have their own cache). */
const METADATA_TTL_MS = 10 * 60 * 1000

/** What an event asks of the subject's sessions. */
export type SignalAction = 'end' | 'reauthenticate' | 'refresh'

const ACTIONS: Readonly<Record<string, SignalAction>> = {
  [`${CAEP}session-revoked`]: 'end',
  [`${CAEP}credential-change`]: 'reauthenticate',
  [`${CAEP}assurance-level-change`]: 'reauthenticate',
  [`${CAEP}token-claims-change`]: 'refresh',
}

/** Acts on the sessions of the user `sub` at `provider` (by name): what each action means is the hub's. */
export type ActOnUser = (action: SignalAction, provider: string, sub: string) => Promise<void>

/** RFC 8935 §2.4 error codes. */
type SetError = 'invalid_request' | 'invalid_key' | 'invalid_issuer' | 'invalid_audience' | 'authentication_failed'

class SetRefused extends Error {
  constructor(readonly err: SetError, description: string) {
    super(description)
  }
}

/** A transmitter's metadata (SSF 1.0 §7.1), as far as a push receiver needs it. */
interface Transmitter {
  issuer: string
  jwksUri: string
}

/**
 * The `POST /auth/ssf` handler for the providers with `OAUTH_SSF`.
 *
 * @returns 202 when the SET was accepted (acted on, or its events ignored); 400 with the RFC 8935
 *   error (`{ err, description }`) otherwise; 405 for anything but POST.
 * @throws {CodegrantError} `codegrant/store_unavailable` or `codegrant/provider_unavailable` (503).
 * @see [RFC 8935 — Push-Based Security Event Token Delivery](https://www.rfc-editor.org/rfc/rfc8935.html)
 * @see [RFC 8417 — Security Event Token](https://www.rfc-editor.org/rfc/rfc8417.html)
 * @see [OpenID CAEP 1.0](https://openid.net/specs/openid-caep-1_0.html)
 */
export function createSharedSignals(config: OAuthConfig, providers: readonly ProviderRuntime[], store: CoordinatingStore, act: ActOnUser): (request: CoreRequest) => Promise<CoreResponse> {
  const receivers = providers.filter((runtime) => runtime.settings.ssf).map(receiverOf)
  return async (request) => {
    if (request.method !== 'POST') return json(405, { error: 'method_not_allowed' }, { allow: 'POST' })
    try {
      const set = setOf(request)
      const { receiver, transmitter } = await pick(receivers, unverifiedClaims(set)?.iss)
      const { header, claims } = await receiver.verify(set)
      const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined
      if (typ === undefined || !TYPES.has(typ)) throw new SetRefused('invalid_request', 'its typ is not secevent+jwt')
      const at = now()
      const { iat, jti, events, sub } = checkClaims(config, receiver.runtime, transmitter, claims, at)
      const used = `ssf-jti:${createHash('sha256').update(`${transmitter.issuer}\u0000${jti}`).digest('base64url')}`
      if ((await store.tagged(used)).length > 0) throw new SetRefused('invalid_request', 'this SET was delivered before (its jti)')
      for (const type of Object.keys(events)) {
        const action = Object.hasOwn(ACTIONS, type) ? ACTIONS[type] : undefined
        if (action) await act(action, receiver.runtime.name, sub)
        config.logger.debug(`shared signals: ${action ?? 'ignored'}: ${type.slice(0, 120)}`)
      }
      // spent only now that it acted, for as long as it would be accepted (as a logout token's jti)
      await store.tag(used, 'used', Math.max(1, iat + MAX_SET_AGE + config.clockTolerance - at))
      return { status: 202, headers: { 'cache-control': 'no-store' }, cookies: [] }
    } catch (error) {
      if (!(error instanceof SetRefused)) throw error
      config.logger.warn(`shared signals: a SET was refused (${error.err}): ${error.message}`)
      return json(400, { err: error.err, description: error.message }, { 'cache-control': 'no-store' })
    }
  }
}

interface Receiver {
  runtime: ProviderRuntime
  transmitter(): Promise<Transmitter>
  verify(set: string): Promise<{ header: Record<string, unknown>; claims: Record<string, unknown> }>
}

/** One provider's transmitter: its metadata (cached; a failure is not), its own key cache, and a verifier of its SETs. */
function receiverOf(runtime: ProviderRuntime): Receiver {
  const jwks = createJwksKeeper()
  let cached: { at: number; metadata: Promise<Transmitter> } | undefined
  const transmitter = () => {
    if (cached && Date.now() - cached.at < METADATA_TTL_MS) return cached.metadata
    const metadata = fetchTransmitter(runtime)
    const entry = { at: Date.now(), metadata }
    cached = entry
    metadata.catch(() => {
      if (cached === entry) cached = undefined
    })
    return metadata
  }
  // the transmitter's keys, fetched with the provider's timeouts and size caps
  const verifyJwt = createJwtVerifier(async () => {
    const [{ http }, { jwksUri }] = await Promise.all([runtime.resolve(), transmitter()])
    return { as: { issuer: '', jwks_uri: jwksUri }, http, jwks }
  })
  return {
    runtime,
    transmitter,
    async verify(set) {
      const alg = decodePart(set.split('.')[0] ?? '')?.alg
      if (typeof alg !== 'string') throw new SetRefused('invalid_request', 'it is not a signed JWT')
      try {
        return await verifyJwt(set, alg)
      } catch (error) {
        if (isCodegrantError(error, 'codegrant/logout_token_invalid')) throw new SetRefused('invalid_key', error.message.replace('The logout token was rejected', 'The SET was rejected'))
        throw error
      }
    },
  }
}

/** The transmitter's metadata: `/.well-known/ssf-configuration` inserted before the issuer's path (SSF 1.0 §7.2). */
async function fetchTransmitter(runtime: ProviderRuntime): Promise<Transmitter> {
  const { as, http } = await runtime.resolve()
  const issuer = new URL(as.issuer)
  const path = issuer.pathname === '/' ? '' : issuer.pathname.replace(/\/$/, '')
  const url = new URL(`/.well-known/ssf-configuration${path}`, issuer.origin).href
  const unavailable = (why: string, cause?: unknown) => new CodegrantError('codegrant/provider_unavailable', `The provider's Shared Signals transmitter metadata could not be had (${why}).`, { cause })
  let body: unknown
  try {
    const response = await http[oauth.customFetch](url, { headers: { accept: 'application/json' }, signal: http.signal(), redirect: 'manual' })
    if (!response.ok) throw unavailable(`${url} answered HTTP ${response.status}`)
    body = await response.json()
  } catch (error) {
    throw isCodegrantError(error) ? error : unavailable(url, error)
  }
  if (!isRecord(body) || typeof body.issuer !== 'string' || typeof body.jwks_uri !== 'string' || !URL.canParse(body.jwks_uri)) throw unavailable(`${url} names no issuer and jwks_uri`)
  return { issuer: body.issuer, jwksUri: body.jwks_uri }
}

/** The SET in the request: `Content-Type: application/secevent+jwt`, one compact JWS. */
function setOf(request: CoreRequest): string {
  const type = headerOf(request, 'content-type')?.split(';', 1)[0]?.trim().toLowerCase()
  if (type !== 'application/secevent+jwt') throw new SetRefused('invalid_request', 'the request must be Content-Type: application/secevent+jwt')
  const body = typeof request.body === 'string' ? request.body.trim() : undefined
  if (body === undefined || body.length > MAX_SET_CHARS || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(body)) throw new SetRefused('invalid_request', 'the request must carry one SET (a compact JWS)')
  return body
}

/** The provider whose transmitter issued the SET, by its unverified `iss` (only to pick the keys: checked again after). */
async function pick(receivers: readonly Receiver[], iss: unknown): Promise<{ receiver: Receiver; transmitter: Transmitter }> {
  for (const receiver of receivers) {
    const transmitter = await receiver.transmitter()
    if (transmitter.issuer === iss) return { receiver, transmitter }
  }
  throw new SetRefused('invalid_issuer', 'its "iss" is not the transmitter of a provider of this app')
}

interface CheckedSet {
  iat: number
  jti: string
  events: Record<string, unknown>
  sub: string
}

/** RFC 8417 §2.2 and SSF 1.0 §4: `iss`, `aud`, `iat`, `exp`, `jti`, `events`, and the subject (`iss_sub` at the provider's issuer). */
function checkClaims(config: OAuthConfig, runtime: ProviderRuntime, transmitter: Transmitter, claims: Record<string, unknown>, now: number): CheckedSet {
  const { iss, aud, iat, exp, jti, events } = claims
  const tolerance = config.clockTolerance
  const audience = runtime.settings.clientId
  if (iss !== transmitter.issuer) throw new SetRefused('invalid_issuer', 'its "iss" is not the transmitter')
  if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) throw new SetRefused('invalid_audience', 'its "aud" does not name this client')
  if (typeof iat !== 'number' || iat > now + tolerance) throw new SetRefused('invalid_request', 'its "iat" is missing or in the future')
  if (iat < now - MAX_SET_AGE - tolerance) throw new SetRefused('invalid_request', 'it was issued too long ago ("iat")')
  if (exp !== undefined && !(typeof exp === 'number' && exp > now - tolerance)) throw new SetRefused('invalid_request', 'it has expired ("exp")')
  if (typeof jti !== 'string' || jti === '') throw new SetRefused('invalid_request', 'it has no "jti"')
  if (!isRecord(events) || Object.keys(events).length === 0) throw new SetRefused('invalid_request', 'it has no "events"')
  return { iat, jti, events, sub: subjectOf(claims, events, runtime, transmitter) }
}

/**
 * The user the SET is about: its `sub_id` (SSF 1.0), or an event's `subject` (CAEP drafts), in
 * the `iss_sub` format at the provider's issuer (or the transmitter's). Sessions are indexed by the
 * provider's `sub`, not by email: an `email` subject (or any other format) is refused, saying so.
 */
function subjectOf(claims: Record<string, unknown>, events: Record<string, unknown>, runtime: ProviderRuntime, transmitter: Transmitter): string {
  const inEvent = Object.values(events).find((event) => isRecord(event) && isRecord(event.subject))
  const subject = isRecord(claims.sub_id) ? claims.sub_id : isRecord(inEvent) ? inEvent.subject : undefined
  if (!isRecord(subject)) throw new SetRefused('invalid_request', 'it names no subject ("sub_id")')
  if (subject.format === 'email') throw new SetRefused('invalid_request', 'subjects in the email format are not supported: sessions are found by the provider\'s sub (use the iss_sub format)')
  if (subject.format !== 'iss_sub') throw new SetRefused('invalid_request', `subjects in the ${JSON.stringify(String(subject.format)).slice(0, 40)} format are not supported (use iss_sub)`)
  const issuers = [runtime.settings.issuer, transmitter.issuer].filter((value) => value !== undefined)
  if (typeof subject.iss !== 'string' || !issuers.some((issuer) => sameIssuer(issuer, subject.iss as string))) throw new SetRefused('invalid_request', 'its subject is not a user of the provider ("iss")')
  if (typeof subject.sub !== 'string' || subject.sub === '') throw new SetRefused('invalid_request', 'its subject has no "sub"')
  return subject.sub
}

const sameIssuer = (a: string, b: string) => a.replace(/\/$/, '') === b.replace(/\/$/, '')

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return isRecord(value) ? value : undefined
  } catch {
    return undefined
  }
}
