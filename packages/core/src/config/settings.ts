/**
 * The settings table: each setting declared once — its option, its variables, its type and
 * values, whether each provider has its own, its one default and one line of doc. Reading the
 * environment (env.ts), typo warnings (typos.ts), validation (checks.ts, resolve.ts), the README's
 * variable table (test/docs.test.ts) and `codegrant doctor` read it. A leaf: it imports only the
 * enum settings' values (enums.ts); the option types (options.ts) are held to its option names.
 */
import { API_TOKEN_MODES, CLIENT_ASSERTION_AUDS, CLIENT_AUTH_METHODS, PRESET_NAMES, PROFILES, RESPONSE_MODES, SESSION_STORES } from './enums.js'

/** How a setting's value is read and checked. */
export type SettingType = 'string' | 'secret' | 'url' | 'number' | 'boolean' | 'enum' | 'list' | 'params'

/**
 * `app`: one for the app. `provider`: each provider has its own; with several providers its
 * variable carries the provider's name (`OAUTH_GITHUB_CLIENT_ID`). `api`: each API of
 * `OAUTH_APIS` has its own, its variable always carrying the API's name (`OAUTH_ORDERS_URL`).
 */
export type SettingScope = 'app' | 'provider' | 'api'

/** One setting, declared once (`O`: the options it may belong to, the app's and providers' by default). */
export interface Setting<O extends string = SettingOption> {
  readonly option: O
  /** Variables, the `OAUTH_*` name first (express-openid-connect's names after it, as aliases). */
  readonly env: readonly string[]
  readonly type: SettingType
  readonly scope: SettingScope
  /** The values of an `enum`. */
  readonly values?: readonly string[]
  /** The default: what an unset setting resolves to (validation reads it) and what the docs show. */
  readonly default?: string | number | boolean
  /** A default that follows from other settings, in words (the docs show it; resolving computes it). */
  readonly computed?: string
  readonly doc: string
}

type More = Pick<Setting<string>, 'values' | 'default' | 'computed'>

const declare = <const O extends string, const S extends SettingScope>(scope: S, option: O, env: string | readonly string[], type: SettingType, doc: string, more: More = {}) =>
  Object.freeze({ option, env: Object.freeze(typeof env === 'string' ? [env] : [...env]), type, scope, doc, ...more })
const app = <const O extends string>(option: O, env: string | readonly string[], type: SettingType, doc: string, more?: More) => declare('app', option, env, type, doc, more)
const perProvider = <const O extends string>(option: O, env: string | readonly string[], type: SettingType, doc: string, more?: More) => declare('provider', option, env, type, doc, more)

