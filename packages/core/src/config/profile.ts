import type { JsonWebKey } from 'node:crypto'
import { isMtlsMethod, type Profile } from './enums.js'

/** The JWS algorithms FAPI 2.0 allows (Security Profile §5.4.1). */
export const FAPI2_ALGORITHMS: readonly string[] = ['PS256', 'ES256', 'EdDSA']
/**
 * FAPI 2.0 (§5.3.2.1, for authorization servers) bounds accepted clock offsets at 60 seconds;
 * a client that tolerates more accepts tokens a FAPI server would refuse.
 */
export const FAPI2_MAX_CLOCK_TOLERANCE = 60

interface Settings {
  par: boolean
  dpop: boolean
  dpopAllowBearer: boolean
  clientAuthMethod: string
  clientAssertionAud: string
  idTokenSigningAlg: string | undefined
  clockTolerance: number
  privateKey: (JsonWebKey & { kid?: string }) | string | undefined
  /** The mutual-TLS client certificate (RFC 8705), when one is configured. */
  clientCertificate: object | undefined
}

/**
 * What in a configuration is weaker than the FAPI 2.0 Security Profile allows a client, each
 * with its reason. PKCE S256, `response_type=code` and the refusal of `none` are not settings:
 * codegrant always does them.
 */
export function fapi2Problems(settings: Settings, profile: Profile = 'fapi2'): string[] {
  const problems: string[] = []
  const why = `OAUTH_PROFILE=${profile}`
  if (!settings.par) problems.push(`${why} requires pushed authorization requests (FAPI 2.0 §5.3.2.2): remove OAUTH_PAR=false`)
  // FAPI 2.0 §5.3.2.2: tokens sender-constrained by DPoP or by the client certificate (RFC 8705 §3)
  if (!settings.dpop && !settings.clientCertificate) {
    problems.push(`${why} requires sender-constrained tokens (FAPI 2.0 §5.3.2.2): remove OAUTH_DPOP=false, or bind them to a client certificate (OAUTH_CLIENT_CERT, OAUTH_CLIENT_CERT_KEY)`)
  }
  if (settings.dpopAllowBearer) problems.push(`${why} refuses Bearer tokens (FAPI 2.0 §5.3.3): remove OAUTH_DPOP_ALLOW_BEARER`)
  // FAPI 2.0 §5.3.2.1: private_key_jwt or mutual TLS (either of RFC 8705's methods)
  if (settings.clientAuthMethod !== 'private_key_jwt' && !isMtlsMethod(settings.clientAuthMethod)) {
    const forbidden = settings.clientAuthMethod === 'none' ? 'public clients' : 'shared client secrets'
    problems.push(`${why} requires OAUTH_CLIENT_AUTH_METHOD=private_key_jwt, tls_client_auth or self_signed_tls_client_auth (FAPI 2.0 §5.3.3 forbids ${forbidden}; got ${settings.clientAuthMethod})`)
  }
  if (settings.clientAssertionAud !== 'issuer' && !isMtlsMethod(settings.clientAuthMethod)) {
    problems.push(`${why} requires the issuer as the client assertion audience (FAPI 2.0 §5.3.2.1): remove OAUTH_CLIENT_ASSERTION_AUD=${settings.clientAssertionAud}`)
  }
  if (settings.idTokenSigningAlg !== undefined && !FAPI2_ALGORITHMS.includes(settings.idTokenSigningAlg)) {
    problems.push(`${why} allows only ${FAPI2_ALGORITHMS.join(', ')} as OAUTH_ID_TOKEN_SIGNING_ALG (FAPI 2.0 §5.4.1; got ${settings.idTokenSigningAlg})`)
  }
  if (settings.clockTolerance > FAPI2_MAX_CLOCK_TOLERANCE) {
    problems.push(`${why} allows at most ${FAPI2_MAX_CLOCK_TOLERANCE} seconds of OAUTH_CLOCK_TOLERANCE (FAPI 2.0 §5.3.2.1; got ${settings.clockTolerance})`)
  }
  const key = settings.privateKey
  if (typeof key === 'object' && key.kty === 'RSA' && Buffer.from(key.n ?? '', 'base64url').length * 8 < 2048) {
    problems.push(`${why} requires RSA keys of at least 2048 bits for OAUTH_PRIVATE_KEY (FAPI 2.0 §5.4.1)`)
  }
  return problems
}

/**
 * What FAPI 2.0 Message Signing adds for a client, beyond {@link fapi2Problems}: its
 * authorization requests are signed request objects (JAR, RFC 9101, pushed), and it accepts only
 * JWT-secured authorization responses (JARM), signed with a FAPI algorithm.
 */
export function messageSigningProblems(settings: { requestObject: boolean; authorizationSigningAlg: string | undefined }): string[] {
  const problems: string[] = []
  const why = 'OAUTH_PROFILE=fapi2-message-signing'
  if (!settings.requestObject) problems.push(`${why} requires signed request objects (JAR, RFC 9101): remove OAUTH_REQUEST_OBJECT=false`)
  const alg = settings.authorizationSigningAlg
  if (alg !== undefined && !FAPI2_ALGORITHMS.includes(alg)) {
    problems.push(`${why} allows only ${FAPI2_ALGORITHMS.join(', ')} as OAUTH_AUTHORIZATION_SIGNING_ALG (FAPI 2.0 §5.4.1; got ${alg})`)
  }
  return problems
}
