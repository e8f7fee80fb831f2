import { webcrypto, type JsonWebKey } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import { isAssertionMethod } from '../config/enums.js'
import type { ProviderSettings } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'

/** The provider endpoints codegrant authenticates to. */
export type AuthenticatedEndpoint = 'token_endpoint' | 'pushed_authorization_request_endpoint' | 'revocation_endpoint'

/** Client authentication for each endpoint: a `private_key_jwt` assertion names its own audience. */
export type EndpointAuth = Readonly<Record<AuthenticatedEndpoint, oauth.ClientAuth>>

/**
 * Imports the configured signing key once (it was parsed and checked at start-up) and returns a
 * function that builds the client authentication for a provider's metadata.
 */
export async function createClientAuth(settings: ProviderSettings, fapi2: boolean): Promise<(as: oauth.AuthorizationServer) => EndpointAuth> {
  let single: oauth.ClientAuth
  switch (settings.clientAuthMethod) {
    case 'client_secret_post':
      // the configuration requires the secret with this method
      single = oauth.ClientSecretPost(settings.clientSecret ?? '')
      break
    case 'none':
      single = oauth.None()
      break
    // RFC 8705 §2: the TLS connection authenticates the client (its certificate, provider/mtls.ts); the body names it
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      single = oauth.TlsClientAuth()
      break
    case 'private_key_jwt': {
      if (!settings.privateKey) throw new CodegrantError('codegrant/config_invalid', 'OAUTH_CLIENT_AUTH_METHOD=private_key_jwt needs OAUTH_PRIVATE_KEY')
      const key = await importPrivateKey(settings.privateKey, fapi2)
      return perEndpoint(settings, (aud) => oauth.PrivateKeyJwt(key, {
        [oauth.modifyAssertion]: (header, payload) => {
          payload.aud = aud
          // FAPI 2.0 §5.4.1 names the Ed25519 algorithm `EdDSA` (oauth4webapi: `Ed25519`, RFC 9864)
          if (fapi2 && header.alg === 'Ed25519') header.alg = 'EdDSA'
        },
      }))
    }
    // OpenID Connect Core §9: an HS256 assertion keyed with the client secret (required by the configuration)
    case 'client_secret_jwt':
      return perEndpoint(settings, (aud) => oauth.ClientSecretJwt(settings.clientSecret ?? '', {
        [oauth.modifyAssertion]: (_header, payload) => {
          payload.aud = aud
        },
      }))
    default:
      single = oauth.ClientSecretBasic(settings.clientSecret ?? '')
  }
  const same = { token_endpoint: single, pushed_authorization_request_endpoint: single, revocation_endpoint: single }
  return () => same
}

/** A client assertion for each endpoint, each naming its own audience (see {@link assertionAudience}). */
function perEndpoint(settings: ProviderSettings, assertion: (aud: string) => oauth.ClientAuth): (as: oauth.AuthorizationServer) => EndpointAuth {
  return (as) => ({
    token_endpoint: assertion(assertionAudience(settings, as, 'token_endpoint')),
    pushed_authorization_request_endpoint: assertion(assertionAudience(settings, as, 'pushed_authorization_request_endpoint')),
    revocation_endpoint: assertion(assertionAudience(settings, as, 'revocation_endpoint')),
  })
}

/**
 * The `aud` of a client assertion sent to `endpoint` (RFC 7523 §3): the issuer identifier, or the
 * URL of the endpoint the assertion is sent to (OpenID Connect Core §9 says the token endpoint
 * SHOULD be the audience; some providers accept nothing else). Either way the audience names
 * the party that receives the assertion, so it cannot be replayed at another endpoint whose URL
 * differs (draft-ietf-oauth-rfc7523bis's audience-injection concern).
 */
export function assertionAudience(settings: ProviderSettings, as: oauth.AuthorizationServer, endpoint: AuthenticatedEndpoint): string {
  if (settings.clientAssertionAud === 'issuer') return as.issuer
  const url = as[endpoint]
  return typeof url === 'string' ? url : as.issuer
}

/**
 * A log line for a provider that answered `invalid_client` to a client assertion: which `aud`
 * was sent and how to change it. Undefined for other errors and other authentication methods.
 */
export function assertionHint(settings: ProviderSettings, as: oauth.AuthorizationServer, endpoint: AuthenticatedEndpoint, error: unknown): string | undefined {
  if (!isAssertionMethod(settings.clientAuthMethod)) return undefined
  if (!(error instanceof oauth.ResponseBodyError) || error.error !== 'invalid_client') return undefined
  const sent = assertionAudience(settings, as, endpoint)
  const other = settings.clientAssertionAud === 'issuer' ? 'token_endpoint' : 'issuer'
  return (
    `the provider refused the ${settings.clientAuthMethod} client assertion (invalid_client) sent to its ${endpoint} with aud "${sent}" ` +
    `(OAUTH_CLIENT_ASSERTION_AUD=${settings.clientAssertionAud}). If the key and client id are right, the provider may expect ` +
    `the other audience: set OAUTH_CLIENT_ASSERTION_AUD=${other} (option clientAssertionAud)`
  )
}

/** RSA keys sign RS256, or PS256 under FAPI 2.0 (which does not allow RS256). */
export async function importPrivateKey(jwk: Readonly<JsonWebKey & { kid?: string }>, fapi2: boolean): Promise<oauth.PrivateKey> {
  const algorithm =
    jwk.kty === 'RSA' ? { name: fapi2 ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
    : jwk.kty === 'EC' ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'Ed25519' }
  const key = await webcrypto.subtle.importKey('jwk', jwk as JsonWebKey, algorithm, false, ['sign'])
  return jwk.kid ? { key, kid: jwk.kid } : { key }
}
