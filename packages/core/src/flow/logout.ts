import { describe, providerRefusal } from '../failures.js'
import * as oauth from 'oauth4webapi'
import type { OAuthConfig, ProviderSettings } from '../config/resolved.js'
import { assertionHint } from '../provider/client-auth.js'
import type { Provider } from '../provider/metadata.js'
import type { ApiToken, SessionData } from '../session/store.js'
import { appPath } from '../http.js'

/**
 * Where the browser goes after the local session is gone: the provider's end_session_endpoint
 * with `id_token_hint` (OpenID RP-Initiated Logout 1.0 §2), and `state` when one is given (see
 * {@link sendsLogoutState}), else the post-logout URI.
 * Revokes the session's API tokens (`OAUTH_APIS`) and then its refresh token first where the
 * provider supports it (RFC 7009); a failure to revoke never blocks the logout.
 *
 * @returns the location, and whether `state` went with it (the browser must then keep it).
 */
export async function finishLogout(config: OAuthConfig, settings: ProviderSettings | undefined, provider: Provider | undefined, session: SessionData | undefined, localReturnTo: string | undefined, apiTokens: readonly ApiToken[] = [], state?: string): Promise<{ location: string; stateSent: boolean }> {
  // no provider to tell: back to the app (its base URL, every provider's default post-logout URI)
  // (not to /auth/logout/done, which only a return from the provider has a reason to reach)
  const page = settings && !sendsLogoutState(config, settings) ? settings.postLogoutRedirectUri : config.baseUrl.href
  const back = { location: localReturnTo ?? page, stateSent: false }
  if (!settings || !provider) return back
  const { as } = provider
  if (session) await revokeSession(config, provider, session, apiTokens)
  if (!as.end_session_endpoint) {
    config.logger.debug('logout: the provider has no end_session_endpoint; back to the app')
    return back
  }
  config.logger.debug(`logout: redirecting to the provider's end_session_endpoint${session?.tokens.idToken ? ' with id_token_hint' : ''}`)
  const url = new URL(as.end_session_endpoint)
  url.searchParams.set('client_id', settings.clientId)
  url.searchParams.set('post_logout_redirect_uri', settings.postLogoutRedirectUri)
  if (session?.tokens.idToken) url.searchParams.set('id_token_hint', session.tokens.idToken)
  if (state !== undefined) url.searchParams.set('state', state)
  return { location: url.href, stateSent: state !== undefined }
}

/**
 * Revokes an ended session's tokens where the provider supports it (RFC 7009): each API's own token
 * (`OAUTH_APIS`; by default those the session holds) first, as revoking the refresh token may end
 * the grant they came from, then its refresh token (else its access token); and forgets its DPoP
 * key's proof handle. A failure is logged, never thrown: the session is ended locally anyway.
 */
export async function revokeSession(config: OAuthConfig, provider: Provider, session: SessionData, apiTokens: readonly ApiToken[] = Object.values(session.apis ?? {})): Promise<void> {
  const { settings, as, client, endpointAuth, http } = provider
  if (as.revocation_endpoint && apiTokens.length > 0) {
    config.logger.debug(`logout: revoking ${apiTokens.length} API token(s)`)
    const revoked = await Promise.allSettled(apiTokens.map(async ({ accessToken }) =>
      oauth.processRevocationResponse(await oauth.revocationRequest(as, client, endpointAuth.revocation_endpoint, accessToken, { ...http, additionalParameters: { token_type_hint: 'access_token' } }))))
    for (const result of revoked) {
      if (result.status === 'fulfilled') continue
      // RFC 7009 §2.2.1: a provider that cannot revoke such tokens (structured JWTs) says so; they
      // then live until they expire, and the refresh token's revocation below ends their grant
      if (providerRefusal(result.reason)?.code === 'unsupported_token_type') config.logger.debug('logout: the provider does not revoke API tokens of this kind (they stay valid until they expire)')
      else config.logger.warn(`API token revocation at logout failed (the local session is ended anyway): ${describe(result.reason)}`)
    }
  }
  const token = session.tokens.refreshToken ?? session.tokens.accessToken
  if (token && as.revocation_endpoint) {
    config.logger.debug(`logout: revoking the ${session.tokens.refreshToken ? 'refresh' : 'access'} token at ${new URL(as.revocation_endpoint).origin}${new URL(as.revocation_endpoint).pathname}`)
    try {
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, endpointAuth.revocation_endpoint, token, http))
    } catch (error) {
      config.logger.warn(`token revocation at logout failed (the local session is ended anyway): ${describe(error)}`)
      const hint = assertionHint(settings, as, 'revocation_endpoint', error)
      if (hint) config.logger.warn(hint)
    }
  }
  // the key pair went with the session; its proof handle goes too
  if (session.dpop) provider.dpop?.forget(session.dpop)
}

/**
 * True when the provider sends the browser back to codegrant's `/auth/logout/done` (the
 * post-logout redirect URI registered there): only then can a `state` come back to be checked.
 */
export function sendsLogoutState(config: OAuthConfig, settings: ProviderSettings | undefined): boolean {
  return settings !== undefined && settings.postLogoutRedirectUri === new URL(appPath(config, config.routes.logoutDone), config.baseUrl).href
}