const TABLE = [
  perProvider('preset', 'OAUTH_PRESET', 'enum', 'a provider preset: issuer or endpoints, scope, user mapping as data; any setting overrides it', { values: PRESET_NAMES }),
  perProvider('tenant', 'OAUTH_TENANT', 'string', 'with the microsoft preset: common, organizations, consumers or a tenant id', { computed: 'common' }),
  perProvider('audience', 'OAUTH_AUDIENCE', 'string', 'the audience authorization parameter (Auth0)'),
  perProvider('issuer', ['OAUTH_ISSUER', 'ISSUER_BASE_URL'], 'url', 'issuer URL; metadata from OpenID / RFC 8414 discovery'),
  perProvider('authorizationEndpoint', 'OAUTH_AUTHORIZATION_ENDPOINT', 'url', 'explicit authorization endpoint (with the token endpoint: no discovery)', { computed: 'from discovery' }),
  perProvider('tokenEndpoint', 'OAUTH_TOKEN_ENDPOINT', 'url', 'explicit token endpoint', { computed: 'from discovery' }),
  perProvider('userinfoEndpoint', 'OAUTH_USERINFO_ENDPOINT', 'url', 'explicit userinfo endpoint', { computed: 'from discovery' }),
  perProvider('revocationEndpoint', 'OAUTH_REVOCATION_ENDPOINT', 'url', 'explicit revocation endpoint (RFC 7009)', { computed: 'from discovery' }),
  perProvider('endSessionEndpoint', 'OAUTH_END_SESSION_ENDPOINT', 'url', 'explicit end-session endpoint (RP-Initiated Logout)', { computed: 'from discovery' }),
  perProvider('jwksUri', 'OAUTH_JWKS_URI', 'url', 'explicit JWKS URI (required with explicit endpoints and openid)', { computed: 'from discovery' }),
  perProvider('clientId', ['OAUTH_CLIENT_ID', 'CLIENT_ID'], 'string', 'client id registered at the provider'),
  perProvider('clientSecret', ['OAUTH_CLIENT_SECRET', 'CLIENT_SECRET'], 'secret', 'client secret (for the client_secret_* methods)'),
  perProvider('clientAuthMethod', 'OAUTH_CLIENT_AUTH_METHOD', 'enum', 'client authentication at the token endpoint', { values: CLIENT_AUTH_METHODS, default: 'client_secret_basic' }),
  perProvider('privateKey', 'OAUTH_PRIVATE_KEY', 'secret', 'PEM or JWK private key for private_key_jwt'),
  perProvider('clientCert', 'OAUTH_CLIENT_CERT', 'secret', 'client certificate for mutual TLS (RFC 8705), PEM or a file path: tls_client_auth, self_signed_tls_client_auth, certificate-bound tokens'),
  perProvider('clientCertKey', 'OAUTH_CLIENT_CERT_KEY', 'secret', "the client certificate's private key, PEM or a file path"),
  perProvider('clientCertCa', 'OAUTH_CLIENT_CERT_CA', 'string', "with a client certificate: CA certificates (PEM or a file path) trusted for the provider's and APIs' TLS servers on those connections, besides Node's", { computed: "Node's CAs (and NODE_EXTRA_CA_CERTS)" }),
  perProvider('clientAssertionAud', 'OAUTH_CLIENT_ASSERTION_AUD', 'enum', 'the aud of client assertions (private_key_jwt, client_secret_jwt)', { values: CLIENT_ASSERTION_AUDS, default: 'token_endpoint' }),
  app('baseUrl', ['OAUTH_BASE_URL', 'BASE_URL'], 'url', "the app's external origin, e.g. https://app.example.com", { computed: 'origin of OAUTH_REDIRECT_URI' }),
  perProvider('redirectUri', 'OAUTH_REDIRECT_URI', 'url', 'the callback URL registered at the provider', { computed: 'OAUTH_BASE_URL + /auth/callback (/auth/callback/<name> with several providers)' }),
  perProvider('scope', 'OAUTH_SCOPE', 'string', 'space-separated scopes; without openid: plain OAuth 2.0', { default: 'openid profile email' }),
  app('cookieSecret', ['OAUTH_COOKIE_SECRET', 'SECRET'], 'secret', 'at least 32 characters; a comma list rotates keys'),
  app('sessionStore', 'OAUTH_SESSION_STORE', 'enum', 'where sessions live', { values: SESSION_STORES, default: 'cookie' }),
  app('redisUrl', 'OAUTH_REDIS_URL', 'secret', 'with redis: the server, cluster nodes or sentinels'),
  app('redisCluster', 'OAUTH_REDIS_CLUSTER', 'boolean', 'with redis: the URL names cluster nodes', { default: false }),
  app('redisPrefix', 'OAUTH_REDIS_PREFIX', 'string', 'with redis: prefix of every key', { default: 'codegrant:' }),
  app('redisTimeout', 'OAUTH_REDIS_TIMEOUT', 'number', 'with redis: milliseconds before a call fails (503)', { default: 2000 }),
  app('redisCache', 'OAUTH_REDIS_CACHE', 'boolean', 'with redis: serve session records from memory until Redis invalidates them', { default: true }),
  app('backchannelLogout', 'OAUTH_BACKCHANNEL_LOGOUT', 'boolean', 'serve OpenID Connect Back-Channel Logout', { default: false }),
  perProvider('ssf', 'OAUTH_SSF', 'boolean', "receive OpenID Shared Signals events (CAEP) pushed by the provider's transmitter to POST /auth/ssf (RFC 8935)", { default: false }),
  app('frontchannelLogout', 'OAUTH_FRONTCHANNEL_LOGOUT', 'boolean', 'serve /auth/frontchannel-logout (OpenID Connect Front-Channel Logout)', { default: false }),
  app('sessionMaxAge', 'OAUTH_SESSION_MAX_AGE', 'number', 'absolute session lifetime, seconds', { default: 7 * 24 * 3600 }),
  app('sessionIdleTimeout', 'OAUTH_SESSION_IDLE_TIMEOUT', 'number', 'idle session lifetime, seconds', { default: 24 * 3600 }),
  app('sessionCacheSize', 'OAUTH_SESSION_CACHE_SIZE', 'number', 'session cookies kept opened per process (0: off)', { default: 10_000 }),
  perProvider('postLogoutRedirectUri', 'OAUTH_POST_LOGOUT_REDIRECT_URI', 'url', 'where the provider sends the browser after logout', { computed: 'OAUTH_BASE_URL + /' }),
  perProvider('par', 'OAUTH_PAR', 'boolean', 'pushed authorization requests (RFC 9126)', { default: false }),
  perProvider('dpop', 'OAUTH_DPOP', 'boolean', 'sender-constrained tokens (RFC 9449)', { default: false }),
  perProvider('dpopAllowBearer', 'OAUTH_DPOP_ALLOW_BEARER', 'boolean', 'accept Bearer tokens when DPoP was asked for', { default: false }),
  perProvider('requestObject', 'OAUTH_REQUEST_OBJECT', 'boolean', 'send the authorization request as a request object signed with OAUTH_PRIVATE_KEY (JAR, RFC 9101), through PAR when on', { default: false }),
  app('profile', 'OAUTH_PROFILE', 'enum', 'fapi2: the FAPI 2.0 Security Profile; fapi2-message-signing: the same with signed requests (JAR) and responses (JARM)', { values: PROFILES }),
  app('responseMode', 'OAUTH_RESPONSE_MODE', 'enum', 'how the authorization response comes back; jwt, query.jwt, form_post.jwt: signed by the provider (JARM)', { values: RESPONSE_MODES, default: 'query' }),
  app('httpTimeout', 'OAUTH_HTTP_TIMEOUT', 'number', 'milliseconds for each call to the provider', { default: 5000 }),
  app('refreshSkew', 'OAUTH_REFRESH_SKEW', 'number', 'seconds before expiry at which the access token is refreshed', { default: 30 }),
  perProvider('fetchUserinfo', 'OAUTH_FETCH_USERINFO', 'boolean', 'merge userinfo into the user at login', { default: false }),
  app('keepProtocolClaims', 'OAUTH_KEEP_PROTOCOL_CLAIMS', 'boolean', "keep the ID token's protocol claims (iss, aud, exp, iat, nonce, at_hash, …) in user", { default: false }),
  app('trustProxy', 'OAUTH_TRUST_PROXY', 'boolean', 'diagnostics may name X-Forwarded-Host', { default: false }),
  app('debug', 'OAUTH_DEBUG', 'boolean', 'log every step at debug level (redacted)', { default: false }),
  perProvider('idTokenSigningAlg', 'OAUTH_ID_TOKEN_SIGNING_ALG', 'string', 'the one ID token algorithm accepted', { computed: "RS256 or the provider's first asymmetric one" }),
  perProvider('authorizationSigningAlg', 'OAUTH_AUTHORIZATION_SIGNING_ALG', 'string', 'with a JWT response mode: the one algorithm accepted for the signed authorization response (JARM)', { computed: "RS256 or the provider's first asymmetric one" }),
  perProvider('userinfoSigningAlg', 'OAUTH_USERINFO_SIGNING_ALG', 'string', 'the client is registered for signed userinfo (application/jwt) with this algorithm', { computed: 'JSON userinfo (a signed one is verified too)' }),
  app('clockTolerance', 'OAUTH_CLOCK_TOLERANCE', 'number', 'seconds of clock difference tolerated', { default: 30 }),
  perProvider('apiOrigins', 'OAUTH_API_ORIGINS', 'list', "origins oauth.fetch may send the token to, besides the provider's", { computed: 'provider only' }),
  perProvider('authorizationParams', 'OAUTH_AUTHORIZATION_PARAMS', 'params', 'extra authorization parameters (query-string form)'),
  app('loginQueryParams', 'OAUTH_LOGIN_QUERY_PARAMS', 'list', 'query parameters of /auth/login forwarded to the provider', { computed: 'none' }),
  app('silentLogin', 'OAUTH_SILENT_LOGIN', 'boolean', 'try prompt=none once per browser session', { default: false }),
  app('providers', 'OAUTH_PROVIDERS', 'list', 'several providers: a comma list of names; their settings are prefixed (OAUTH_GITHUB_CLIENT_ID)', { computed: 'one provider' }),
  app('defaultProvider', 'OAUTH_DEFAULT_PROVIDER', 'string', 'with several providers: where /auth/login goes without a chooser page'),
  app('bff', 'OAUTH_BFF', 'boolean', 'serve /bff/session and /bff/silent-login and proxy /bff/<api>/* to the APIs of OAUTH_APIS for single-page apps', { default: false }),
  app('bffHeader', 'OAUTH_BFF_HEADER', 'string', 'with OAUTH_BFF: the anti-forgery header every /bff/ request but GET /bff/session and /bff/silent-login must carry, as Name: value', { default: 'X-CSRF: 1' }),
  app('apis', 'OAUTH_APIS', 'list', "the APIs the app calls on its users' behalf: a comma list of names; their settings are prefixed (OAUTH_ORDERS_URL)", { computed: 'none' }),
] as const

