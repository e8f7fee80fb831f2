import { DEV_ACR_VALUES } from './acr.js';
import type { ProviderErrors } from './load-provider.js';
import type { MemoryStore } from './memory-adapter.js';
import type {
  OidcClient,
  OidcConfiguration,
  OidcContext,
  OidcGrant,
  OidcKoaContext,
  OidcModel,
  UnknownObject,
} from './oidc-types.js';
import { errorPage, logoutPage, postLogoutPage, type Page } from './pages.js';
import { isLoopbackHost } from './loopback.js';
import { resourceIndicators, type DevResources } from './resources.js';
import { subjectClientsMetadata } from './token-exchange.js';
import { withFrontchannelMetadata } from './frontchannel.js';
import { findAccount, type AddedUsers, type ClaimOverrides } from './users.js';

/** A client registered with the dev provider (OAuth 2.0 dynamic registration metadata names). */
export interface DevClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'none' | 'private_key_jwt' | 'tls_client_auth' | 'self_signed_tls_client_auth';
  response_types?: string[];
  grant_types?: string[];
  [metadata: string]: unknown;
}

export interface ConfigurationInput {
  clients: DevClient[];
  accessTokenTtl: number;
  idTokenTtl: number;
  jwks: { keys: UnknownObject[] };
  cookieKeys: string[];
  store: MemoryStore;
  overrides: ClaimOverrides;
  /** Users added at run time (tests), by sub. */
  added: AddedUsers;
  /** The APIs tokens are issued for (RFC 8707), by resource indicator; more are added at run time. */
  resources: DevResources;
  /** More claim names released with the `profile` scope (oidc-provider releases only listed claims). */
  profileClaims?: string[];
  /** Which `aud` a client assertion must carry, as one string (default: any oidc-provider accepts). */
  clientAssertionAudience?: 'issuer' | 'endpoint';
  errors: ProviderErrors;
  /** Act as a FAPI 2.0 Security Profile provider (oidc-provider's `fapi` feature, profile 2.0). */
  fapi2?: boolean;
  /** Require DPoP nonces (RFC 9449 §8) at the token endpoint and at userinfo. */
  dpopNonceSecret?: Buffer;
  /** False: no DPoP support (proofs are ignored, tokens are Bearer). */
  dpop?: boolean;
  /** The interaction policy (oidc-provider's, plus the `acr_values` check of acr.ts). */
  policy: unknown;
  /** Mutual TLS (RFC 8705): client authentication by certificate and certificate-bound tokens (mtls.ts). */
  mtls?: UnknownObject;
}

const DAY = 24 * 60 * 60;

export const DEFAULT_GRANT_TYPES = ['authorization_code', 'refresh_token'];

