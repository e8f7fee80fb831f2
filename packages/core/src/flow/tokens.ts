/**
 * The token endpoint's answers, shared by the code exchange (`flow/callback.ts`) and the refresh
 * (`flow/refresh.ts`): the ID token's signature, the session's token set, what a failure means to
 * the user, and what a debug line may say about them.
 */
import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, redactSecrets } from '../errors.js'
import { describe, providerRefusal, transportError } from '../failures.js'
import { assertionHint } from '../provider/client-auth.js'
import { isUnknownKey } from '../provider/jwks.js'
import type { Provider } from '../provider/metadata.js'
import { assertKeyIssuer } from '../provider/tenant-issuer.js'
import type { TokenSet } from '../session/store.js'

/**
 * Verifies the ID token's signature with the provider's keys (oauth4webapi), the algorithm
 * pinned; with a multi-tenant issuer, the key must also be one the token's issuer may use.
 *
 * oauth4webapi keeps its keys per metadata object and refetches them for an unknown `kid` only
 * once they are a minute old: a login seconds after the provider rotated its keys would fail
 * (OpenID Connect Core §10.1.1). So each check reads the provider's shared cache (a fresh copy of
 * the metadata makes oauth4webapi seed from it), and an unknown `kid` refetches the keys at once,
 * once per token, within the provider's refetch budget (provider/jwks.ts).
 */
export async function verifyIdTokenSignature(provider: Provider, response: Response, idToken: string): Promise<void> {
  await verifyResponseSignature(provider, response)
  const tenant = provider.settings.preset?.tenantIssuer
  if (tenant) assertKeyIssuer(tenant, provider.http, idToken)
}

/**
 * Verifies the signature of the JWT an oauth4webapi processor took from `response` (an ID token,
 * a signed userinfo response) with the provider's keys; an unknown `kid` refetches them at once,
 * once, within the provider's refetch budget (see {@link verifyIdTokenSignature}).
 */
export async function verifyResponseSignature(provider: Provider, response: Response): Promise<void> {
  await withProviderKeys(provider, (as) => oauth.validateApplicationLevelSignature(as, response, provider.http))
}

/**
 * Runs an oauth4webapi check that verifies a JWT with the provider's keys (`verify`, given a fresh
 * copy of the metadata so that oauth4webapi seeds its keys from the provider's shared cache); an
 * unknown `kid` refetches the keys at once and checks once more, within the provider's refetch
 * budget (see {@link verifyIdTokenSignature}).
 */
export async function withProviderKeys<T>(provider: Provider, verify: (as: oauth.AuthorizationServer) => Promise<T>): Promise<T> {
  const { as, http, jwks } = provider
  if (as.jwks_uri) await jwks.keys(as.jwks_uri, http)
  try {
    return await verify({ ...as })
  } catch (error) {
    if (!as.jwks_uri || !isUnknownKey(error)) throw error
    await jwks.refetch(as.jwks_uri, http)
    return await verify({ ...as })
  }
}

/** The token set after a token response; what a refresh response omits is kept from before. */
export function tokenSet(result: oauth.TokenEndpointResponse, now: number, previous: TokenSet | undefined): TokenSet {
  const tokens: TokenSet = {
    accessToken: result.access_token,
    tokenType: result.token_type === 'dpop' ? 'DPoP' : 'Bearer',
    scope: result.scope ?? previous?.scope ?? '',
  }
  const refreshToken = result.refresh_token ?? previous?.refreshToken
  const idToken = result.id_token ?? previous?.idToken
  if (refreshToken) tokens.refreshToken = refreshToken
  if (idToken) tokens.idToken = idToken
  // expires_in 0 says nothing usable: treated as unknown (refresh on a 401), never "refresh always"
  if (typeof result.expires_in === 'number' && result.expires_in > 0) {
    tokens.expiresAt = now + result.expires_in
    tokens.expiresIn = result.expires_in
  }
  return tokens
}

/**
 * Maps an oauth4webapi failure at the token endpoint to what the user sees: a rejected code or
 * ID token is the user's 400, a provider that fails or talks nonsense is a 502, a slow one 504.
 */
export function tokenError(config: OAuthConfig, error: unknown, what: string, provider?: Provider): CodegrantError {
  config.logger.error(`${what} failed: ${describe(error)}`)
  const hint = provider && assertionHint(provider.settings, provider.as, 'token_endpoint', error)
  if (hint) config.logger.error(hint)
  const transport = transportError(error, what)
  if (transport) return transport
  if (error instanceof CodegrantError) return error
  const refusal = providerRefusal(error)
  if (refusal) {
    if (refusal.code === 'invalid_grant') {
      return new CodegrantError('codegrant/invalid_grant', 'The sign-in code was rejected: it expired or was already used. Sign in again.', { cause: error })
    }
    // the provider's own words (never a secret) and what to check
    return new CodegrantError('codegrant/provider_error', `The provider refused the ${what} (${refusal.text}).${refusal.fix}`, { cause: error })
  }
  const message = error instanceof Error ? redactSecrets(error.message) : ''
  if (/JWT|JWE|ID Token|nonce|signature|"alg"/i.test(message)) {
    return new CodegrantError('codegrant/id_token_invalid', `The provider's ID token was rejected (${message}).`, { cause: error })
  }
  return new CodegrantError('codegrant/provider_error', `The provider answered the ${what} with something unexpected.`, { cause: error })
}

/** What a token response held, for debug lines: which tokens, never their values. */
export function received(result: oauth.TokenEndpointResponse): string {
  const parts = [`${result.token_type} access token`]
  if (result.refresh_token) parts.push('refresh token')
  if (result.id_token) parts.push('ID token')
  if (typeof result.expires_in === 'number') parts.push(`expires in ${result.expires_in} s`)
  return parts.join(', ')
}

/** An endpoint for a debug line: origin and path, never a query. */
export function endpointOf(url: string | undefined): string {
  if (!url) return '(none)'
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}
