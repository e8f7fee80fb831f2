import * as oauth from 'oauth4webapi'
import { isFapi2 } from '../config/enums.js'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import { describe, transportError } from '../failures.js'
import { redirect, type CoreResponse } from '../http.js'
import type { Provider } from '../provider/metadata.js'
import { assertionHint } from '../provider/client-auth.js'
import { safeReturnTo } from '../return-to.js'
import type { RequestCookies } from '../session/cookie-jar.js'
import { dpopHeaders, withNonceRetry } from '../provider/dpop.js'
import type { AuthorizationParams } from '../config/authorization-params.js'
import type { StepUp, TransactionCookies } from './transaction.js'

/** What shapes one login beyond the configuration: extra parameters, and what the callback must check. */
export interface LoginExtras {
  /** Extra authorization parameters, already merged and checked (never a protected name). */
  params?: AuthorizationParams
  /** The `max_age` sent, so the callback checks `auth_time`. */
  maxAge?: number | undefined
  /** A step-up: the user and the authentication the callback must find in the new ID token. */
  stepUp?: StepUp | undefined
  /** A `prompt=none` attempt: the provider's "login required" answers bring the browser back signed out. */
  silent?: boolean
  /** A single-page app's silent login: the callback answers the page that posts the result to the SPA, not a redirect. */
  spa?: boolean
  /** Scopes asked for besides the configured ones (incremental consent: api-challenge.ts), already checked. */
  added?: string | undefined
}

/**
 * Starts a login: fresh state, PKCE S256 verifier and (OpenID) nonce, remembered in a
 * transaction cookie named for the state, then a 302 to the authorization endpoint (through
 * PAR when enabled; as a signed request object with `OAUTH_REQUEST_OBJECT`). Only configured
 * parameters are sent: nothing from the query but `returnTo`.
 *
 * RFC 6749 §4.1.1, RFC 7636 §4.1–4.3, RFC 9126, RFC 9101, RFC 9700 §2.1.1.
 */
export async function startLogin(
  config: OAuthConfig,
  provider: Provider,
  transactions: TransactionCookies,
  cookies: RequestCookies,
  returnTo: string | null,
  now: number,
  extras: LoginExtras = {},
): Promise<CoreResponse> {
  const { settings, as, client, endpointAuth, http } = provider
  const state = oauth.generateRandomState()
  const verifier = oauth.generateRandomCodeVerifier()
  // A nonce whenever OpenID is in play: it also guards against code injection where the
  // provider's PKCE support is unknown (RFC 9700 §4.7.1).
  const nonce = settings.openid ? oauth.generateRandomNonce() : undefined
  const params = new URLSearchParams({
    client_id: settings.clientId,
    redirect_uri: settings.redirectUri,
    response_type: 'code',
    scope: extras.added ? [...new Set([...settings.loginScope.split(' '), ...extras.added.split(' ')])].join(' ') : settings.loginScope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  })
  if (nonce) params.set('nonce', nonce)
  if (config.responseMode !== 'query') params.set('response_mode', config.responseMode)
  for (const [name, values] of Object.entries(extras.params ?? {})) {
    // the protocol's own parameters are never taken from here (checked before, and again now)
    if (params.has(name)) continue
    for (const value of values) params.append(name, value)
  }

  // DPoP: the session's key pair is made now, so that the code is bound to it (RFC 9449 §10)
  const dpopKey = provider.dpop ? await provider.dpop.generate() : undefined
  const dpop = await dpopHeaders(provider.dpop, dpopKey)
  const location = new URL(as.authorization_endpoint!)
  if (isFapi2(config.profile) && !as.pushed_authorization_request_endpoint) {
    config.logger.error(`OAUTH_PROFILE=${config.profile} needs pushed authorization requests, but the provider has no pushed_authorization_request_endpoint`)
    throw new CodegrantError('codegrant/provider_error', 'The provider does not support pushed authorization requests, which this app requires (FAPI 2.0).')
  }
  const pushed = settings.par && Boolean(as.pushed_authorization_request_endpoint)
  if (!pushed && dpop.DPoP && Array.isArray(as.dpop_signing_alg_values_supported)) params.set('dpop_jkt', await dpop.DPoP.calculateThumbprint())
  // JAR: every parameter inside one JWT signed with the client's key, only client_id beside it
  // (signed for each attempt: a retry with a DPoP nonce must not replay the request object's jti)
  const request = async () => (provider.signRequest ? provider.signRequest(as, client, params) : params)
  if (pushed) {
    try {
      // with DPoP, the proof on the pushed request binds the code to the key
      const { request_uri } = await withNonceRetry(async () => {
        const response = await oauth.pushedAuthorizationRequest(as, client, endpointAuth.pushed_authorization_request_endpoint, await request(), { ...http, ...dpop })
        return oauth.processPushedAuthorizationResponse(as, client, response)
      })
      location.searchParams.set('client_id', settings.clientId)
      location.searchParams.set('request_uri', request_uri)
    } catch (error) {
      const failure = transportError(error, 'pushed authorization request')
      config.logger.error(`pushed authorization request failed: ${describe(error)}`)
      const hint = assertionHint(settings, as, 'pushed_authorization_request_endpoint', error)
      if (hint) config.logger.error(hint)
      throw failure ?? new CodegrantError('codegrant/provider_error', 'The provider refused to start the sign-in (pushed authorization request failed).', { cause: error })
    }
  } else {
    const sent = await request()
    for (const key of new Set(sent.keys())) location.searchParams.delete(key)
    for (const [key, value] of sent) location.searchParams.append(key, value)
  }

  const binding = !dpopKey ? '' : `, DPoP ${dpopKey.alg} key bound ${location.searchParams.has('request_uri') ? 'by the PAR proof' : params.has('dpop_jkt') ? 'by dpop_jkt' : 'at the code exchange'}`
  config.logger.debug(`login: redirecting to the authorization endpoint ${location.origin}${location.pathname} (PKCE S256, state${nonce ? ', nonce' : ''}${provider.signRequest ? ', a signed request object' : ''}${location.searchParams.has('request_uri') ? ', through PAR' : ''}${binding}; scope "${params.get('scope')}"; returnTo ${returnTo === null ? 'none' : 'given'})`)
  const transaction = {
    state,
    verifier,
    returnTo: safeReturnTo(returnTo),
    redirectUri: settings.redirectUri,
    iat: now,
    ...(nonce ? { nonce } : {}),
    ...(dpopKey ? { dpop: dpopKey } : {}),
    ...(extras.maxAge !== undefined ? { maxAge: extras.maxAge } : {}),
    ...(extras.stepUp ? { stepUp: extras.stepUp } : {}),
    ...(extras.silent ? { silent: true as const } : {}),
    ...(extras.spa ? { spa: true as const } : {}),
    ...(extras.added ? { added: extras.added } : {}),
    ...(config.named ? { provider: settings.name } : {}),
  }
  return redirect(location.href, [...transactions.evict(cookies), transactions.write(transaction)])
}
