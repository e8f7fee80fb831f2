import * as oauth from 'oauth4webapi'
import type { OAuthConfig, ProviderSettings } from '../config/resolved.js'
import { isLoopback } from '../config/checks.js'
import { isFapi2, isJwtResponseMode } from '../config/enums.js'
import type { FullLogger } from '../config/options.js'
import { CodegrantError } from '../errors.js'
import { createDpopRuntime, createDpopState, type DpopRuntime } from './dpop.js'
import { FAPI2_ALGORITHMS } from '../config/profile.js'
import { createClientAuth, type EndpointAuth } from './client-auth.js'
import { discover, explicitIssuer } from './discovery.js'
import { fetchOptions, type FetchOptions } from './http.js'
import { createRequestSigner, type SignRequest } from './request-object.js'
import { createJwksKeeper, type JwksKeeper } from './jwks.js'
import { withTokenQuirks } from './token-quirks.js'
import { withTenantIssuer } from './tenant-issuer.js'
import { ATTR, traced } from '../telemetry.js'

/** Everything the flows need to talk to the provider, resolved once and cached. */
export interface Provider {
  /** This provider's settings. */
  settings: ProviderSettings
  as: oauth.AuthorizationServer
  client: oauth.Client
  /** Client authentication at the token endpoint. */
  clientAuth: oauth.ClientAuth
  /** Client authentication at each endpoint (a client assertion's `aud` depends on it). */
  endpointAuth: EndpointAuth
  http: FetchOptions
  /** With `OAUTH_DPOP`: key pairs, proofs and nonces. */
  dpop: DpopRuntime | undefined
  /** Its signing keys, shared by ID tokens and logout tokens (`http[oauth.jwksCache]` is their cache). */
  jwks: JwksKeeper
  /** With `OAUTH_REQUEST_OBJECT`: the authorization request as a signed request object (JAR). */
  signRequest: SignRequest | undefined
}

const METADATA_TTL_MS = 10 * 60 * 1000

/**
 * Returns the provider metadata: from discovery (cached for 10 minutes, one request in flight
 * however many logins start at once, failures never cached) or from explicit endpoints.
 *
 * @throws {CodegrantError} `codegrant/provider_unavailable` when metadata cannot be had.
 */
export function createProviderResolver(config: OAuthConfig, settings: ProviderSettings): () => Promise<Provider> {
  const fapi2 = isFapi2(config.profile)
  const jarm = isJwtResponseMode(config.responseMode)
  const dpopState = settings.dpop ? createDpopState() : undefined
  const tenant = settings.preset?.tenantIssuer
  const jwks = createJwksKeeper()
  const base = { ...withTokenQuirks(fetchOptions(settings, config.httpTimeout), settings.preset?.token ?? {}), [oauth.jwksCache]: jwks.cache }
  let runtime: DpopRuntime | undefined
  // every answer from the provider may carry a DPoP nonce for its origin
  const http: FetchOptions = !dpopState ? base : {
    ...base,
    [oauth.customFetch]: async (url, init) => {
      const response = await base[oauth.customFetch](url, init)
      runtime?.remember(url, response)
      return response
    },
  }
  let clientAuth: Promise<(as: oauth.AuthorizationServer) => EndpointAuth> | undefined
  let requestSigner: Promise<SignRequest | undefined> | undefined
  let cached: { provider: Promise<Provider>; until: number } | undefined
  // the last metadata that loaded: served when a refetch fails (stale-if-error)
  let lastGood: Provider | undefined

  const load = async (): Promise<Provider> => {
    clientAuth ??= createClientAuth(settings, fapi2).catch((error: unknown) => {
      clientAuth = undefined
      throw error
    })
    requestSigner ??= createRequestSigner(settings, fapi2).catch((error: unknown) => {
      requestSigner = undefined
      throw error
    })
    const [discovered, authFor, signRequest] = await Promise.all([loadMetadata(settings, config.logger, http), clientAuth, requestSigner])
    // FAPI 2.0 §5.3.3.2: the client requires `iss` in the authorization response (RFC 9207)
    const fapi = fapi2 ? { ...discovered, authorization_response_iss_parameter_supported: true } : discovered
    // Entra ID's tenant-independent issuer: each ID token's `iss` is checked against its own tenant
    const as = tenant ? withTenantIssuer(config, fapi, tenant) : fapi
    const endpointAuth = authFor(as)
    const client: oauth.Client = {
      client_id: settings.clientId,
      id_token_signed_response_alg: settings.idTokenSigningAlg ?? signingAlgorithm(as.id_token_signing_alg_values_supported, fapi2),
      // JARM: the one algorithm its responses may be signed with (oauth4webapi refuses any other)
      ...(jarm ? { authorization_signed_response_alg: settings.authorizationSigningAlg ?? signingAlgorithm(as.authorization_signing_alg_values_supported, fapi2) } : {}),
      ...(settings.userinfoSigningAlg ? { userinfo_signed_response_alg: settings.userinfoSigningAlg } : {}),
      // RFC 8705 §5: with a client certificate, the token, PAR, revocation and userinfo calls go to
      // the provider's mutual-TLS aliases where it has them (hosts that ask for the certificate)
      ...(settings.clientCertificate ? { use_mtls_endpoint_aliases: true } : {}),
      [oauth.clockTolerance]: config.clockTolerance,
    }
    if (!lastGood) metadataNotices(config, as)
    if (settings.par && !as.pushed_authorization_request_endpoint && !fapi2) {
      config.logger.warn('OAUTH_PAR is on but the provider has no pushed_authorization_request_endpoint: authorization requests go through the browser')
    }
    const dpop = dpopState && (runtime = createDpopRuntime(as, client, config, dpopState))
    return (lastGood = { settings, as, client, clientAuth: endpointAuth.token_endpoint, endpointAuth, http, dpop, jwks, signRequest })
  }

  return () => {
    const now = Date.now()
    if (cached && cached.until > now) return cached.provider
    const stale = lastGood
    const provider = stale ? load().catch(() => stale) : load()
    const entry = { provider, until: Number.POSITIVE_INFINITY }
    cached = entry
    provider.then(
      (loaded) => { entry.until = Date.now() + (loaded === stale ? STALE_RETRY_MS : METADATA_TTL_MS) },
      () => { if (cached === entry) cached = undefined },
    )
    return provider
  }
}

