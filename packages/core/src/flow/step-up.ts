/**
 * Step-up authentication (RFC 9470): a guard may require that the user authenticated recently
 * (`maxAge`, checked against the ID token's `auth_time`) or in a given way (`acr`). A browser
 * is sent through login again with `max_age` / `acr_values`; the callback checks the new ID
 * token and that the same user came back; an API client gets a 401 challenge. One attempt: when
 * the provider cannot satisfy the requirement, the callback answers 403 rather than looping.
 */
import { CodegrantError, isCodegrantError } from '../errors.js'
import { json, type CoreResponse } from '../http.js'
import type { DerivedIdentity } from '../session/identity.js'
import type { AuthorizationParams } from '../config/authorization-params.js'
import type { StepUp, Transaction } from './transaction.js'

/** A guard's authentication requirement. */
export interface AuthenticationRequirement {
  /** Seconds since the user last authenticated, at most. */
  maxAge?: number
  /** Acceptable `acr` values, most preferred first. */
  acr?: readonly string[]
}

const requirements = new WeakMap<object, AuthenticationRequirement | null>()
// RFC 6750 §3 quoted-string content without `"` and `\`; acr values are space-separated
const ACR = /^[\x21\x23-\x5b\x5d-\x7e]{1,255}$/

/**
 * The requirement of a guard's options, checked once per options object.
 *
 * @throws {TypeError} when `maxAge` is not a whole number of seconds or an `acr` value is unusable.
 */
export function requirementOf(options: { maxAge?: number | undefined; acr?: string | readonly string[] | undefined }): AuthenticationRequirement | undefined {
  let requirement = requirements.get(options)
  if (requirement === undefined) {
    const { maxAge, acr } = options
    if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) throw new TypeError(`codegrant: requireAuth({ maxAge }) must be a whole number of seconds (got ${String(maxAge)})`)
    const acrs = acr === undefined ? undefined : typeof acr === 'string' ? [acr] : [...acr]
    if (acrs && (acrs.length === 0 || !acrs.every((value) => ACR.test(value)))) throw new TypeError('codegrant: requireAuth({ acr }) must be one or more acr values without spaces, quotes or backslashes')
    requirement = maxAge === undefined && !acrs ? null : Object.freeze({ ...(maxAge !== undefined ? { maxAge } : {}), ...(acrs ? { acr: Object.freeze(acrs) } : {}) })
    requirements.set(options, requirement)
  }
  return requirement ?? undefined
}

/** What a step-up reads: the provider's identity of the user (`session/identity.ts`), never the app's `user`. */
type Authentication = Pick<DerivedIdentity, 'sub' | 'auth_time' | 'acr'>

/** True when the session's identity (its ID token's `auth_time`, `acr`) meets the requirement (`auth_time` with the clock tolerance, as oauth4webapi checks it). */
export function meetsRequirement(claims: Readonly<Authentication>, requirement: AuthenticationRequirement, now: number, tolerance: number): boolean {
  if (requirement.maxAge !== undefined) {
    const authTime = claims.auth_time
    if (typeof authTime !== 'number' || now - authTime > requirement.maxAge + tolerance) return false
  }
  return !requirement.acr || (typeof claims.acr === 'string' && requirement.acr.includes(claims.acr))
}

/** The authorization parameters that ask the provider for the requirement. */
export function stepUpParams(requirement: AuthenticationRequirement): AuthorizationParams {
  return {
    ...(requirement.maxAge !== undefined ? { max_age: [String(requirement.maxAge)] } : {}),
    ...(requirement.acr ? { acr_values: [requirement.acr.join(' ')] } : {}),
  }
}

/** What the transaction must remember for the callback's check. */
export function stepUpOf(requirement: AuthenticationRequirement, sub: string | undefined): StepUp {
  return { ...(sub !== undefined ? { sub } : {}), ...(requirement.acr ? { acr: requirement.acr } : {}) }
}

/** The RFC 9470 §3 challenge for a client that cannot be sent through login. */
export function stepUpChallenge(requirement: AuthenticationRequirement): CoreResponse {
  const parts = ['error="insufficient_user_authentication"', 'error_description="A more recent or stronger authentication is required"']
  if (requirement.acr) parts.push(`acr_values="${requirement.acr.join(' ')}"`)
  if (requirement.maxAge !== undefined) parts.push(`max_age="${requirement.maxAge}"`)
  return json(
    401,
    {
      error: 'insufficient_user_authentication',
      ...(requirement.acr ? { acr_values: requirement.acr.join(' ') } : {}),
      ...(requirement.maxAge !== undefined ? { max_age: requirement.maxAge } : {}),
    },
    { 'www-authenticate': `Bearer ${parts.join(', ')}` },
  )
}

/**
 * The callback's check of a step-up: the same user, and an `acr` among those asked for
 * (`auth_time` was already checked against `max_age` with the ID token), by the new session's identity.
 *
 * @throws {CodegrantError} `codegrant/step_up_failed` (403): no second attempt is made.
 */
export function verifyStepUp(stepUp: StepUp, claims: Readonly<Authentication>): void {
  if (stepUp.sub !== undefined && claims.sub !== stepUp.sub) {
    throw new CodegrantError('codegrant/step_up_failed', 'You signed in as a different user than the one this session belongs to. Sign out first to switch users.')
  }
  if (stepUp.acr && !(typeof claims.acr === 'string' && stepUp.acr.includes(claims.acr))) {
    const got = typeof claims.acr === 'string' ? ` (it gave ${JSON.stringify(claims.acr.slice(0, 64))})` : ''
    throw new CodegrantError('codegrant/step_up_failed', `This page needs a stronger sign-in (${stepUp.acr.join(' or ')}) than the provider gave${got}.`)
  }
}

/**
 * An ID token whose `auth_time` is older than the `max_age` sent: a provider that did not
 * re-authenticate the user. 403 for a step-up (the one attempt failed), 400 otherwise.
 */
export function authTimeFailure(transaction: Transaction, error: unknown): CodegrantError | undefined {
  if (transaction.maxAge === undefined || !isCodegrantError(error)) return undefined
  const cause = error.cause instanceof Error ? error.cause.message : ''
  if (!/since the last End-User authentication/.test(cause)) return undefined
  return transaction.stepUp
    ? new CodegrantError('codegrant/step_up_failed', `The provider did not sign you in again within ${transaction.maxAge} seconds, which this page needs.`, { cause: error })
    : new CodegrantError('codegrant/id_token_invalid', `The provider's ID token was rejected (the user authenticated more than ${transaction.maxAge} seconds ago).`, { cause: error })
}
