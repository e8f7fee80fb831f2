/** The user from the provider: its userinfo endpoint (OpenID Connect Core §5.3) or its user API. */
import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, statusCause } from '../errors.js'
import { describe, transportError } from '../failures.js'
import { dpopHeaders, withNonceRetry } from '../provider/dpop.js'
import type { Provider } from '../provider/metadata.js'
import { fetchApiUser } from '../provider/user-source.js'
import { verifyResponseSignature } from './tokens.js'
import type { DpopKey, UserClaims } from '../session/store.js'
import { ATTR, traced } from '../telemetry.js'

/**
 * The user from the provider's userinfo endpoint, or from its user API when the preset names
 * one (GitHub). `scope`: what the token was granted (decides what the user API is asked).
 */
export function fetchUserinfo(config: OAuthConfig, provider: Provider, accessToken: string, expectedSubject: string | undefined, key: DpopKey | undefined, scope = provider.settings.scope): Promise<UserClaims> {
  return traced('codegrant.userinfo', { [ATTR.provider]: provider.settings.name }, () => requestUserinfo(config, provider, accessToken, expectedSubject, key, scope))
}

async function requestUserinfo(config: OAuthConfig, provider: Provider, accessToken: string, expectedSubject: string | undefined, key: DpopKey | undefined, scope: string): Promise<UserClaims> {
  const { as, client, http } = provider
  if (!as.userinfo_endpoint) {
    throw new CodegrantError('codegrant/provider_error', 'The provider returned no ID token and has no userinfo endpoint: set OAUTH_USERINFO_ENDPOINT.')
  }
  const source = provider.settings.preset?.user
  if (source?.from === 'api') return fetchApiUser(config, http, source, as.userinfo_endpoint, accessToken, scope)
  try {
    const dpop = await dpopHeaders(provider.dpop, key)
    if (expectedSubject !== undefined) {
      return (await withNonceRetry(async () => {
        const response = await oauth.userInfoRequest(as, client, accessToken, { ...http, ...dpop })
        const claims = await oauth.processUserInfoResponse(as, client, expectedSubject, response)
        // a signed response (OpenID Connect Core §5.3.2): oauth4webapi checked its claims, not its signature
        if (response.headers.get('content-type')?.split(';')[0] === 'application/jwt') await verifyResponseSignature(provider, response)
        return claims
      })) as UserClaims
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
