import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { providerRefusal } from '../diagnostics.js'
import { CodegrantError, redactSecrets, statusCause } from '../errors.js'
import { appPath } from '../http.js'
import { assertionHint } from '../provider/client-auth.js'
import { describe, transportError } from '../provider/http.js'
import type { Provider } from '../provider/metadata.js'
import { fetchApiUser } from '../provider/user-source.js'
import { newSessionId } from '../session/backend.js'
import { identityFrom, type IdentifiedSession } from '../session/identity.js'
import type { TokenSet, UserClaims } from '../session/store.js'
import { assertDpopTokenType, dpopHeaders, withNonceRetry, type DpopKey } from './dpop.js'
import { assertKeyIssuer } from './tenant-issuer.js'
import type { Transaction } from './transaction.js'

/** Hygiene for every callback answer: RFC 9700 §4.2.4 (no Referer leak), no caching. */
export const CALLBACK_HEADERS = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } as const

/**
 * Completes a login: validates the authorization response (state, `iss` per RFC 9207, error
 * responses), exchanges the code once (never retried), validates the ID token including its
 * signature with the pinned algorithm, and builds a fresh session with the provider's identity
 * of the user (its `identity`, which the app's hook cannot change).
 *
 * @returns the new session and where to send the browser.
 * @throws {CodegrantError} 400 for a rejected response, 502/504 when the provider fails.
 */
export async function completeLogin(
  config: OAuthConfig,
  provider: Provider,
  transaction: Transaction,
  params: URLSearchParams,
  now: number,
): Promise<{ session: IdentifiedSession; location: string }> {
  const { settings, as, client, clientAuth, http } = provider

  let validated: URLSearchParams
  try {
    validated = oauth.validateAuthResponse(as, client, params, transaction.state)
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = error.error.replace(/[^\w.-]/g, '').slice(0, 64)
      const description = error.error_description ? `: ${error.error_description.slice(0, 200)}` : ''
      throw new CodegrantError('codegrant/authorization_error', `The provider did not sign you in (${code}${description}).`, { cause: error })
    }
    const mismatch = error instanceof Error && /"state"/.test(error.message)
    throw new CodegrantError(
      mismatch ? 'codegrant/state_mismatch' : 'codegrant/invalid_callback',
      `The sign-in response was rejected (${error instanceof Error ? redactSecrets(error.message) : 'invalid'}).`,
      { cause: error },
    )
  }
  // a success response without a code is the browser's bad request, not a provider failure
  // (oauth4webapi would only refuse it inside the exchange, which maps to 502)
  if (!validated.get('code')) {
    throw new CodegrantError('codegrant/invalid_callback', 'The sign-in response was rejected (it carries no authorization code).')
  }

  config.logger.debug(`callback: authorization response valid (state matches${as.authorization_response_iss_parameter_supported ? ', iss checked' : ''}); exchanging the code at ${endpointOf(as.token_endpoint)} (${settings.clientAuthMethod})`)
  let response: Response
  let result: oauth.TokenEndpointResponse
  const key = provider.dpop && transaction.dpop
  const dpop = await dpopHeaders(provider.dpop, key)
  try {
    ;({ response, result } = await withNonceRetry(async () => {
      const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, validated, transaction.redirectUri, transaction.verifier, { ...http, ...dpop })
      const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
        expectedNonce: transaction.nonce ?? oauth.expectNoNonce,
        requireIdToken: settings.openid,
        // max_age was sent: auth_time must be there and recent enough (OpenID Connect Core §3.1.3.7)
        ...(transaction.maxAge !== undefined ? { maxAge: transaction.maxAge } : {}),
      })
      return { response, result }
    }))
    if (result.id_token) await verifyIdTokenSignature(provider, response, result.id_token)
    if (key) assertDpopTokenType(config, settings, result)
  } catch (error) {
    throw tokenError(config, error, 'code exchange', provider)
  }

  const claims = oauth.getValidatedIdTokenClaims(result) as UserClaims | undefined
  config.logger.debug(`callback: token response valid (${received(result)})${claims ? `; ID token valid for sub ${JSON.stringify(claims.sub)}` : ''}`)
  // with only an ID token, the user is read from it: no second copy of the claims
  let user: UserClaims | undefined
  if (!claims || settings.fetchUserinfo) {
    const info = await fetchUserinfo(config, provider, result.access_token, claims?.sub, key && result.token_type === 'dpop' ? key : undefined, result.scope ?? settings.scope)
    user = claims ? { ...claims, ...info, sub: claims.sub } : info
  }

  const session = {
    sid: newSessionId(),
    iat: now,
    uat: now,
    exp: now + config.sessionMaxAge,
    ...(user ? { user } : {}),
    // the provider's word, before userinfo members (merged above) or the app's hook can change the
    // user: the ID token's, else the user source's `sub` at the provider's issuer (nothing else of it)
    identity: identityFrom(settings.name, claims ?? { sub: user!.sub }, as.issuer),
    tokens: tokenSet(result, now, undefined),
    ...(key && result.token_type === 'dpop' ? { dpop: key } : {}),
  }
  return { session, location: appPath(config, transaction.returnTo) }
}

