/**
 * Presets: what codegrant knows about the big providers, as plain data. A preset fills the
 * settings a user left unset (issuer or endpoints, scope, client authentication) and adds what
 * no setting describes (how to obtain the user from a non-OIDC API, token endpoint quirks, a
 * multi-tenant issuer). Everything the user sets, in options or the environment, wins.
 *
 * `applyPreset` (apply-preset.ts) applies one preset to one provider's settings; it is all that
 * resolving the configuration calls (once per provider).
 */
import type { ClientAuthMethod, PresetName } from './enums.js'

export type { PresetName }

/**
 * Where the user comes from when there is no ID token: a JSON API answering `GET` with the
 * access token (GitHub's `/user`), mapped to standard claims.
 */
export interface ApiUserSource {
  /** Extra request headers (GitHub: its media type and API version). */
  readonly headers: Readonly<Record<string, string>>
  /**
   * Each claim from the first of these members that is set (not null, not empty); numbers
   * become strings for `sub`. Only mapped claims are kept: the session stays small.
   */
  readonly claims: Readonly<Record<string, readonly string[]>>
  /**
   * The user's primary verified address, from a list of `{ email, primary, verified }` at this
   * path below the user URL (GitHub: `/user/emails`), fetched only when the token's scope holds
   * one of `scopes`. It becomes `email` with `email_verified: true`.
   */
  readonly emails?: Readonly<{ path: string; scopes: readonly string[] }>
}

/** What a token endpoint does that RFC 6749 does not. */
export interface TokenQuirks {
  /** Errors come with HTTP 200 and an `error` member (GitHub): treated as the 400 they are. */
  readonly errorsWithStatus200?: boolean
  /** The provider's own error codes and the RFC 6749 ones they mean (`bad_verification_code` → `invalid_grant`). */
  readonly errorAliases?: Readonly<Record<string, string>>
  /** `scope` in the answer is comma-separated (GitHub): made space-separated. */
  readonly commaScope?: boolean
  /** The answer may be form-encoded (GitHub without `Accept: application/json`): read as JSON. */
  readonly formEncoded?: boolean
}

/**
 * Multi-tenant issuers (Microsoft Entra ID): the discovery document names the issuer as a
 * template, and each ID token's `iss` is that template with the token's tenant claim in it.
 */
export interface TenantIssuerSpec {
  /**
   * The placeholder in the issuer template, e.g. `{tenantid}`; the template is the preset's
   * issuer (or OAUTH_ISSUER) with the placeholder for the tenant: `https://login.microsoftonline.com/{tenantid}/v2.0`.
   */
  readonly placeholder: string
  /** The ID token claim naming the tenant, e.g. `tid`. */
  readonly claim: string
  /** What a tenant id looks like (a GUID). */
  readonly pattern: string
  /** Tenant names that stand for several tenants, and which tenant ids each admits. */
  readonly groups: Readonly<Record<string, Readonly<{ only?: string; except?: readonly string[] }>>>
}

export interface Preset {
  /** For messages and the README. */
  readonly title: string
  /**
   * The issuer (discovery happens there), or a template with `{tenant}` filled from the
   * `tenant` setting. Absent: OAUTH_ISSUER must be given, shaped like `issuerExample`.
   */
  readonly issuer?: string
  /** What OAUTH_ISSUER looks like for this provider, when the preset cannot know it. */
  readonly issuerExample?: string
  /** A pattern OAUTH_ISSUER must match (Keycloak: a realm URL). */
  readonly issuerPattern?: string
  /** The issuer ends with a slash (Auth0): one is added when missing, since it counts. */
  readonly issuerTrailingSlash?: boolean
  /** Explicit endpoints, for a provider without discovery (GitHub). */
  readonly endpoints?: Readonly<{ authorization: string; token: string; userinfo?: string; revocation?: string; endSession?: string; jwks?: string }>
  /** Default scope. */
  readonly scope: string
  readonly clientAuthMethod?: ClientAuthMethod
  /** The `tenant` setting: its default and the multi-tenant issuer it implies. */
  readonly tenant?: Readonly<{ default: string; issuer: TenantIssuerSpec }>
  /** Where the user comes from: the ID token (OpenID Connect), or an API (GitHub). */
  readonly user: Readonly<{ from: 'id_token' }> | Readonly<{ from: 'api' } & ApiUserSource>
  readonly token?: TokenQuirks
  /** Documentation: how logout ends the session at the provider. */
  readonly logout: 'end_session_endpoint' | 'local'
}

