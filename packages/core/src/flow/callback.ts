import * as oauth from 'oauth4webapi'
import { isJwtResponseMode } from '../config/enums.js'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, redactSecrets } from '../errors.js'
import { transportError } from '../failures.js'
import { appPath } from '../http.js'
import { assertDpopTokenType, dpopHeaders, withNonceRetry } from '../provider/dpop.js'
import { unverifiedClaims } from '../provider/jwt.js'
import type { Provider } from '../provider/metadata.js'
import { newSessionId } from '../session/backend.js'
import { identityFrom, type IdentifiedSession } from '../session/identity.js'
import type { UserClaims } from '../session/store.js'
import { endpointOf, received, tokenError, tokenSet, verifyIdTokenSignature, withProviderKeys } from './tokens.js'
import type { Transaction } from './transaction.js'
import { fetchUserinfo } from './userinfo.js'
import { sessionEnd } from './session-end.js'
import { ATTR, traced } from '../telemetry.js'

/** Hygiene for every callback answer: RFC 9700 §4.2.4 (no Referer leak), no caching. */
export const CALLBACK_HEADERS = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } as const

/**
 * The `state`s of an authorization response: they name its transaction. A JWT-secured response
 * (JARM) carries its state inside the JWT, read here WITHOUT verification, only to find the
 * transaction: {@link completeLogin} verifies the JWT and that its state is the transaction's
 * before anything in it is used. With a JARM mode configured, a response without exactly one
 * `response` JWT has none (and is refused).
 */
export function responseStates(config: OAuthConfig, params: URLSearchParams): string[] {
  if (!isJwtResponseMode(config.responseMode)) return params.getAll('state')
  const responses = params.getAll('response')
  const state = responses.length === 1 ? unverifiedClaims(responses[0]!)?.state : undefined
  return typeof state === 'string' ? [state] : []
}

/**
 * Completes a login: validates the authorization response (state, `iss` per RFC 9207, error
 * responses; a JARM response's signature, `iss`, `aud` and `exp` first), exchanges the code once (never retried), validates the ID token including its
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

  const jarm = isJwtResponseMode(config.responseMode)
  let validated: URLSearchParams
  try {
    validated = jarm ? await validateJwtResponse(provider, params, transaction.state) : oauth.validateAuthResponse(as, client, params, transaction.state)
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = error.error.replace(/[^\w.-]/g, '').slice(0, 64)
      const description = error.error_description ? `: ${error.error_description.slice(0, 200)}` : ''
      throw new CodegrantError('codegrant/authorization_error', `The provider did not sign you in (${code}${description}).`, { cause: error })
    }
    if (jarm) throw keysFailure(config, error) ?? jarmRejected(error)
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

  config.logger.debug(`callback: authorization response valid (${jarm ? `JARM response signed with ${client.authorization_signed_response_alg}, ` : ''}state matches${jarm || as.authorization_response_iss_parameter_supported ? ', iss checked' : ''}); exchanging the code at ${endpointOf(as.token_endpoint)} (${settings.clientAuthMethod})`)
  let result: oauth.TokenEndpointResponse
  const key = provider.dpop && transaction.dpop
  const dpop = await dpopHeaders(provider.dpop, key)
  try {
    const attributes = { [ATTR.provider]: settings.name }
    result = await withNonceRetry(async () => {
      const response = await traced('codegrant.code_exchange', attributes, () =>
        oauth.authorizationCodeGrantRequest(as, client, clientAuth, validated, transaction.redirectUri, transaction.verifier, { ...http, ...dpop }))
      // the token response, and its ID token's claims (oauth4webapi) and signature
      return traced('codegrant.id_token_check', attributes, async () => {
        const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: transaction.nonce ?? oauth.expectNoNonce,
          requireIdToken: settings.openid,
          // max_age was sent: auth_time must be there and recent enough (OpenID Connect Core §3.1.3.7)
          ...(transaction.maxAge !== undefined ? { maxAge: transaction.maxAge } : {}),
        })
        if (result.id_token) await verifyIdTokenSignature(provider, response, result.id_token)
        return result
      })
    })
    if (key) assertDpopTokenType(config, settings, result)
  } catch (error) {
    throw tokenError(config, error, 'code exchange', provider)
  }

  const claims = oauth.getValidatedIdTokenClaims(result) as UserClaims | undefined
  config.logger.debug(`callback: token response valid (${received(result)})${claims ? `; ID token valid for sub ${JSON.stringify(claims.sub)}` : ''}`)
  // our lifetime, cut short by the provider's session_expiry or auth_time + a configured max_age
  // (before userinfo: a session the provider already ended is refused without another call)
  const exp = sessionEnd(config, settings, claims, now, now)
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
    exp,
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
 * A JWT-secured authorization response (JARM) checked by oauth4webapi: signed by the provider
 * with the pinned algorithm (`none` and HS* never verify), `iss` the issuer, `aud` this client,
 * `exp` not passed; then its parameters as any response's (state, error). The provider's keys
 * are refetched at once for an unknown `kid`, as for ID tokens.
 */
function validateJwtResponse(provider: Provider, params: URLSearchParams, state: string): Promise<URLSearchParams> {
  return withProviderKeys(provider, (as) => oauth.validateJwtAuthResponse(as, provider.client, params, state, provider.http))
}

/** The provider's keys could not be had: its failure (502, 504), not the browser's bad response. */
function keysFailure(config: OAuthConfig, error: unknown): CodegrantError | undefined {
  const transport = transportError(error, 'signing keys (JWKS)')
  if (transport) return transport
  const refusal = error instanceof oauth.OperationProcessingError || error instanceof oauth.UnsupportedOperationError || (error instanceof TypeError && 'code' in error)
  if (refusal) return undefined
  config.logger.error(`the provider's signing keys could not be fetched to check the JARM response: ${error instanceof Error ? redactSecrets(error.message) : 'unknown error'}`)
  return new CodegrantError('codegrant/provider_error', "The provider's signing keys could not be fetched.", { cause: error })
}

/** A JARM response that fails a check: the browser's bad request (400). */
function jarmRejected(error: unknown): CodegrantError {
  return new CodegrantError('codegrant/invalid_callback', `The signed sign-in response (JARM) was rejected (${error instanceof Error ? redactSecrets(error.message) : 'invalid'}).`, { cause: error })
}
