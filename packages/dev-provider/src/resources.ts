import type { ProviderErrors } from './load-provider.js';
import type { OidcKoaContext, UnknownObject } from './oidc-types.js';

/**
 * An API (a resource server) the dev provider issues access tokens for, named by its resource
 * indicator (RFC 8707), e.g. `'http://127.0.0.1:4001'`. Its tokens are JWTs (RFC 9068) signed
 * with the provider's keys, so the API checks them against the provider's JWKS.
 */
export interface DevResource {
  /** The scopes the API defines, space-separated, e.g. `'orders:read orders:write'`. */
  scope: string;
  /** The `aud` of its tokens (for APIs known by a name, as Auth0's `audience`); default: the resource indicator. */
  audience?: string;
  /** Seconds; default: the user's or the provider's access token lifetime. */
  accessTokenTtl?: number;
}

/** The APIs of one dev provider, by resource indicator; tests and the demo add theirs at run time. */
export type DevResources = Map<string, DevResource>;

/** Scopes of the provider itself: an API that defined one would mix the user's identity into its tokens. */
const PROVIDER_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email']);

/**
 * The resource's settings, checked: an absolute URI without fragment (RFC 8707 §2), a scope of
 * its own. Throws a TypeError naming the problem.
 */
export function checkResource(indicator: string, resource: DevResource): DevResource {
  const problem = resourceProblem(indicator, resource);
  if (problem) throw new TypeError(`codegrant dev provider: the resource "${indicator}" ${problem}`);
  return { ...resource, scope: resource.scope.split(' ').filter(Boolean).join(' ') };
}

function resourceProblem(indicator: string, resource: DevResource): string | undefined {
  if (!URL.parse(indicator)) return 'must be an absolute URI';
  if (indicator.includes('#')) return 'must not contain a fragment';
  if (typeof resource?.scope !== 'string' || !resource.scope.trim()) return 'needs a scope (space-separated, e.g. "orders:read orders:write")';
  if (resource.scope.split(' ').some((scope) => PROVIDER_SCOPES.has(scope))) {
    return `must not use the provider's own scopes (${[...PROVIDER_SCOPES].join(', ')})`;
  }
  if (resource.audience !== undefined && (typeof resource.audience !== 'string' || !resource.audience)) return 'has an empty audience';
  if (resource.accessTokenTtl !== undefined && (!Number.isInteger(resource.accessTokenTtl) || resource.accessTokenTtl < 1)) {
    return 'needs a whole number of seconds >= 1 as accessTokenTtl';
  }
  return undefined;
}

/** The resource whose tokens carry `audience` as `aud` (its own, or its indicator). */
export function findByAudience(resources: DevResources, audience: string): [string, DevResource] | undefined {
  return [...resources].find(([indicator, resource]) => (resource.audience ?? indicator) === audience);
}

/** What oidc-provider needs to know of a resource server (`getResourceServerInfo`). */
export function resourceServerInfo(indicator: string, resource: DevResource): UnknownObject {
  return {
    scope: resource.scope,
    // the registered spelling, not the client's: the API compares `aud` exactly
    audience: resource.audience ?? indicator,
    accessTokenFormat: 'jwt',
    ...(resource.accessTokenTtl ? { accessTokenTTL: resource.accessTokenTtl } : {}),
  };
}

/**
 * oidc-provider's `resourceIndicators` feature over `resources` (RFC 8707). A client that names a
 * resource at the authorization endpoint may then ask for a token for it, at the code exchange or
 * with a refresh token (§2.2). A client that names none gets what it got before: an opaque access
 * token for userinfo (oidc-provider's `useGrantedResource` stays false, so a login that asks for
 * `openid` gets that token unless the token request names a resource). Resources are matched
 * exactly as registered.
 */
export function resourceIndicators(resources: DevResources, errors: ProviderErrors): UnknownObject {
  return {
    enabled: true,
    getResourceServerInfo: async (_ctx: OidcKoaContext, indicator: string) => {
      const resource = resources.get(indicator);
      if (!resource) throw new errors.InvalidTarget!(`this provider knows no resource "${indicator}"`);
      return resourceServerInfo(indicator, resource);
    },
  };
}