const ENTRA_CONSUMERS = '9188040d-6c67-4c5b-b112-36a304b66dad'

/** Every preset. Spread one to change a field in code: `preset: { ...PRESETS.github, scope: 'read:user' }`. */
export const PRESETS: Readonly<Record<PresetName, Preset>> = Object.freeze({
  github: {
    title: 'GitHub',
    // OAuth 2.0 only: no discovery, no ID token, no RFC 7009 revocation, no end-session
    endpoints: {
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      userinfo: 'https://api.github.com/user',
    },
    scope: 'read:user user:email',
    clientAuthMethod: 'client_secret_post',
    user: {
      from: 'api',
      headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
      claims: { sub: ['id'], name: ['name', 'login'], preferred_username: ['login'], picture: ['avatar_url'], profile: ['html_url'] },
      emails: { path: 'emails', scopes: ['user:email', 'user'] },
    },
    token: {
      errorsWithStatus200: true,
      errorAliases: { bad_verification_code: 'invalid_grant', bad_refresh_token: 'invalid_grant', incorrect_client_credentials: 'invalid_client', redirect_uri_mismatch: 'invalid_request' },
      commaScope: true,
      formEncoded: true,
    },
    logout: 'local',
  },
  google: {
    title: 'Google',
    issuer: 'https://accounts.google.com',
    scope: 'openid profile email',
    user: { from: 'id_token' },
    logout: 'local',
  },
  microsoft: {
    title: 'Microsoft Entra ID',
    issuer: 'https://login.microsoftonline.com/{tenant}/v2.0',
    scope: 'openid profile email offline_access',
    tenant: {
      default: 'common',
      issuer: {
        placeholder: '{tenantid}',
        claim: 'tid',
        pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
        groups: {
          common: {},
          organizations: { except: [ENTRA_CONSUMERS] },
          consumers: { only: ENTRA_CONSUMERS },
        },
      },
    },
    user: { from: 'id_token' },
    logout: 'end_session_endpoint',
  },
  gitlab: {
    title: 'GitLab',
    issuer: 'https://gitlab.com',
    scope: 'openid profile email',
    user: { from: 'id_token' },
    logout: 'local',
  },
  auth0: {
    title: 'Auth0',
    issuerExample: 'https://<tenant>.<region>.auth0.com/',
    issuerTrailingSlash: true,
    scope: 'openid profile email offline_access',
    user: { from: 'id_token' },
    logout: 'end_session_endpoint',
  },
  okta: {
    title: 'Okta',
    issuerExample: 'https://<org>.okta.com/oauth2/default',
    scope: 'openid profile email offline_access',
    user: { from: 'id_token' },
    logout: 'end_session_endpoint',
  },
  keycloak: {
    title: 'Keycloak',
    issuerExample: 'https://<host>/realms/<realm>',
    issuerPattern: '/realms/[^/]+$',
    scope: 'openid profile email',
    user: { from: 'id_token' },
    logout: 'end_session_endpoint',
  },
} satisfies Record<PresetName, Preset>)

/** A multi-tenant issuer check for one configured tenant. */
export interface TenantIssuer {
  /** e.g. `https://login.microsoftonline.com/{tenantid}/v2.0` */
  readonly template: string
  readonly placeholder: string
  readonly claim: string
  readonly pattern: string
  /** The one tenant id admitted (a consumers group, or a tenant given by id). */
  readonly only: string | undefined
  /** Tenant ids refused. */
  readonly except: readonly string[]
}

/** What a preset adds beyond the plain settings; kept in the configuration. */
export interface ResolvedPreset {
  readonly name: string
  readonly user: Preset['user']
  readonly token: TokenQuirks
  readonly tenantIssuer: TenantIssuer | undefined
}