/** The oidc-provider configuration of a dev provider. */
export function buildConfiguration(input: ConfigurationInput): OidcConfiguration {
  return {
    adapter: (modelName) => input.store.adapterFor(modelName),
    clients: input.clients.map(toClientMetadata),
    clientDefaults: {
      grant_types: DEFAULT_GRANT_TYPES,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      // FAPI 2.0 allows PS256, ES256 and EdDSA only
      id_token_signed_response_alg: input.fapi2 ? 'ES256' : 'RS256',
    },
    jwks: input.jwks,
    // No `secure` flag here on purpose: oidc-provider adds it by itself when the
    // request is https, and the dev provider serves plain http on loopback.
    cookies: {
      keys: input.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // The authorization code flow only: no implicit or hybrid response types.
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      // session_expiry (OpenID IPSIE SL1): when the RP's session must end; in the ID token of a user
      // whose claims carry it (setExtraClaims / addUser), for tests of the provider's session end
      openid: ['sub', 'session_expiry'],
      profile: ['name', 'preferred_username', 'groups', ...(input.profileClaims ?? [])],
      email: ['email', 'email_verified'],
    },
    // Profile claims (groups above all) go into the ID token too, so apps can
    // authorize on them without calling userinfo.
    conformIdTokenClaims: false,
    // Provider and clients share one clock here. With the default 15 s
    // tolerance an access token would still be accepted 15 s after its
    // expires_in, which makes expiry and refresh untestable.
    clockTolerance: 0,
    findAccount: async (_ctx, sub) => findAccount(sub, input.overrides, input.added),
    loadExistingGrant: (ctx) => loadExistingGrant(ctx, input.added),
    extraClientMetadata: withFrontchannelMetadata(subjectClientsMetadata(input.errors), input.errors),
    // Refresh tokens for every client allowed the grant, without requiring the
    // offline_access scope (and with it prompt=consent) as oidc-provider does by default.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    pkce: { required: () => true },
    ttl: {
      // an API, or else an added user, may have its own access token lifetime
      AccessToken: (_ctx, token) =>
        token.resourceServer?.accessTokenTTL ?? input.added.get(token.accountId ?? '')?.accessTokenTtl ?? input.accessTokenTtl,
      IdToken: input.idTokenTtl,
      AuthorizationCode: 60,
      Interaction: 60 * 60,
      RefreshToken: 7 * DAY,
      Grant: 7 * DAY,
      Session: 7 * DAY,
      ClientCredentials: 10 * 60,
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      // signed userinfo responses for clients registered with userinfo_signed_response_alg
      jwtUserinfo: { enabled: true },
      revocation: { enabled: true, allowedPolicy: revocationAllowed },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      backchannelLogout: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      // signed request objects (JAR, RFC 9101), required of clients registered with
      // require_signed_request_object; and JWT-secured authorization responses (JARM,
      // response_mode jwt, query.jwt, form_post.jwt) signed with authorization_signed_response_alg
      requestObjects: { enabled: true },
      jwtResponseModes: { enabled: true },
      dPoP: input.dpop === false ? { enabled: false } : input.dpopNonceSecret
        ? { enabled: true, nonceSecret: input.dpopNonceSecret, requireNonce: () => true }
        : { enabled: true },
      ...(input.fapi2 ? { fapi: { enabled: true, profile: '2.0' } } : {}),
      ...(input.mtls ? { mTLS: input.mtls } : {}),
      // JWT access tokens for the registered APIs; for userinfo when no resource is named
      resourceIndicators: resourceIndicators(input.resources, input.errors),
    },
    // oidc-provider's own list, and RFC 8705's two methods when mutual TLS is on
    clientAuthMethods: ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none', ...(input.mtls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : [])],
    clientBasedCORS,
    renderError,
    fetch: loopbackFetch,
    acrValues: [...DEV_ACR_VALUES],
    extraTokenClaims: authenticationClaims,
    interactions: { policy: input.policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ...(input.clientAssertionAudience ? { assertJwtClientAuthClaimsAndHeader: requireAssertionAudience(input.clientAssertionAudience, input.errors) } : {}),
  };
}

/**
 * Accepts a client assertion only when its `aud` is one string: the issuer, or the URL of the
 * endpoint it was sent to (as some providers do, e.g. glewlwyd); oidc-provider alone accepts
 * either, and arrays too.
 */
function requireAssertionAudience(kind: 'issuer' | 'endpoint', errors: ProviderErrors) {
  return async (ctx: OidcKoaContext, claims: UnknownObject): Promise<void> => {
    const oidc = ctx.oidc!;
    const expected = kind === 'issuer' ? oidc.provider.issuer : oidc.urlFor(oidc.route!);
    if (claims.aud !== expected) {
      throw new errors.InvalidClientAuth!(`this provider accepts only ${kind === 'issuer' ? 'its issuer identifier' : 'the endpoint URL'} as the client assertion audience`);
    }
  };
}

/** Our defaults (code flow with refresh, a secret means client_secret_basic) under the given metadata. */
export function toClientMetadata(client: DevClient): UnknownObject {
  const authMethod = client.token_endpoint_auth_method ?? (client.client_secret === undefined ? 'none' : 'client_secret_basic');
  return {
    grant_types: DEFAULT_GRANT_TYPES,
    response_types: ['code'],
    ...client,
    token_endpoint_auth_method: authMethod,
  };
}

/**
 * Consent is automatic: dev clients are first-party. The grant of the session
 * (or a new one) is extended with whatever OIDC scopes and claims are asked
 * for, so the login page is the only interaction.
 */
async function loadExistingGrant(ctx: OidcKoaContext, added: AddedUsers): Promise<OidcGrant | undefined> {
  const oidc = ctx.oidc;
  if (!oidc?.client || !oidc.account) return undefined;
  const { client, account, provider } = oidc;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
  // an added user with `scopes` is granted only those of the requested ones
  const allowed = added.get(account.accountId)?.scopes;
  const requested = [...oidc.requestParamOIDCScopes];
  const granted = allowed ? requested.filter((scope) => scope === 'openid' || allowed.includes(scope)) : requested;
  grant.addOIDCScope(granted.join(' '));
  // rejected, not missing: no consent prompt grants them after all
  const refused = requested.filter((scope) => !granted.includes(scope));
  if (refused.length) grant.rejectOIDCScope(refused.join(' '));
  if (oidc.requestParamClaims.size) grant.addOIDCClaims(oidc.requestParamClaims);
  grantResourceScopes(grant, oidc.resourceServers, [...oidc.requestParamScopes], allowed);
  await grant.save();
  return grant;
}

/**
 * For each API named by the request (RFC 8707), the requested scopes it defines, as for OIDC
 * scopes above: all of them, or only those an added user with `scopes` may have (the rest
 * rejected, so no consent prompt comes up for them).
 */
function grantResourceScopes(grant: OidcGrant, servers: OidcContext['resourceServers'], requested: string[], allowed: string[] | undefined): void {
  for (const [indicator, server] of Object.entries(servers)) {
    const offered = requested.filter((scope) => server.scopes.has(scope));
    const granted = allowed ? offered.filter((scope) => allowed.includes(scope)) : offered;
    const refused = offered.filter((scope) => !granted.includes(scope));
    if (granted.length) grant.addResourceScope(indicator, granted.join(' '));
    if (refused.length) grant.rejectResourceScope(indicator, refused.join(' '));
  }
}

/**
 * RFC 9068 §2.2.1: an access token carries the `auth_time` and `acr` of the authentication it was
 * issued for (from the code or refresh token of its grant), so that an API can ask for a step-up
 * (RFC 9470 `insufficient_user_authentication`) as real APIs do.
 */
async function authenticationClaims(ctx: OidcKoaContext, token: OidcModel): Promise<UnknownObject | undefined> {
  if (token.kind !== 'AccessToken') return undefined;
  const entities = ctx.oidc?.entities ?? {};
  const source = (entities.RefreshToken ?? entities.AuthorizationCode) as { authTime?: unknown; acr?: unknown } | undefined;
  const claims: UnknownObject = {};
  if (typeof source?.authTime === 'number') claims.auth_time = source.authTime;
  if (typeof source?.acr === 'string') claims.acr = source.acr;
  return Object.keys(claims).length > 0 ? claims : undefined;
}

/** Clients may revoke their own tokens; anything else is ignored (200, token untouched, RFC 7009). */
async function revocationAllowed(_ctx: OidcKoaContext, client: OidcClient, token: OidcModel): Promise<boolean> {
  return token.clientId === client.clientId;
}

/** Browser-based calls are allowed from the origins of the client's own redirect URIs. */
function clientBasedCORS(_ctx: OidcKoaContext, origin: string, client: OidcClient): boolean {
  if (origin === 'null') return false;
  return client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin);
}

function sendPage(ctx: OidcKoaContext, page: Page): void {
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', page.csp);
  ctx.body = page.html;
}

async function logoutSource(ctx: OidcKoaContext, form: string): Promise<void> {
  sendPage(ctx, logoutPage(form));
}

async function postLogoutSuccessSource(ctx: OidcKoaContext): Promise<void> {
  sendPage(ctx, postLogoutPage(ctx.oidc?.client?.clientId));
}

async function renderError(ctx: OidcKoaContext, out: Record<string, string>): Promise<void> {
  sendPage(ctx, errorPage(out));
}

/**
 * oidc-provider's outgoing requests (back-channel logout tokens) refuse special-use addresses,
 * loopback included (SSRF protection): the dev provider and the apps it serves all live on
 * loopback, so there it lets them through; anything else keeps the protection.
 */
function loopbackFetch(url: string | URL, options: RequestInit & { dispatcher?: unknown }): Promise<Response> {
  if (!isLoopbackHost(new URL(url).hostname)) return fetch(url, options);
  const { dispatcher: _ssrfGuard, ...rest } = options;
  return fetch(url, rest);
}
