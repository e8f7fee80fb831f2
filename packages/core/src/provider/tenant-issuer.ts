/**
 * Multi-tenant issuers, validated the way Microsoft documents for Entra ID ("Validate the
 * issuer", Microsoft identity platform access/ID token docs):
 *
 * - the tenant-independent discovery document (`common`, `organizations`) names its issuer as a
 *   template, `https://login.microsoftonline.com/{tenantid}/v2.0`;
 * - an ID token's `tid` must be a tenant id (a GUID), and its `iss` must be exactly the template
 *   with that `tid` in it: the `iss` check stays on, against the issuer of the user's tenant;
 * - the tenant must be one the configured tenant admits (`organizations` refuses the consumer
 *   tenant, `consumers` admits only it, a tenant id admits only itself);
 * - the signing key's own `issuer` (Entra's JWKS lists one per key) must be that template, or
 *   exactly the token's `iss`.
 *
 * oauth4webapi keeps the comparison: it asks the authorization server object for the expected
 * issuer of each ID token through its `_expectedIssuer` hook (the mechanism Auth.js uses for
 * Entra ID), and compares `iss` with the answer itself, on login and on every refresh.
 */
import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import { memberOf } from '../json.js'
import type { FetchOptions } from './http.js'
import type { TenantIssuer } from '../config/presets.js'

/** oauth4webapi's hook for an issuer that depends on the token (exported, not in its typings). */
const EXPECTED_ISSUER = exportedSymbol(oauth, '_expectedIssuer')

/** A module's export that its typings do not declare, if it is a symbol. */
function exportedSymbol(module: object, name: string): symbol | undefined {
  const value: unknown = Reflect.get(module, name)
  return typeof value === 'symbol' ? value : undefined
}

/** The issuer the discovery document must name: the template itself, or one tenant's issuer. */
export function discoveredIssuer(tenant: TenantIssuer): URL {
  return new URL(tenant.only === undefined ? tenant.template : tenant.template.replace(tenant.placeholder, tenant.only))
}

/**
 * The metadata with the per-token issuer hook installed. Without the hook (another oauth4webapi)
 * every token is compared with the template itself and refused: closed, never open.
 */
export function withTenantIssuer(config: OAuthConfig, as: oauth.AuthorizationServer, tenant: TenantIssuer): oauth.AuthorizationServer {
  if (!EXPECTED_ISSUER) {
    config.logger.error('this version of oauth4webapi has no per-token issuer hook: multi-tenant ID tokens will all be refused; set OAUTH_TENANT to your tenant id')
    return as
  }
  return { ...as, [EXPECTED_ISSUER]: (result: { claims: Record<string, unknown> }) => expectedIssuer(tenant, result.claims) }
}

/**
 * The `iss` an ID token must carry: the template with its own tenant claim in it.
 *
 * @throws {CodegrantError} `codegrant/id_token_invalid` when the tenant claim is missing, not a
 *   tenant id, or a tenant the configuration does not admit.
 */
export function expectedIssuer(tenant: TenantIssuer, claims: Readonly<Record<string, unknown>>): string {
  const tid = claims[tenant.claim]
  if (typeof tid !== 'string' || !new RegExp(tenant.pattern).test(tid)) {
    throw new CodegrantError('codegrant/id_token_invalid', `The provider's ID token was rejected (its "${tenant.claim}" claim is not a tenant id).`)
  }
  if ((tenant.only !== undefined && tid !== tenant.only) || tenant.except.includes(tid)) {
    throw new CodegrantError('codegrant/id_token_invalid', `Accounts of tenant ${tid} cannot sign in to this app (OAUTH_TENANT admits ${tenant.only ?? `every tenant but ${tenant.except.join(', ')}`}).`)
  }
  return tenant.template.replace(tenant.placeholder, tid)
}

/** True when `iss` is the issuer of a tenant this configuration admits (the template with a tenant id in it). */
export function isTenantIssuer(tenant: TenantIssuer, iss: string): boolean {
  const [before, after] = tenant.template.split(tenant.placeholder) as [string, string | undefined]
  if (after === undefined || !iss.startsWith(before) || !iss.endsWith(after) || iss.length <= before.length + after.length) return false
  try {
    return expectedIssuer(tenant, { [tenant.claim]: iss.slice(before.length, iss.length - after.length) }) === iss
  } catch {
    return false
  }
}

/**
 * After oauth4webapi verified the ID token's signature: the key it used must be one the
 * token's issuer may sign with (its `issuer` member, where the JWKS gives one).
 *
 * @throws {CodegrantError} `codegrant/id_token_invalid`
 */
export function assertKeyIssuer(tenant: TenantIssuer, http: FetchOptions, idToken: string): void {
  const [header, payload] = idToken.split('.', 2).map((part): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')))
  const keys = http[oauth.jwksCache]?.jwks?.keys ?? []
  const keyIssuer = memberOf(keys.find((candidate) => candidate.kid === memberOf(header, 'kid')), 'issuer')
  if (keyIssuer === undefined) return
  const iss = memberOf(payload, 'iss')
  const tid = memberOf(payload, tenant.claim)
  const allowed = keyIssuer === iss || (typeof keyIssuer === 'string' && typeof tid === 'string' && keyIssuer.replace(tenant.placeholder, tid) === iss && keyIssuer.includes(tenant.placeholder))
  if (!allowed) {
    throw new CodegrantError('codegrant/id_token_invalid', 'The provider\'s ID token was rejected (it is signed with a key of another issuer).')
  }
}
