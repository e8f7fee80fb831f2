/**
 * What an app passes to `oauth()` / `createCodegrant()`, and the logger it may plug in. Types
 * only: the settings table (settings.ts) declares each option's variable, type and default.
 */
import type { AuthorizationParamsInput } from './authorization-params.js'
import type { ApiTokenMode, ClientAssertionAud, ClientAuthMethod, PresetName, Profile, ResponseMode, SessionStoreName } from './enums.js'
import type { ErrorPage, LoginHook } from './hooks.js'
import type { Preset } from './presets.js'
import type { ApiOption, ProviderOption, SettingOption } from './settings.js'
import type { SessionStore } from '../session-types.js'

/**
 * Where codegrant logs: pino, console, or anything with these methods (`debug` and `info` are
 * optional). Lines never carry a secret, a token, a code or a cookie.
 */
export interface Logger {
  debug?(message: string): void
  info?(message: string): void
  warn(message: string): void
  error(message: string): void
}

/** The logger codegrant calls: every level present; `debug` is a no-op unless `debug` is on. */
export type FullLogger = Required<Logger>

/** What a user passes to `oauth()`; every field but `routes`, `logger`, `onLogin` and `errorPage` also has an environment variable. */
export interface OAuthOptions {
  /**
   * A provider preset (`github`, `google`, `microsoft`, `gitlab`, `auth0`, `okta`, `keycloak`),
   * or a preset object (spread one of `PRESETS` to change a field): fills every provider setting
   * left unset. `OAUTH_PRESET` (`OAUTH_<NAME>_PRESET`; with several providers, a provider named
   * like a preset uses it unless told otherwise).
   */
  preset?: PresetName | Preset
  /** With the `microsoft` preset: `common` (default), `organizations`, `consumers` or a tenant id. `OAUTH_TENANT`. */
  tenant?: string
  /** The `audience` authorization parameter (Auth0: the API the access token is for). `OAUTH_AUDIENCE`. */
  audience?: string
  /** Issuer URL; metadata comes from OpenID / RFC 8414 discovery. `OAUTH_ISSUER`. */
  issuer?: string
  /** Explicit authorization endpoint; with `tokenEndpoint`, discovery is not attempted. `OAUTH_AUTHORIZATION_ENDPOINT`. */
  authorizationEndpoint?: string
  /** Explicit token endpoint (with `authorizationEndpoint`: no discovery). `OAUTH_TOKEN_ENDPOINT`. */
  tokenEndpoint?: string
  /** Explicit userinfo endpoint. `OAUTH_USERINFO_ENDPOINT`. */
  userinfoEndpoint?: string
  /** Explicit revocation endpoint (RFC 7009), used at logout. `OAUTH_REVOCATION_ENDPOINT`. */
  revocationEndpoint?: string
  /** Explicit end-session endpoint (RP-Initiated Logout). `OAUTH_END_SESSION_ENDPOINT`. */
  endSessionEndpoint?: string
  /** Explicit JWKS URI; required with explicit endpoints and the `openid` scope. `OAUTH_JWKS_URI`. */
  jwksUri?: string
  /** The client id registered at the provider. `OAUTH_CLIENT_ID`. */
  clientId?: string
  /** The client secret, for the `client_secret_*` methods. `OAUTH_CLIENT_SECRET`. */
  clientSecret?: string
  /** Client authentication at the token endpoint; default `client_secret_basic`. `OAUTH_CLIENT_AUTH_METHOD`. */
  clientAuthMethod?: ClientAuthMethod
  /** PEM (PKCS#8) or JWK (JSON) private key for `private_key_jwt`. */
  privateKey?: string
  /**
   * The client certificate for mutual TLS (RFC 8705): PEM text (`\\n` escapes allowed; a chain
   * may follow the certificate) or the path of a PEM file. Required by `tls_client_auth` and
   * `self_signed_tls_client_auth`; with any method, every call to the provider and every
   * `oauth.fetch` present it when the server asks, so certificate-bound access tokens work.
   * `OAUTH_CLIENT_CERT`.
   */
  clientCert?: string
  /** The client certificate's private key, PEM or a file path; checked against the certificate at start-up. `OAUTH_CLIENT_CERT_KEY`. */
  clientCertKey?: string
  /**
   * CA certificates (PEM or a file path) trusted for the TLS servers the client certificate is
   * presented to, added to Node's own (with it set, list NODE_EXTRA_CA_CERTS's CAs here too).
   * `OAUTH_CLIENT_CERT_CA`.
   */
  clientCertCa?: string
  /**
   * The `aud` of `private_key_jwt` client assertions: `token_endpoint` (default; each request's
   * own endpoint URL: token, PAR, revocation) or `issuer` (the provider's issuer identifier).
   * `OAUTH_CLIENT_ASSERTION_AUD`.
   */
  clientAssertionAud?: ClientAssertionAud
  /** The app's external origin, e.g. `https://app.example.com`. */
  baseUrl?: string
  /** The callback URL registered at the provider; default `baseUrl` + the callback route. `OAUTH_REDIRECT_URI`. */
  redirectUri?: string
  /** Space-separated scopes, default `openid profile email`; without `openid`: plain OAuth 2.0. `OAUTH_SCOPE`. */
  scope?: string
  /** At least 32 characters; a list (or comma-separated string) rotates keys: first encrypts, all decrypt. */
  cookieSecret?: string | readonly string[]
  /**
   * `cookie` (stateless, encrypted, chunked), `memory`, `redis` (loads `@codegrant/redis`, which
   * must be installed), or a {@link SessionStore} instance.
   */
  sessionStore?: SessionStoreName | SessionStore
  /** With `redis`: `redis://…`, `rediss://…`, cluster nodes `h1:7000,h2:7001`, or `redis+sentinel://h1:26379,h2:26379/master`. */
  redisUrl?: string
  /** With `redis`: the URL lists Redis Cluster nodes (implied when it lists several). */
  redisCluster?: boolean
  /** With `redis`: prefix of every key, default `codegrant:`. */
  redisPrefix?: string
  /** With `redis`: milliseconds before a Redis call fails (what needs the session answers 503; other requests go on signed out), default 2000. */
  redisTimeout?: number
  /**
   * With `redis`: keep session records read in this process, served from memory until Redis says
   * they changed (server-assisted client-side caching, RESP3 `CLIENT TRACKING`), default true;
   * false for a Redis or proxy without `CLIENT TRACKING`.
   */
  redisCache?: boolean
  /**
   * Serve OpenID Connect Back-Channel Logout at `routes.backchannelLogout` (needs a server-side
   * store or, with cookie sessions, `redisUrl` for the "ended before" records).
   */
  backchannelLogout?: boolean
  /**
   * Serve OpenID Connect Front-Channel Logout at `routes.frontchannelLogout`: the provider's
   * iframe ends that provider session's sessions (server-side ones by `sid`; a cookie session,
   * the browser's own).
   */
  frontchannelLogout?: boolean
  /** Absolute session lifetime, seconds. */
  sessionMaxAge?: number
  /** Rolling (idle) session lifetime, seconds. */
  sessionIdleTimeout?: number
  /**
   * Session cookies kept opened in this process (decrypted, parsed), so that a request with a
   * cookie seen before skips the decryption. 0 turns the cache off. Default 10000.
   */
  sessionCacheSize?: number
  /** Where the provider sends the browser after logout; default `baseUrl` + `/`. `OAUTH_POST_LOGOUT_REDIRECT_URI`. */
  postLogoutRedirectUri?: string
  /** Push the authorization request (RFC 9126) when the provider has a PAR endpoint. `OAUTH_PAR`. */
  par?: boolean
  /**
   * Sender-constrain tokens with DPoP (RFC 9449): one key pair per session, a proof on every
   * call to the provider and in `oauth.fetch`. `OAUTH_DPOP`.
   */
  dpop?: boolean
  /**
   * Accept a `Bearer` token when DPoP was asked for (the provider does not do DPoP). Off by
   * default: such an answer is an error. `OAUTH_DPOP_ALLOW_BEARER`.
   */
  dpopAllowBearer?: boolean
  /**
   * Send the authorization request as a request object (JAR, RFC 9101) signed with `privateKey`
   * (`iss` the client id, `aud` the issuer, a one-minute `exp`, `nbf`, `jti`): pushed when `par`
   * is on, else by value in the authorization URL. For clients the provider registered with
   * `require_signed_request_object`. On with `profile: 'fapi2-message-signing'`. `OAUTH_REQUEST_OBJECT`.
   */
  requestObject?: boolean
  /**
   * Receive OpenID Shared Signals events pushed by the provider's transmitter (its metadata at
   * the issuer's `/.well-known/ssf-configuration`) at `routes.ssf` (RFC 8935): CAEP
   * `session-revoked` ends the user's sessions, `credential-change` and `assurance-level-change`
   * require a fresh sign-in at the next guarded request, `token-claims-change` refreshes the
   * claims. Needs a server-side store or, with cookie sessions, `redisUrl`. `OAUTH_SSF`.
   */
  ssf?: boolean
  /**
   * `fapi2`: the FAPI 2.0 Security Profile — PAR, PKCE S256, DPoP, `private_key_jwt`, `iss`
   * required in the authorization response, FAPI algorithms; weaker settings are refused at
   * start-up. `fapi2-message-signing`: the same, with signed request objects (`requestObject`)
   * and JWT-secured responses (`responseMode: 'jwt'`). `OAUTH_PROFILE`.
   */
  profile?: Profile
  /**
   * How the authorization response comes back: `query` (default) or `form_post`; or signed by the
   * provider as one JWT (JARM): `jwt` (`query.jwt` for a code), `query.jwt`, `form_post.jwt`, whose
   * signature, `iss`, `aud` and `exp` are checked before its code is used. `OAUTH_RESPONSE_MODE`.
   */
  responseMode?: ResponseMode
  /** Milliseconds for each call to the provider. */
  httpTimeout?: number
  /** Seconds before expiry at which the access token is refreshed. */
  refreshSkew?: number
  /** Merge the userinfo response into `user` at login. `OAUTH_FETCH_USERINFO`. */
  fetchUserinfo?: boolean
  /**
   * Keep the ID token's protocol claims (`iss`, `aud`, `exp`, `iat`, `nbf`, `nonce`, `azp`,
   * `at_hash`, `c_hash`, `s_hash`) in `user`. By default `user` holds the user's claims only;
   * codegrant's own decisions read the provider's validated identity either way.
   * `OAUTH_KEEP_PROTOCOL_CLAIMS`.
   */
  keepProtocolClaims?: boolean
  /** Diagnostics may name the `X-Forwarded-Host` a request came through; URLs still come from `baseUrl` only. `OAUTH_TRUST_PROXY`. */
  trustProxy?: boolean
  /**
   * The one ID token signing algorithm accepted (`none` and `HS*` are always refused). Default:
   * `RS256` (OpenID Connect's default), or the provider's first asymmetric one when it does not
   * support `RS256`.
   */
  idTokenSigningAlg?: string
  /**
   * With a JWT response mode (JARM): the one algorithm the authorization response may be signed
   * with, as the client is registered (`authorization_signed_response_alg`; `none` and `HS*` are
   * refused). Default: `RS256`, or the provider's first asymmetric one when it does not support
   * `RS256` (a FAPI 2.0 algorithm under the FAPI profiles). `OAUTH_AUTHORIZATION_SIGNING_ALG`.
   */
  authorizationSigningAlg?: string
  /**
   * The algorithm of the signed userinfo responses (`application/jwt`, OpenID Connect Core §5.3.2)
   * the client is registered for (`userinfo_signed_response_alg`): a JSON one is then refused.
   * A signed response's signature is verified with the provider's keys whether or not this is set.
   */
  userinfoSigningAlg?: string
  /** Seconds of clock difference tolerated when checking `exp`, `iat`, `nbf`. Default 30. */
  clockTolerance?: number
  /**
   * The paths of codegrant's routes, default `/auth/login`, `/auth/callback`, `/auth/logout`,
   * `/auth/logout/done`, `/auth/backchannel-logout`, `/auth/frontchannel-logout`, `/auth/ssf`.
   */
  routes?: { login?: string; callback?: string; logout?: string; logoutDone?: string; backchannelLogout?: string; frontchannelLogout?: string; ssf?: string }
  /**
   * Origins `oauth.fetch` may send the access token to, besides the provider's own (its issuer
   * and endpoints): a list, or a comma-separated string. https, or http on loopback only.
   * `OAUTH_API_ORIGINS`.
   */
  apiOrigins?: string | readonly string[]
  /** Default: console, prefixed `[codegrant]`. A pino logger plugs straight in. */
  logger?: Logger
  /** Log every step of login, callback, refresh and logout at debug level (redacted). `OAUTH_DEBUG`. */
  debug?: boolean
  /**
   * Extra authorization request parameters for every login (`audience`, `resource`, `prompt`,
   * `acr_values`, `max_age`, `ui_locales`, `login_hint`, …), as an object or in query-string form.
   * The protocol's own (`state`, `nonce`, `redirect_uri`, …) are refused. `OAUTH_AUTHORIZATION_PARAMS`.
   */
  authorizationParams?: AuthorizationParamsInput
  /**
   * Names of parameters the browser may pass to the login route (`/auth/login?login_hint=…`) to
   * be forwarded to the provider; nothing else from the query is. `OAUTH_LOGIN_QUERY_PARAMS`.
   */
  loginQueryParams?: string | readonly string[]
  /**
   * Before sending an unauthenticated browser to the login page, try `prompt=none` once per
   * browser session (per guard: `requireAuth({ silentLogin })`). `OAUTH_SILENT_LOGIN`.
   */
  silentLogin?: boolean
  /**
   * Backend-for-frontend for single-page apps: `GET /bff/session` (the session as JSON, never a
   * token), `GET /bff/silent-login` (a `prompt=none` login that posts its result to the SPA) and
   * `/bff/<api>/*` proxied to each API of `apis` with its token. `OAUTH_BFF`.
   */
  bff?: boolean
  /** With `bff`: the anti-forgery header (`Name: value`) every other `/bff/` request must carry. `OAUTH_BFF_HEADER`, default `X-CSRF: 1`. */
  bffHeader?: string
  /**
   * Called after a login passed every check, before the session is stored: return `false` to
   * refuse it (403), `{ user }` to store another user (e.g. mapped roles), `{ data }` to keep app
   * data in the session (`req.oauth.data`). Both count against the cookie's size.
   */
  onLogin?: LoginHook
  /**
   * Renders codegrant's error pages for browsers in the app's own look: called with the error's
   * `status`, `code` (`codegrant/forbidden`, `codegrant/store_unavailable`, …) and `message`
   * (plain text: escape it), it returns the whole HTML document, or `undefined` for codegrant's
   * own page. Sent with the error's status and a Content-Security-Policy allowing no script and
   * only the app's own origin for styles, images and fonts. API clients keep the JSON answers.
   * No environment variable.
   */
  errorPage?: ErrorPage
  /**
   * Several providers in one app, by name (`github`, `corp`; lower-case letters, digits, `_`),
   * each with its own provider settings (issuer or endpoints, client, scope, …; see
   * {@link ProviderOptions}) and routes `/auth/login/<name>`, `/auth/callback/<name>`. From the
   * environment: `OAUTH_PROVIDERS=github,corp` and the provider settings' variables with the name
   * inserted (`OAUTH_GITHUB_CLIENT_ID`, `OAUTH_CORP_ISSUER`), which options override.
   */
  providers?: Readonly<Record<string, ProviderOptions>>
  /** With several providers: the one `/auth/login` goes straight to, instead of a chooser page. `OAUTH_DEFAULT_PROVIDER`. */
  defaultProvider?: string
  /**
   * The APIs the app calls on its users' behalf, by name (`orders`, `billing`; lower-case
   * letters, digits, `_`), each with its base URL and how its token is obtained (see
   * {@link ApiOptions}): `req.oauth.fetch('orders', '/items')`, `req.oauth.accessToken('orders')`.
   * From the environment: `OAUTH_APIS=orders,billing` and `OAUTH_ORDERS_URL`,
   * `OAUTH_ORDERS_RESOURCE`, … (options override them).
   */
  apis?: Readonly<Record<string, ApiOptions>>
}

