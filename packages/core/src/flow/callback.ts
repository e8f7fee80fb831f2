import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, redactSecrets } from '../errors.js'
import { appPath } from '../http.js'
import { assertDpopTokenType, dpopHeaders, withNonceRetry } from '../provider/dpop.js'
import type { Provider } from '../provider/metadata.js'
import { newSessionId } from '../session/backend.js'
import { identityFrom, type IdentifiedSession } from '../session/identity.js'
import type { UserClaims } from '../session/store.js'
import { endpointOf, received, tokenError, tokenSet, verifyIdTokenSignature } from './tokens.js'
import type { Transaction } from './transaction.js'
import { fetchUserinfo } from './userinfo.js'
import { sessionEnd } from './session-end.js'
import { ATTR, traced } from '../telemetry.js'

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