/**
 * Verifies the ID token's signature with the provider's keys (oauth4webapi), the algorithm
 * pinned; with a multi-tenant issuer, the key must also be one the token's issuer may use.
 */
export async function verifyIdTokenSignature(provider: Provider, response: Response, idToken: string): Promise<void> {
  await oauth.validateApplicationLevelSignature(provider.as, response, provider.http)
  const tenant = provider.settings.preset?.tenantIssuer
  if (tenant) assertKeyIssuer(tenant, provider, idToken)
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

/**
 * The user from the provider's userinfo endpoint, or from its user API when the preset names
 * one (GitHub). `scope`: what the token was granted (decides what the user API is asked).
 */
export async function fetchUserinfo(config: OAuthConfig, provider: Provider, accessToken: string, expectedSubject: string | undefined, key: DpopKey | undefined, scope = provider.settings.scope): Promise<UserClaims> {
  const { as, client, http } = provider
  if (!as.userinfo_endpoint) {
    throw new CodegrantError('codegrant/provider_error', 'The provider returned no ID token and has no userinfo endpoint: set OAUTH_USERINFO_ENDPOINT.')
  }
  const source = provider.settings.preset?.user
  if (source?.from === 'api') return fetchApiUser(config, http, source, as.userinfo_endpoint, accessToken, scope)
  try {
    const dpop = await dpopHeaders(provider.dpop, key)
    if (expectedSubject !== undefined) {
      return (await withNonceRetry(async () =>
        oauth.processUserInfoResponse(as, client, expectedSubject, await oauth.userInfoRequest(as, client, accessToken, { ...http, ...dpop })),
      )) as UserClaims
    }
    let response = await oauth.userInfoRequest(as, client, accessToken, { ...http, ...dpop })
    // a DPoP nonce challenge is answered once; anything else is judged below
    if (key && response.status === 401 && /use_dpop_nonce/.test(response.headers.get('www-authenticate') ?? '')) {
      await response.body?.cancel()
      response = await oauth.userInfoRequest(as, client, accessToken, { ...http, ...dpop })
    }
    // plain OAuth 2.0 (e.g. GitHub): no ID token, the user id is `sub` or `id`
    if (!response.ok) throw new CodegrantError('codegrant/userinfo_invalid', `The provider's userinfo endpoint answered HTTP ${response.status}.`, { cause: statusCause(response.status) })
    const body: unknown = await response.json()
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CodegrantError('codegrant/userinfo_invalid', 'The provider\'s userinfo response is not a JSON object.')
    const record = body as Record<string, unknown>
    const sub = typeof record.sub === 'string' ? record.sub : typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : undefined
    if (!sub) throw new CodegrantError('codegrant/userinfo_invalid', 'The provider\'s userinfo response has neither `sub` nor `id`.')
    return { ...record, sub }
  } catch (error) {
    if (error instanceof CodegrantError) throw error
    const transport = transportError(error, 'userinfo request')
    config.logger.error(`userinfo request failed: ${describe(error)}`)
    if (transport) throw transport
    const refused = refusalStatus(error)
    if (refused !== undefined) throw new CodegrantError('codegrant/userinfo_invalid', `The provider's userinfo endpoint answered HTTP ${refused}.`, { cause: statusCause(refused) })
    throw new CodegrantError('codegrant/userinfo_invalid', 'The provider\'s userinfo response was rejected.', { cause: error })
  }
}

/**
 * The HTTP status of a refusal oauth4webapi reports as a non-conform response rather than as a
 * challenge: a 401 without an RFC 6750 `Bearer` challenge (LemonLDAP::NG answers an invalidated
 * access token with `WWW-Authenticate: error=invalid_request,…`). The caller's refresh-and-retry
 * reads the status, whatever the header says.
 */
function refusalStatus(error: unknown): number | undefined {
  const response = error instanceof oauth.OperationProcessingError ? error.cause : undefined
  return response instanceof Response && !response.ok ? response.status : undefined
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