/**
 * One API in `apis: { <name>: … }`. Its token is obtained on first use and kept with the session
 * (RFC 8707 resource indicators, RFC 8693 token exchange).
 *
 * @example
 * apis: { orders: { url: 'https://orders.example.com/v1', resource: 'https://orders.example.com', scope: 'orders:read' } }
 */
export interface ApiOptions {
  /** Base URL (required): `fetch('<api>', path)` joins paths under it; its origin joins the `oauth.fetch` allow-list. `OAUTH_<API>_URL`. */
  url?: string
  /** Its resource indicator (RFC 8707), sent as `resource` in its token requests. `OAUTH_<API>_RESOURCE`. */
  resource?: string
  /** The `audience` parameter of its token requests (providers that name APIs so, e.g. Auth0). `OAUTH_<API>_AUDIENCE`. */
  audience?: string
  /** Space-separated scopes its token is asked with. `OAUTH_<API>_SCOPE`. */
  scope?: string
  /**
   * `login`: the session's own access token; `resource`: a refresh-token grant naming the API's
   * resource and scope (RFC 8707 §2.2); `exchange`: token exchange of the session's access token
   * (RFC 8693). Default: `resource` when `resource` is set, else `login`. `OAUTH_<API>_TOKEN`.
   */
  token?: ApiTokenMode
  /** With several providers: the provider whose sessions may call it; default: the session's own. `OAUTH_<API>_PROVIDER`. */
  provider?: string
}

/** Every option of {@link ApiOptions} has a row in the API settings table. */
export type ApiSettingOptions = Pick<ApiOptions, ApiOption>

/** One provider's options in `providers: { <name>: … }`: the settings each provider has its own of. */
export type ProviderOptions = Pick<OAuthOptions, ProviderOption>

/**
 * The options the settings table declares, which the environment can give (env.ts). `Pick`
 * holds the table to {@link OAuthOptions}: a setting naming no option does not compile.
 */
export type SettingOptions = Pick<OAuthOptions, SettingOption>
