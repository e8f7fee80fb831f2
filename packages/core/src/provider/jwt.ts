import { constants, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto'
import { CodegrantError } from '../errors.js'
import type { Provider } from './metadata.js'

/** RSA keys shorter than this are refused (RFC 7518 §3.3, as oauth4webapi does). */
const MIN_RSA_BITS = 2048

/** How node:crypto verifies each JWS algorithm (RFC 7518 §3, RFC 8037). */
interface Algorithm {
  hash: string | null
  kty: 'RSA' | 'EC' | 'OKP'
  crv?: string
  padding?: number
  saltLength?: number
  dsaEncoding?: 'ieee-p1363'
}

const rsa = (hash: string): Algorithm => ({ hash, kty: 'RSA', padding: constants.RSA_PKCS1_PADDING })
const pss = (hash: string, saltLength: number): Algorithm => ({ hash, kty: 'RSA', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
const ec = (hash: string, crv: string): Algorithm => ({ hash, kty: 'EC', crv, dsaEncoding: 'ieee-p1363' })

/** Asymmetric algorithms only: `none` and HS* (a key anyone holding the client secret knows) never verify. */
const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  RS256: rsa('sha256'),
  RS384: rsa('sha384'),
  RS512: rsa('sha512'),
  PS256: pss('sha256', 32),
  PS384: pss('sha384', 48),
  PS512: pss('sha512', 64),
  ES256: ec('sha256', 'P-256'),
  ES384: ec('sha384', 'P-384'),
  ES512: ec('sha512', 'P-521'),
  EdDSA: { hash: null, kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { hash: null, kty: 'OKP', crv: 'Ed25519' },
}

export interface VerifiedJwt {
  header: Record<string, unknown>
  claims: Record<string, unknown>
}

/** Verifies a compact JWS signed by the provider with exactly `alg`; the claims are the caller's to check. */
export type VerifyJwt = (token: string, alg: string) => Promise<VerifiedJwt>

/**
 * Verifies compact JWSs from the provider against its JWKS (fetched with the same timeout and
 * size cap as every other call to it, cached for five minutes and shared with its ID tokens,
 * refetched at once for an unknown `kid`, within the refetch budget of provider/jwks.ts),
 * accepting exactly one algorithm.
 *
 * oauth4webapi verifies signatures only inside its own response processors (ID token, JWT
 * userinfo, JARM, introspection) and exports neither its JWKS cache nor its key selection; none
 * of those processors accepts a logout token (the userinfo one requires `sub`, which a logout
 * token may omit). So the signature is checked here with node:crypto's `verify`.
 *
 * @throws {CodegrantError} `codegrant/logout_token_invalid` for a token that does not verify;
 *   `codegrant/provider_unavailable` when the keys cannot be fetched.
 */
export function createJwtVerifier(provider: () => Promise<Pick<Provider, 'as' | 'http' | 'jwks'>>): VerifyJwt {
  return async (token, alg) => {
    const algorithm = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg]! : undefined
    if (!algorithm) throw tokenRejected(`the pinned algorithm ${alg} cannot be verified`)
    const parts = token.split('.')
    if (parts.length !== 3 || !parts.every((part) => /^[\w-]+$/.test(part))) throw tokenRejected('it is not a compact JWS')
    const header = decodeJson(parts[0]!)
    const claims = decodeJson(parts[1]!)
    if (!header || !claims) throw tokenRejected('its header or payload is not a JSON object')
    if (header.alg !== alg) throw tokenRejected(`it is not signed with ${alg}`)
    if (header.crit !== undefined) throw tokenRejected('it has critical header parameters')
    const { as, http, jwks } = await provider()
    if (!as.jwks_uri) throw new CodegrantError('codegrant/provider_unavailable', 'The provider has no jwks_uri: its signed tokens cannot be checked.')
    const kid = typeof header.kid === 'string' ? header.kid : undefined
    const fits = (jwk: JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown }) =>
      jwk.kty === algorithm.kty && (algorithm.crv === undefined || jwk.crv === algorithm.crv) &&
      (kid === undefined || jwk.kid === kid) && (jwk.use === undefined || jwk.use === 'sig') && (jwk.alg === undefined || jwk.alg === alg)
    const uri = as.jwks_uri
    const unavailable = (error: unknown) => new CodegrantError('codegrant/provider_unavailable', 'The provider\'s signing keys could not be fetched.', { cause: error })
    let candidates = (await jwks.keys(uri, http).catch((error: unknown) => { throw unavailable(error) })).filter(fits)
    // the provider may have rotated its keys since they were fetched: once per token, within the budget
    if (candidates.length === 0) candidates = (await jwks.refetch(uri, http).catch((error: unknown) => { throw unavailable(error) })).filter(fits)
    if (candidates.length === 0) throw tokenRejected('no signing key of the provider matches it')
    const data = Buffer.from(`${parts[0]}.${parts[1]}`)
    const signature = Buffer.from(parts[2]!, 'base64url')
    for (const jwk of candidates) {
      const key = publicKey(jwk)
      if (!key || (algorithm.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS)) continue
      const { hash, padding, saltLength, dsaEncoding } = algorithm
      if (verify(hash, data, { key, padding, saltLength, dsaEncoding }, signature)) return { header, claims }
    }
    throw tokenRejected('its signature does not verify with the provider\'s keys')
  }
}

/** A logout token that fails a check: answered 400 `invalid_request`. */
export function tokenRejected(why: string): CodegrantError {
  return new CodegrantError('codegrant/logout_token_invalid', `The logout token was rejected: ${why}.`)
}

/** A compact JWS's payload, NOT verified: only to choose which provider's keys verify it. */
export function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1]
  return payload === undefined ? undefined : decodeJson(payload)
}

function publicKey(jwk: JsonWebKey): KeyObject | undefined {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' })
  } catch {
    return undefined
  }
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}
