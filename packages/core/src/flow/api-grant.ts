/**
 * One API's token from the provider (`OAUTH_APIS`): a refresh-token grant naming the API's
 * resource (RFC 8707 §2.2), or token exchange of the session's access token (RFC 8693). Both are
 * oauth4webapi's requests with the API's parameters; the session's DPoP key proves every request,
 * so the API's token is bound to it as the session's own are.
 */
import * as oauth from 'oauth4webapi'
import type { ApiSettings, OAuthConfig } from '../config/resolved.js'
import { apiVariable } from '../config/apis.js'
import { CodegrantError } from '../errors.js'
import { assertDpopTokenType, dpopHeaders, withNonceRetry } from '../provider/dpop.js'
import type { Provider } from '../provider/metadata.js'
import { identityOf } from '../session/identity.js'
import type { ApiToken, SessionData } from '../session/store.js'
import { endpointOf, received, tokenError, tokenSet, verifyIdTokenSignature } from './tokens.js'

/** RFC 8693 §2.1 and §3. */
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

/** What a grant for an API gave: its token, and with a `resource` grant the refresh token that now continues the session's grant. */
export interface ApiGrantResult {
  token: ApiToken
  /** The refresh token the provider rotated to (a `resource` grant spends the session's). */
  refreshToken?: string
}

/**
 * Asks the provider for `api`'s token on behalf of `session`'s user: `resource` spends the
 * session's refresh token (the provider may rotate it: the new one is returned and must replace
 * the session's), `exchange` presents the session's access token (which must be fresh).
 *
 * @throws {CodegrantError} `codegrant/session_ended` when a `resource` grant's refresh token is
 *   refused (the session's grant is gone); `codegrant/token_expired` without a refresh token;
 *   `codegrant/provider_error` when the provider refuses the API (its words and the settings to
 *   check), 502/504 codes on transient failures.
 */
export async function requestApiToken(config: OAuthConfig, provider: Provider, api: ApiSettings, session: SessionData, now: number): Promise<ApiGrantResult> {
  const { as, client, clientAuth, http } = provider
  const key = provider.dpop && session.dpop
  const parameters = apiParameters(api)
  const refreshToken = session.tokens.refreshToken ?? ''
  if (api.token === 'resource' && !refreshToken) {
    throw new CodegrantError('codegrant/token_expired', `The provider gave no refresh token, so no token for the API ${api.name} can be asked for: sign in again (with offline_access where the provider needs it).`)
  }
  config.logger.debug(`api ${api.name}: asking ${endpointOf(as.token_endpoint)} for its token (${api.token === 'resource' ? 'refresh-token grant with resource, RFC 8707' : 'token exchange, RFC 8693'})`)
  let result: oauth.TokenEndpointResponse
  try {
    const dpop = await dpopHeaders(provider.dpop, key)
    let response!: Response
    result = await withNonceRetry(async () => {
      if (api.token === 'resource') {
        response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, { ...http, ...dpop, additionalParameters: parameters })
        return oauth.processRefreshTokenResponse(as, client, response)
      }
      const exchange = { ...parameters, subject_token: session.tokens.accessToken, subject_token_type: ACCESS_TOKEN_TYPE, requested_token_type: ACCESS_TOKEN_TYPE }
      response = await oauth.genericTokenEndpointRequest(as, client, clientAuth, TOKEN_EXCHANGE, exchange, { ...http, ...dpop })
      return oauth.processGenericTokenEndpointResponse(as, client, response)
    })
    if (result.id_token) await verifyIdTokenSignature(provider, response, result.id_token)
    if (key) assertDpopTokenType(config, provider.settings, result)
  } catch (error) {
    throw apiGrantError(config, error, api, provider)
  }
  // a refresh that answers with an ID token must still be the session's user (OIDC Core §12.2)
  const claims = oauth.getValidatedIdTokenClaims(result)
  if (claims && claims.sub !== identityOf(session)?.sub) {
    config.logger.error(`the token for API ${api.name} came with an ID token for a different subject: session ended`)
    throw new CodegrantError('codegrant/session_ended', 'The provider returned a different user. Sign in again.')
  }
  config.logger.debug(`api ${api.name}: token response valid (${received(result)})`)
  const { accessToken, tokenType, scope, expiresAt, expiresIn } = tokenSet(result, now, undefined)
  const token: ApiToken = { accessToken, tokenType, scope, ...(expiresAt === undefined ? {} : { expiresAt, expiresIn }) }
  return { token, ...(api.token === 'resource' && result.refresh_token ? { refreshToken: result.refresh_token } : {}) }
}

/** The API's own parameters of a token request: `resource`, `audience`, `scope` as configured. */
function apiParameters(api: ApiSettings): Record<string, string> {
  return {
    ...(api.resource ? { resource: api.resource } : {}),
    ...(api.audience ? { audience: api.audience } : {}),
    ...(api.scope ? { scope: api.scope } : {}),
  }
}

/**
 * A refused grant for an API, for the user and the operator: a spent refresh token ends the
 * session (as a refused refresh does); anything else the provider refuses names the API's
 * settings to check.
 */
function apiGrantError(config: OAuthConfig, error: unknown, api: ApiSettings, provider: Provider): CodegrantError {
  const failure = tokenError(config, error, `token request for the API ${api.name}`, provider)
  if (failure.code === 'codegrant/invalid_grant' && api.token === 'resource') {
    return new CodegrantError('codegrant/session_ended', 'The session has ended at the provider. Sign in again.', { cause: failure })
  }
  if (failure.code === 'codegrant/invalid_grant' || failure.code === 'codegrant/provider_error') {
    const settings = [api.token === 'exchange' ? '' : apiVariable('resource', api.name), apiVariable('audience', api.name), apiVariable('scope', api.name)].filter(Boolean).join(', ')
    config.logger.error(`the provider refused a token for the API ${api.name}: check ${settings} and ${apiVariable('token', api.name)}=${api.token} against what the provider allows this client`)
    return new CodegrantError('codegrant/provider_error', `The provider refused a token for the API ${api.name}.`, { cause: failure })
  }
  return failure
}