const perApi = <const O extends string>(option: O, env: string, type: SettingType, doc: string, more?: More) => declare('api', option, env, type, doc, more)

/**
 * Each API's settings (`OAUTH_APIS=orders,billing`): declared here with their unprefixed name, read
 * as `OAUTH_<API>_…` (`OAUTH_ORDERS_URL`) into `apis.<name>.<option>`. Apart from {@link SETTINGS}:
 * their options are an API's (`ApiOptions`), not the app's.
 */
const API_TABLE = [
  perApi('url', 'OAUTH_URL', 'url', "the API's base URL (required); its origin joins the oauth.fetch allow-list"),
  perApi('resource', 'OAUTH_RESOURCE', 'url', 'its resource indicator (RFC 8707): the resource parameter of its token requests'),
  perApi('audience', 'OAUTH_AUDIENCE', 'string', 'the audience parameter of its token requests (providers that name APIs so, e.g. Auth0)'),
  perApi('scope', 'OAUTH_SCOPE', 'string', 'space-separated scopes its token is asked with'),
  perApi('token', 'OAUTH_TOKEN', 'enum', "login: the session's own token; resource: a refresh-token grant with the API's resource (RFC 8707); exchange: token exchange (RFC 8693)", {
    values: API_TOKEN_MODES,
    computed: 'resource when RESOURCE is set, else login',
  }),
  perApi('provider', 'OAUTH_PROVIDER', 'string', "with several providers: the one whose sessions may call it (its token's issuer)", { computed: "the session's provider" }),
] as const

/** The settings each API of `OAUTH_APIS` has its own of, as `OAUTH_<API>_…` variables. */
export const API_SETTINGS: readonly Setting<ApiOption>[] = Object.freeze(API_TABLE)

/** The options of one API (`apis: { orders: { url, … } }`). */
export type ApiOption = (typeof API_TABLE)[number]['option']

/** Every setting that has an environment variable. */
export const SETTINGS: readonly Setting[] = Object.freeze(TABLE)

/** The options that have a variable. */
export type SettingOption = (typeof TABLE)[number]['option']

/** The options that belong to one provider: with several, each has its own. */
export type ProviderOption = Extract<(typeof TABLE)[number], { scope: 'provider' }>['option']

/** The settings each provider has its own of. */
export const PROVIDER_SETTINGS: readonly Setting[] = Object.freeze(SETTINGS.filter((setting) => setting.scope === 'provider'))

const BY_OPTION = Object.freeze(Object.fromEntries(SETTINGS.map((setting) => [setting.option, setting]))) as Readonly<Record<SettingOption, Setting>>

/** The declaration of `option`'s setting. */
export function settingOf(option: SettingOption): Setting {
  return BY_OPTION[option]
}