/** While a refetch fails, the stale metadata is served and a refetch tried this often. */
const STALE_RETRY_MS = 30 * 1000

/**
 * The algorithm to pin for ID tokens or JARM responses when none is configured, from what the
 * provider says it signs them with (`supported`): RS256 (OpenID Connect's and JARM's default for
 * clients that registered none) unless the provider does not sign with it; never `none` or HS*.
 */
function signingAlgorithm(supported: readonly string[] | undefined, fapi2: boolean): string {
  // FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA; the provider's first of those (PS256 when it does not say)
  if (fapi2) return (Array.isArray(supported) ? FAPI2_ALGORITHMS.find((alg) => supported.includes(alg)) : undefined) ?? 'PS256'
  if (!Array.isArray(supported) || supported.includes('RS256')) return 'RS256'
  return supported.find((alg) => typeof alg === 'string' && alg !== 'none' && !/^HS/i.test(alg)) ?? 'RS256'
}

async function loadMetadata(settings: ProviderSettings, logger: FullLogger, http: FetchOptions): Promise<oauth.AuthorizationServer> {
  const explicit = withoutUndefined({
    authorization_endpoint: settings.endpoints.authorization,
    token_endpoint: settings.endpoints.token,
    userinfo_endpoint: settings.endpoints.userinfo,
    revocation_endpoint: settings.endpoints.revocation,
    end_session_endpoint: settings.endpoints.endSession,
    jwks_uri: settings.endpoints.jwks,
  })
  let as: oauth.AuthorizationServer
  if (settings.explicitEndpoints) {
    as = { issuer: explicitIssuer(settings), ...explicit }
  } else {
    as = { ...(await traced('codegrant.discovery', { [ATTR.provider]: settings.name }, () => discover(settings, logger, http))), ...explicit }
  }
  assertEndpoint(as.authorization_endpoint, 'authorization_endpoint')
  assertEndpoint(as.token_endpoint, 'token_endpoint')
  for (const name of OPTIONAL_ENDPOINTS) if (as[name] !== undefined) assertEndpoint(as[name], name)
  return as
}

/**
 * Plain http is allowed for a loopback provider (the dev provider) only on loopback: discovery
 * must not point codegrant at a plain-http host elsewhere.
 */
const OPTIONAL_ENDPOINTS = ['jwks_uri', 'userinfo_endpoint', 'revocation_endpoint', 'end_session_endpoint', 'pushed_authorization_request_endpoint'] as const

/** oauth4webapi never dereferences the authorization endpoint, so its scheme is checked here. */
function assertEndpoint(value: unknown, name: string): void {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url)))) {
    throw new CodegrantError('codegrant/provider_unavailable', `The provider's ${name} is missing or not https; sign-in cannot start.`)
  }
}

function withoutUndefined<T extends Record<string, string | undefined>>(value: T): Record<string, string> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Record<string, string>
}

/** Said once, when the metadata first loads: what the provider does not offer that the user may expect. */
function metadataNotices(config: OAuthConfig, as: oauth.AuthorizationServer): void {
  if (!as.revocation_endpoint) {
    config.logger.info('the provider advertises no revocation_endpoint: logout ends the local session but revokes no token; set OAUTH_REVOCATION_ENDPOINT if the provider has one')
  }
}
