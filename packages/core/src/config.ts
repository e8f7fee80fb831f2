import { createPrivateKey, type JsonWebKey } from 'node:crypto'
import { CodegrantError } from './errors.js'
import { fapi2Problems } from './profile.js'
import { parseAuthorizationParams, parseQueryAllowList, type AuthorizationParams, type AuthorizationParamsInput } from './flow/authorization-params.js'
import type { LoginHook } from './flow/on-login.js'
import { applyPreset, PRESETS, type Preset, type PresetName, type ResolvedPreset } from './provider/presets.js'
import { prepareRedisStore, type RedisOpener } from './session/redis-loader.js'
import { isCoordinating, type SessionStore } from './session/store.js'

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'
export type ResponseMode = 'query' | 'form_post'
/** Security profiles: `fapi2` is the FAPI 2.0 Security Profile's client requirements. */
export type Profile = 'fapi2'
/** What a `private_key_jwt` client assertion names as its audience (`aud`). */
export type ClientAssertionAud = 'issuer' | 'token_endpoint'

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

/** What a user passes to `oauth()`; every field also has an environment variable. */
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
  authorizationEndpoint?: string
  tokenEndpoint?: string
  userinfoEndpoint?: string
  revocationEndpoint?: string
  endSessionEndpoint?: string
  jwksUri?: string
  clientId?: string
  clientSecret?: string
  clientAuthMethod?: ClientAuthMethod
  /** PEM (PKCS#8) or JWK (JSON) private key for `private_key_jwt`. */
  privateKey?: string
  /**
   * The `aud` of `private_key_jwt` client assertions: `token_endpoint` (default; each request's
   * own endpoint URL: token, PAR, revocation) or `issuer` (the provider's issuer identifier).
   * `OAUTH_CLIENT_ASSERTION_AUD`.
   */
  clientAssertionAud?: ClientAssertionAud
  /** The app's external origin, e.g. `https://app.example.com`. */
  baseUrl?: string
  redirectUri?: string
  scope?: string
  /** At least 32 characters; a list (or comma-separated string) rotates keys: first encrypts, all decrypt. */
  cookieSecret?: string | readonly string[]
  /**
   * `cookie` (stateless, encrypted, chunked), `memory`, `redis` (loads `@codegrant/redis`, which
   * must be installed), or a {@link SessionStore} instance.
   */
  sessionStore?: 'cookie' | 'memory' | 'redis' | SessionStore
  /** With `redis`: `redis://…`, `rediss://…`, cluster nodes `h1:7000,h2:7001`, or `redis+sentinel://h1:26379,h2:26379/master`. */
  redisUrl?: string
  /** With `redis`: the URL lists Redis Cluster nodes (implied when it lists several). */
  redisCluster?: boolean
  /** With `redis`: prefix of every key, default `codegrant:`. */
  redisPrefix?: string
  /** With `redis`: milliseconds before a Redis call fails (what needs the session answers 503; other requests go on signed out), default 2000. */
  redisTimeout?: number
  /** Serve OpenID Connect Back-Channel Logout at `routes.backchannelLogout` (needs a server-side store). */
  backchannelLogout?: boolean
  /** Absolute session lifetime, seconds. */
  sessionMaxAge?: number
  /** Rolling (idle) session lifetime, seconds. */
  sessionIdleTimeout?: number
  /**
   * Session cookies kept opened in this process (decrypted, parsed), so that a request with a
   * cookie seen before skips the decryption. 0 turns the cache off. Default 10000.
   */
  sessionCacheSize?: number
  postLogoutRedirectUri?: string
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
   * `fapi2`: the FAPI 2.0 Security Profile — PAR, PKCE S256, DPoP, `private_key_jwt`, `iss`
   * required in the authorization response, FAPI algorithms; weaker settings are refused at
   * start-up. `OAUTH_PROFILE`.
   */
  profile?: Profile
  responseMode?: ResponseMode
  /** Milliseconds for each call to the provider. */
  httpTimeout?: number
  /** Seconds before expiry at which the access token is refreshed. */
  refreshSkew?: number
  fetchUserinfo?: boolean
  trustProxy?: boolean
  /**
   * The one ID token signing algorithm accepted (`none` and `HS*` are always refused). Default:
   * `RS256` (OpenID Connect's default), or the provider's first asymmetric one when it does not
   * support `RS256`.
   */
  idTokenSigningAlg?: string
  /** Seconds of clock difference tolerated when checking `exp`, `iat`, `nbf`. Default 30. */
  clockTolerance?: number
  routes?: { login?: string; callback?: string; logout?: string; backchannelLogout?: string }
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
   * Called after a login passed every check, before the session is stored: return `false` to
   * refuse it (403), `{ user }` to store another user (e.g. mapped roles), `{ data }` to keep app
   * data in the session (`req.oauth.data`). Both count against the cookie's size.
   */
  onLogin?: LoginHook
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
}

/** The settings that belong to one provider: with several, each has its own. */
export const PROVIDER_OPTIONS = [
  'preset', 'tenant', 'audience', 'issuer', 'authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint', 'revocationEndpoint', 'endSessionEndpoint', 'jwksUri',
  'clientId', 'clientSecret', 'clientAuthMethod', 'privateKey', 'clientAssertionAud', 'redirectUri', 'scope', 'postLogoutRedirectUri',
  'par', 'dpop', 'dpopAllowBearer', 'idTokenSigningAlg', 'fetchUserinfo', 'apiOrigins', 'authorizationParams',
] as const satisfies readonly (keyof OAuthOptions)[]

/** One provider's options in `providers: { <name>: … }`. */
export type ProviderOptions = Pick<OAuthOptions, (typeof PROVIDER_OPTIONS)[number]>

/** One provider's validated settings. */
export interface ProviderSettings {
  /** `default` for the one provider of an app configured without `providers`. */
  readonly name: string
  readonly issuer: string | undefined
  readonly endpoints: Readonly<{
    authorization?: string
    token?: string
    userinfo?: string
    revocation?: string
    endSession?: string
    jwks?: string
  }>
  /** True when the authorization and token endpoints are both given: discovery is not attempted. */
  readonly explicitEndpoints: boolean
  readonly clientId: string
  readonly clientSecret: string | undefined
  readonly clientAuthMethod: ClientAuthMethod
  /** The `private_key_jwt` key as a private JWK, parsed at start-up. */
  readonly privateKey: Readonly<JsonWebKey & { kid?: string }> | undefined
  readonly clientAssertionAud: ClientAssertionAud
  readonly redirectUri: string
  readonly scope: string
  readonly openid: boolean
  readonly postLogoutRedirectUri: string
  readonly par: boolean
  readonly dpop: boolean
  readonly dpopAllowBearer: boolean
  /** Configured pin; undefined: chosen from the provider's metadata (RS256 first). */
  readonly idTokenSigningAlg: string | undefined
  readonly fetchUserinfo: boolean
  /** Origins (`https://api.example.com`) `oauth.fetch` may send the token to, besides the provider's. */
  readonly apiOrigins: readonly string[]
  /** Extra parameters sent with every authorization request, validated. */
  readonly authorizationParams: AuthorizationParams
  /** The paths of this provider's login and callback routes: the first is canonical, the others aliases. */
  readonly paths: Readonly<{ login: readonly string[]; callback: readonly string[] }>
  /** What the preset adds beyond the settings it filled: the user source, token quirks, a multi-tenant issuer. */
  readonly preset: ResolvedPreset | undefined
}

/**
 * The validated, frozen configuration every part of codegrant reads. The provider settings at
 * its top level are the first provider's; each provider's are in `providers` (and the flows read
 * a provider's view: this object with that provider's settings).
 */
export interface OAuthConfig extends ProviderSettings {
  readonly baseUrl: URL
  readonly cookieSecrets: readonly string[]
  readonly secure: boolean
  /** `redis`: `@codegrant/redis`, opened by {@link redis} where the session backend is created (configuration opens no connection). */
  readonly sessionStore: 'cookie' | 'memory' | 'redis' | SessionStore
  /** With `sessionStore: 'redis'`: where the store connects to, and how to open it. */
  readonly redis?: RedisOpener
  readonly sessionMaxAge: number
  readonly sessionIdleTimeout: number
  readonly sessionCacheSize: number
  readonly profile: Profile | undefined
  readonly responseMode: ResponseMode
  readonly httpTimeout: number
  readonly refreshSkew: number
  readonly trustProxy: boolean
  readonly clockTolerance: number
  readonly backchannelLogout: boolean
  readonly routes: Readonly<{ login: string; callback: string; logout: string; backchannelLogout: string }>
  readonly logger: FullLogger
  readonly debug: boolean
  /** Query parameters of the login route forwarded to the provider. */
  readonly loginQueryParams: readonly string[]
  readonly silentLogin: boolean
  readonly onLogin: LoginHook | undefined
  /** Every provider, in configuration order; one (named `default`) unless `providers` is set. */
  readonly providers: readonly ProviderSettings[]
  /** True when the app is configured with `providers` (routes per provider, a chooser page). */
  readonly named: boolean
  /** The provider `/auth/login` goes to without asking (the only one, or `OAUTH_DEFAULT_PROVIDER`). */
  readonly defaultProvider: string | undefined
}

type Env = Readonly<Record<string, string | undefined>>

/** How a setting's value is read and checked. */
export type SettingType = 'string' | 'secret' | 'url' | 'number' | 'boolean' | 'enum' | 'list' | 'params'

/**
 * One setting, declared once: reading the environment, validation, the README's variable table
 * (test/docs.test.ts checks it) and diagnostics are derived from this table.
 */
export interface Setting {
  readonly option: keyof OAuthOptions
  /** Variables, the `OAUTH_*` name first (express-openid-connect's names after it, as aliases). */
  readonly env: readonly string[]
  readonly type: SettingType
  /** `provider`: each provider has its own (prefixed per provider: `OAUTH_GITHUB_CLIENT_ID`). */
  readonly scope: 'app' | 'provider'
  /** The values of an `enum`. */
  readonly values?: readonly string[]
  /** The default, as documented. */
  readonly default?: string
  readonly doc: string
}

const app = (option: keyof OAuthOptions, env: string | readonly string[], type: SettingType, doc: string, more: Partial<Setting> = {}): Setting =>
  Object.freeze({ option, env: typeof env === 'string' ? [env] : env, type, scope: 'app' as const, doc, ...more })
const perProvider = (option: keyof OAuthOptions, env: string | readonly string[], type: SettingType, doc: string, more: Partial<Setting> = {}): Setting =>
  Object.freeze({ ...app(option, env, type, doc, more), scope: 'provider' as const })

/** Every setting that has an environment variable. */
export const SETTINGS: readonly Setting[] = Object.freeze([
  perProvider('preset', 'OAUTH_PRESET', 'enum', 'a provider preset: issuer or endpoints, scope, user mapping as data; any setting overrides it', { values: Object.keys(PRESETS) }),
  perProvider('tenant', 'OAUTH_TENANT', 'string', 'with the microsoft preset: common, organizations, consumers or a tenant id', { default: 'common' }),
  perProvider('audience', 'OAUTH_AUDIENCE', 'string', 'the audience authorization parameter (Auth0)'),
  perProvider('issuer', ['OAUTH_ISSUER', 'ISSUER_BASE_URL'], 'url', 'issuer URL; metadata from OpenID / RFC 8414 discovery'),
  perProvider('authorizationEndpoint', 'OAUTH_AUTHORIZATION_ENDPOINT', 'url', 'explicit authorization endpoint (with the token endpoint: no discovery)', { default: 'from discovery' }),
  perProvider('tokenEndpoint', 'OAUTH_TOKEN_ENDPOINT', 'url', 'explicit token endpoint', { default: 'from discovery' }),
  perProvider('userinfoEndpoint', 'OAUTH_USERINFO_ENDPOINT', 'url', 'explicit userinfo endpoint', { default: 'from discovery' }),
  perProvider('revocationEndpoint', 'OAUTH_REVOCATION_ENDPOINT', 'url', 'explicit revocation endpoint (RFC 7009)', { default: 'from discovery' }),
  perProvider('endSessionEndpoint', 'OAUTH_END_SESSION_ENDPOINT', 'url', 'explicit end-session endpoint (RP-Initiated Logout)', { default: 'from discovery' }),
  perProvider('jwksUri', 'OAUTH_JWKS_URI', 'url', 'explicit JWKS URI (required with explicit endpoints and openid)', { default: 'from discovery' }),
  perProvider('clientId', ['OAUTH_CLIENT_ID', 'CLIENT_ID'], 'string', 'client id registered at the provider'),
  perProvider('clientSecret', ['OAUTH_CLIENT_SECRET', 'CLIENT_SECRET'], 'secret', 'client secret (for the client_secret_* methods)'),
  perProvider('clientAuthMethod', 'OAUTH_CLIENT_AUTH_METHOD', 'enum', 'client authentication at the token endpoint', { values: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'], default: 'client_secret_basic' }),
  perProvider('privateKey', 'OAUTH_PRIVATE_KEY', 'secret', 'PEM or JWK private key for private_key_jwt'),
  perProvider('clientAssertionAud', 'OAUTH_CLIENT_ASSERTION_AUD', 'enum', 'the aud of private_key_jwt assertions', { values: ['issuer', 'token_endpoint'], default: 'token_endpoint' }),
  app('baseUrl', ['OAUTH_BASE_URL', 'BASE_URL'], 'url', "the app's external origin, e.g. https://app.example.com", { default: 'origin of OAUTH_REDIRECT_URI' }),
  perProvider('redirectUri', 'OAUTH_REDIRECT_URI', 'url', 'the callback URL registered at the provider', { default: 'OAUTH_BASE_URL + /auth/callback (/auth/callback/<name> with several providers)' }),
  perProvider('scope', 'OAUTH_SCOPE', 'string', 'space-separated scopes; without openid: plain OAuth 2.0', { default: 'openid profile email' }),
  app('cookieSecret', ['OAUTH_COOKIE_SECRET', 'SECRET'], 'secret', 'at least 32 characters; a comma list rotates keys'),
  app('sessionStore', 'OAUTH_SESSION_STORE', 'enum', 'where sessions live', { values: ['cookie', 'memory', 'redis'], default: 'cookie' }),
  app('redisUrl', 'OAUTH_REDIS_URL', 'secret', 'with redis: the server, cluster nodes or sentinels'),
  app('redisCluster', 'OAUTH_REDIS_CLUSTER', 'boolean', 'with redis: the URL names cluster nodes', { default: 'false' }),
  app('redisPrefix', 'OAUTH_REDIS_PREFIX', 'string', 'with redis: prefix of every key', { default: 'codegrant:' }),
  app('redisTimeout', 'OAUTH_REDIS_TIMEOUT', 'number', 'with redis: milliseconds before a call fails (503)', { default: '2000' }),
  app('backchannelLogout', 'OAUTH_BACKCHANNEL_LOGOUT', 'boolean', 'serve OpenID Connect Back-Channel Logout', { default: 'false' }),
  app('sessionMaxAge', 'OAUTH_SESSION_MAX_AGE', 'number', 'absolute session lifetime, seconds', { default: '604800' }),
  app('sessionIdleTimeout', 'OAUTH_SESSION_IDLE_TIMEOUT', 'number', 'idle session lifetime, seconds', { default: '86400' }),
  app('sessionCacheSize', 'OAUTH_SESSION_CACHE_SIZE', 'number', 'session cookies kept opened per process (0: off)', { default: '10000' }),
  perProvider('postLogoutRedirectUri', 'OAUTH_POST_LOGOUT_REDIRECT_URI', 'url', 'where the provider sends the browser after logout', { default: 'OAUTH_BASE_URL + /' }),
  perProvider('par', 'OAUTH_PAR', 'boolean', 'pushed authorization requests (RFC 9126)', { default: 'false' }),
  perProvider('dpop', 'OAUTH_DPOP', 'boolean', 'sender-constrained tokens (RFC 9449)', { default: 'false' }),
  perProvider('dpopAllowBearer', 'OAUTH_DPOP_ALLOW_BEARER', 'boolean', 'accept Bearer tokens when DPoP was asked for', { default: 'false' }),
  app('profile', 'OAUTH_PROFILE', 'enum', 'fapi2: the FAPI 2.0 Security Profile', { values: ['fapi2'] }),
  app('responseMode', 'OAUTH_RESPONSE_MODE', 'enum', 'how the authorization response comes back', { values: ['query', 'form_post'], default: 'query' }),
  app('httpTimeout', 'OAUTH_HTTP_TIMEOUT', 'number', 'milliseconds for each call to the provider', { default: '5000' }),
  app('refreshSkew', 'OAUTH_REFRESH_SKEW', 'number', 'seconds before expiry at which the access token is refreshed', { default: '30' }),
  perProvider('fetchUserinfo', 'OAUTH_FETCH_USERINFO', 'boolean', 'merge userinfo into the user at login', { default: 'false' }),
  app('trustProxy', 'OAUTH_TRUST_PROXY', 'boolean', 'diagnostics may name X-Forwarded-Host', { default: 'false' }),
  app('debug', 'OAUTH_DEBUG', 'boolean', 'log every step at debug level (redacted)', { default: 'false' }),
  perProvider('idTokenSigningAlg', 'OAUTH_ID_TOKEN_SIGNING_ALG', 'string', 'the one ID token algorithm accepted', { default: 'RS256 or the provider\'s first asymmetric one' }),
  app('clockTolerance', 'OAUTH_CLOCK_TOLERANCE', 'number', 'seconds of clock difference tolerated', { default: '30' }),
  perProvider('apiOrigins', 'OAUTH_API_ORIGINS', 'list', 'origins oauth.fetch may send the token to, besides the provider\'s', { default: 'provider only' }),
  perProvider('authorizationParams', 'OAUTH_AUTHORIZATION_PARAMS', 'params', 'extra authorization parameters (query-string form)'),
  app('loginQueryParams', 'OAUTH_LOGIN_QUERY_PARAMS', 'list', 'query parameters of /auth/login forwarded to the provider', { default: 'none' }),
  app('silentLogin', 'OAUTH_SILENT_LOGIN', 'boolean', 'try prompt=none once per browser session', { default: 'false' }),
  app('providers', 'OAUTH_PROVIDERS', 'list', 'several providers: a comma list of names; their settings are prefixed (OAUTH_GITHUB_CLIENT_ID)', { default: 'one provider' }),
  app('defaultProvider', 'OAUTH_DEFAULT_PROVIDER', 'string', 'with several providers: where /auth/login goes without a chooser page'),
])

const PROVIDER_SETTINGS = SETTINGS.filter((setting) => setting.scope === 'provider')

/** A provider setting's variable for provider `name`: `OAUTH_CLIENT_ID` → `OAUTH_GITHUB_CLIENT_ID`. */
export function providerVariable(variable: string, name: string): string {
  return variable.replace(/^OAUTH_/, `OAUTH_${name.toUpperCase()}_`)
}

/**
 * Reads every codegrant setting from an environment (usually `process.env`). With
 * `OAUTH_PROVIDERS`, each provider's settings are read from its prefixed variables into
 * `providers`. Values are returned raw where they cannot be parsed, so that {@link resolveConfig}
 * reports them together with every other problem.
 */
export function configFromEnv(env: Env): OAuthOptions {
  const options = readSettings(env, SETTINGS.filter((setting) => setting.option !== 'providers'), (setting) => setting.env)
  const names = env.OAUTH_PROVIDERS?.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean)
  if (env.OAUTH_PROVIDERS?.trim()) {
    options.providers = Object.fromEntries((names ?? []).map((name) => [name, providerFromEnv(env, name)]))
  }
  return options
}

/** One provider's settings from its prefixed variables (`OAUTH_GITHUB_CLIENT_ID`, …). */
export function providerFromEnv(env: Env, name: string): ProviderOptions {
  return readSettings(env, PROVIDER_SETTINGS, (setting) => [providerVariable(setting.env[0]!, name)]) as ProviderOptions
}

const KNOWN_VARIABLES = new Set(SETTINGS.flatMap((setting) => setting.env))

/**
 * `OAUTH_*` variables that are no codegrant setting (a typo such as `OAUTH_SESION_STORE`, or a
 * provider's variable for a provider `OAUTH_PROVIDERS` does not list): one warning each, naming
 * the closest setting. Warnings, not errors: the prefix is not ours alone.
 */
export function unknownVariables(env: Env, providers: readonly string[]): string[] {
  const known = new Set(KNOWN_VARIABLES)
  for (const name of providers) for (const setting of PROVIDER_SETTINGS) known.add(providerVariable(setting.env[0]!, name))
  const warnings: string[] = []
  for (const variable of Object.keys(env)) {
    if (!variable.startsWith('OAUTH_') || known.has(variable) || env[variable] === undefined) continue
    const near = closest(variable, known)
    warnings.push(`${variable} is set but is not a codegrant setting and is ignored${near ? ` (did you mean ${near}?)` : ''}`)
  }
  return warnings
}

/** The known name within a few edits of `variable` (a typo), also with a provider's name in it. */
function closest(variable: string, known: ReadonlySet<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Math.min(3, Math.floor(variable.length / 4))
  for (const candidate of known) {
    const distance = editDistance(variable, candidate, bestDistance)
    if (distance <= bestDistance && (best === undefined || distance < bestDistance)) [best, bestDistance] = [candidate, distance]
  }
  if (best) return best
  // OAUTH_GITHUB_CLIENT_ID without OAUTH_PROVIDERS naming github
  const setting = PROVIDER_SETTINGS.find(({ env: [own] }) => variable.length > own!.length + 1 && variable.endsWith(`_${own!.slice('OAUTH_'.length)}`))
  return setting && `OAUTH_PROVIDERS listing ${variable.slice('OAUTH_'.length, -(setting.env[0]!.length - 'OAUTH_'.length) - 1).toLowerCase()}`
}

/** Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    if (Math.min(...row) > limit) return limit + 1
    previous = row
  }
  return previous[b.length]!
}

function readSettings(env: Env, settings: readonly Setting[], variables: (setting: Setting) => readonly string[]): OAuthOptions & Record<string, unknown> {
  const options: Record<string, unknown> = {}
  for (const setting of settings) {
    const raw = variables(setting).map((name) => env[name]).find((value) => value !== undefined && value.trim() !== '')
    if (raw === undefined) continue
    const value = raw.trim()
    if (setting.type === 'number') options[setting.option] = /^\d+$/.test(value) ? Number(value) : value
    else if (setting.type === 'boolean') options[setting.option] = parseBoolean(value) ?? value
    else options[setting.option] = value
  }
  return options as OAuthOptions & Record<string, unknown>
}

function parseBoolean(value: string): boolean | undefined {
  if (/^(true|1|yes|on)$/i.test(value)) return true
  if (/^(false|0|no|off)$/i.test(value)) return false
  return undefined
}

const DEFAULT_LOGGER: FullLogger = {
  debug: (message) => console.debug(`[codegrant] ${message}`),
  info: (message) => console.info(`[codegrant] ${message}`),
  warn: (message) => console.warn(`[codegrant] ${message}`),
  error: (message) => console.error(`[codegrant] ${message}`),
}

const ignore = () => {}

/** Every level, called as methods (pino needs its `this`); `debug` only when asked for. */
function fullLogger(logger: Logger | undefined, debug: boolean): FullLogger {
  const target = logger ?? DEFAULT_LOGGER
  return {
    debug: debug ? (message) => (target.debug ? target.debug(message) : target.info?.(message)) : ignore,
    info: (message) => target.info?.(message),
    warn: (message) => target.warn(message),
    error: (message) => target.error(message),
  }
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

export function isLoopback(url: URL): boolean {
  return LOOPBACK.test(url.hostname)
}

/** A provider's name: it appears in routes and variable names. */
const PROVIDER_NAME = /^[a-z][a-z0-9_]{0,31}$/

/** The checks every setting of a type gets, each pushing its problem with the variable's name. */
interface Checks {
  problems: string[]
  /** `allowHttp`: the app's own URLs may be plain http anywhere (with a warning elsewhere). */
  url(name: string, value: unknown, options?: { required?: boolean; allowHttp?: boolean }): URL | undefined
  positive(name: string, value: unknown, fallback: number): number
  flag(name: string, value: unknown, fallback?: boolean): boolean
  oneOf<T extends string>(name: string, value: unknown, values: readonly T[], fallback: T): T
}

function checks(problems: string[]): Checks {
  return {
    problems,
    url(name, value, { required = false, allowHttp = false } = {}) {
      if (value === undefined) {
        if (required) problems.push(`${name} is required`)
        return undefined
      }
      try {
        if (typeof value !== 'string') throw new TypeError()
        const parsed = new URL(value)
        if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError()
        if (parsed.protocol === 'http:' && !isLoopback(parsed) && !allowHttp) {
          problems.push(`${name} must use https (http is only allowed on loopback, got ${parsed.origin})`)
        }
        return parsed
      } catch {
        problems.push(`${name} must be an absolute http(s) URL (got ${JSON.stringify(truncate(String(value)))})`)
        return undefined
      }
    },
    positive(name, value, fallback) {
      if (value === undefined) return fallback
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
      problems.push(`${name} must be a non-negative number (got ${JSON.stringify(value)})`)
      return fallback
    },
    flag(name, value, fallback = false) {
      if (value === undefined) return fallback
      if (typeof value === 'boolean') return value
      problems.push(`${name} must be true or false (got ${JSON.stringify(value)})`)
      return fallback
    },
    oneOf(name, value, values, fallback) {
      if (value === undefined) return fallback
      if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as (typeof values)[number]
      const list = values.length > 2 ? `one of ${values.join(', ')}` : values.join(' or ')
      problems.push(`${name} must be ${list} (got ${JSON.stringify(value)})`)
      return fallback
    },
  }
}

function variableOf(option: keyof OAuthOptions): string {
  return SETTINGS.find((setting) => setting.option === option)!.env[0]!
}

/**
 * Merges `options` over the environment, validates everything, and returns a frozen
 * {@link OAuthConfig}. Never mutates its arguments.
 *
 * @throws {CodegrantError} `codegrant/config_invalid`, listing every problem at once.
 */
export function resolveConfig(options: OAuthOptions = {}, env: Env = process.env): OAuthConfig {
  const merged: OAuthOptions = { ...configFromEnv(env), ...definedOnly(options) }
  const problems: string[] = []
  const check = checks(problems)
  const logger = fullLogger(merged.logger, merged.debug === true)
  const named = merged.providers !== undefined

  // each provider's own settings: options over its (prefixed) variables
  const inputs: { name: string; input: ProviderOptions }[] = []
  if (!named) {
    inputs.push({ name: 'default', input: pickProvider(merged) })
  } else {
    const given = merged.providers
    if (typeof given !== 'object' || given === null || Array.isArray(given)) problems.push('providers must be an object of provider settings by name')
    else {
      for (const [raw, own] of Object.entries(given)) {
        const name = raw.trim().toLowerCase()
        if (!PROVIDER_NAME.test(name)) {
          problems.push(`provider name ${JSON.stringify(truncate(raw))} must be lower-case letters, digits or _ (starting with a letter, at most 32): it appears in routes and variable names`)
          continue
        }
        inputs.push({ name, input: { ...providerFromEnv(env, name), ...definedOnly(own ?? {}) } })
      }
      if (inputs.length === 0) problems.push('OAUTH_PROVIDERS lists no provider (a comma list of names, e.g. github,corp)')
    }
    // a provider setting given for the whole app would apply to none of them: refused, not ignored
    for (const option of PROVIDER_OPTIONS) {
      if (merged[option] === undefined) continue
      const variable = variableOf(option)
      problems.push(`${variable} (option ${option}) belongs to one provider: with several, set ${providerVariable(variable, '<NAME>')} (providers.<name>.${option})`)
    }
  }
  const variable = (name: string) => (option: keyof OAuthOptions) => (named ? providerVariable(variableOf(option), name) : variableOf(option))

  const profile = merged.profile
  if (profile !== undefined && profile !== 'fapi2') problems.push(`OAUTH_PROFILE must be fapi2 or unset (got ${JSON.stringify(profile)})`)
  const fapi2 = profile === 'fapi2'

  let baseUrl = check.url('OAUTH_BASE_URL', merged.baseUrl, { allowHttp: true })
  // the first provider's redirect URI gives the base URL when it is not set (checked with the provider)
  const firstRedirect = quietUrl(inputs[0]?.input.redirectUri)
  if (!baseUrl && firstRedirect) baseUrl = new URL(firstRedirect.origin)
  const basePath = (baseUrl?.pathname ?? '/').replace(/\/$/, '')
  const routes = {
    login: merged.routes?.login ?? '/auth/login',
    // a registered redirect URI names the callback route (under the base URL's path)
    callback: merged.routes?.callback ?? (!named && firstRedirect?.pathname.startsWith(`${basePath}/`) ? firstRedirect.pathname.slice(basePath.length) : '/auth/callback'),
    logout: merged.routes?.logout ?? '/auth/logout',
    backchannelLogout: merged.routes?.backchannelLogout ?? '/auth/backchannel-logout',
  }
  for (const [name, path] of Object.entries(routes)) {
    if (!path.startsWith('/') || /[?#\s]/.test(path)) problems.push(`routes.${name} must be a path starting with / (got ${JSON.stringify(path)})`)
  }

  if (!baseUrl && merged.baseUrl === undefined) problems.push('OAUTH_BASE_URL is required (the app\'s external origin, e.g. https://app.example.com)')
  if (baseUrl && (baseUrl.search || baseUrl.hash || baseUrl.username)) problems.push('OAUTH_BASE_URL must be an origin (with an optional path), without query, fragment or credentials')
  const base = baseUrl && new URL(baseUrl.href.endsWith('/') ? baseUrl.href : `${baseUrl.href}/`)

  const secrets = (typeof merged.cookieSecret === 'string' ? merged.cookieSecret.split(',') : [...(merged.cookieSecret ?? [])])
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '')
  if (secrets.length === 0) problems.push('OAUTH_COOKIE_SECRET is required (at least 32 characters; e.g. `openssl rand -base64 32`)')
  secrets.forEach((secret, index) => {
    if (secret.length < 32) {
      problems.push(`OAUTH_COOKIE_SECRET${secrets.length > 1 ? ` (key ${index + 1})` : ''} must be at least 32 characters (got ${secret.length})`)
    }
  })

  let sessionStore: OAuthConfig['sessionStore'] = 'cookie'
  let redis: RedisOpener | undefined
  const store = merged.sessionStore
  // checked whatever the store: an invalid value is a mistake even while Redis is not in use
  const redisCluster = check.flag('OAUTH_REDIS_CLUSTER', merged.redisCluster)
  const redisTimeout = merged.redisTimeout === undefined ? undefined : check.positive('OAUTH_REDIS_TIMEOUT', merged.redisTimeout, 2000)
  if (typeof store === 'object') sessionStore = store
  else if (store === 'cookie' || store === 'memory' || store === undefined) sessionStore = store ?? 'cookie'
  else if (store === 'redis') {
    const prepared = prepareRedisStore({ url: merged.redisUrl, cluster: redisCluster, prefix: merged.redisPrefix, timeout: redisTimeout }, logger)
    if (typeof prepared === 'string') problems.push(prepared)
    else {
      sessionStore = 'redis'
      redis = prepared
    }
  } else problems.push(`OAUTH_SESSION_STORE must be cookie, memory or redis (got ${JSON.stringify(store)})`)
  const backchannelLogout = check.flag('OAUTH_BACKCHANNEL_LOGOUT', merged.backchannelLogout)
  // Redis indexes sessions; cookie sessions and a store without tags cannot
  if (backchannelLogout && (sessionStore === 'cookie' || (typeof sessionStore === 'object' && !isCoordinating(sessionStore)))) {
    problems.push('OAUTH_BACKCHANNEL_LOGOUT needs a server-side session store that can find sessions by user (OAUTH_SESSION_STORE=redis, or memory for a single process): cookie sessions cannot be ended from the server')
  }

  const responseMode = check.oneOf('OAUTH_RESPONSE_MODE', merged.responseMode, ['query', 'form_post'] as const, 'query')
  const sessionMaxAge = check.positive('OAUTH_SESSION_MAX_AGE', merged.sessionMaxAge, 7 * 24 * 3600)
  const sessionIdleTimeout = check.positive('OAUTH_SESSION_IDLE_TIMEOUT', merged.sessionIdleTimeout, 24 * 3600)
  const sessionCacheSize = Math.floor(check.positive('OAUTH_SESSION_CACHE_SIZE', merged.sessionCacheSize, 10_000))
  const httpTimeout = check.positive('OAUTH_HTTP_TIMEOUT', merged.httpTimeout, 5000)
  const refreshSkew = check.positive('OAUTH_REFRESH_SKEW', merged.refreshSkew, 30)
  const clockTolerance = check.positive('OAUTH_CLOCK_TOLERANCE', merged.clockTolerance, 30)
  const trustProxy = check.flag('OAUTH_TRUST_PROXY', merged.trustProxy)
  const debug = check.flag('OAUTH_DEBUG', merged.debug)
  const loginQueryParams = parseQueryAllowList(merged.loginQueryParams, problems)
  const silentLogin = check.flag('OAUTH_SILENT_LOGIN', merged.silentLogin)

  const providers = inputs.map(({ name, input }) =>
    resolveProvider(name, input, { check, variable: variable(name), named, base, basePath, routes, fapi2, clockTolerance, logger }),
  )
  problems.push(...overlaps(providers, routes, named))
  let defaultProvider: string | undefined = named ? (providers.length === 1 ? providers[0]!.name : undefined) : 'default'
  if (merged.defaultProvider !== undefined) {
    const wanted = String(merged.defaultProvider).trim().toLowerCase()
    if (!named) problems.push('OAUTH_DEFAULT_PROVIDER needs several providers (OAUTH_PROVIDERS); with one it is the default already')
    else if (!providers.some((provider) => provider.name === wanted)) problems.push(`OAUTH_DEFAULT_PROVIDER must be one of the providers (${providers.map((provider) => provider.name).join(', ')}; got ${JSON.stringify(truncate(wanted))})`)
    else defaultProvider = wanted
  }

  if (problems.length > 0 || !base || providers.length === 0) {
    throw new CodegrantError(
      'codegrant/config_invalid',
      `codegrant configuration is invalid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    )
  }
  const secure = base.protocol === 'https:'
  if (!secure && !isLoopback(base)) {
    logger.warn(`OAUTH_BASE_URL ${base.origin} is plain http: cookies cannot be Secure; use https outside development`)
  }
  for (const warning of unknownVariables(env, named ? providers.map((provider) => provider.name) : [])) logger.warn(warning)
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    logger.warn('NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate checks for every call to the provider; never use it in production')
  }

  return Object.freeze({
    ...providers[0]!,
    baseUrl: base,
    cookieSecrets: Object.freeze(secrets),
    secure,
    sessionStore,
    ...(redis ? { redis } : {}),
    sessionMaxAge,
    sessionIdleTimeout,
    sessionCacheSize,
    profile: fapi2 ? 'fapi2' : undefined,
    responseMode,
    httpTimeout,
    refreshSkew,
    trustProxy,
    clockTolerance,
    backchannelLogout,
    routes: Object.freeze(routes),
    logger,
    debug,
    loginQueryParams,
    silentLogin,
    onLogin: typeof merged.onLogin === 'function' ? merged.onLogin : undefined,
    providers: Object.freeze(providers),
    named,
    defaultProvider,
  })
}

interface ProviderContext {
  check: Checks
  /** The variable a problem names: `OAUTH_CLIENT_ID`, or `OAUTH_GITHUB_CLIENT_ID` with several providers. */
  variable: (option: keyof OAuthOptions) => string
  named: boolean
  base: URL | undefined
  basePath: string
  routes: { login: string; callback: string }
  fapi2: boolean
  clockTolerance: number
  logger: FullLogger
}

/** One provider's settings, validated (problems pushed, each naming the provider's variable). */
function resolveProvider(name: string, given: ProviderOptions, context: ProviderContext): ProviderSettings {
  const { check, named, base, basePath, routes, fapi2 } = context
  const { problems } = check
  const v = context.variable
  // the preset fills what is unset; a provider named like a preset (`github`) uses that one
  const { settings: input, preset } = applyPreset(
    named && given.preset === undefined && Object.hasOwn(PRESETS, name) ? { ...given, preset: name as PresetName } : given,
    problems,
    v('preset').replace(/PRESET$/, ''),
  )
  const endpoints = {
    authorization: check.url(v('authorizationEndpoint'), input.authorizationEndpoint)?.href,
    token: check.url(v('tokenEndpoint'), input.tokenEndpoint)?.href,
    userinfo: check.url(v('userinfoEndpoint'), input.userinfoEndpoint)?.href,
    revocation: check.url(v('revocationEndpoint'), input.revocationEndpoint)?.href,
    endSession: check.url(v('endSessionEndpoint'), input.endSessionEndpoint)?.href,
    jwks: check.url(v('jwksUri'), input.jwksUri)?.href,
  }
  const explicitEndpoints = endpoints.authorization !== undefined && endpoints.token !== undefined
  const scope = (input.scope ?? 'openid profile email').split(/\s+/).filter(Boolean).join(' ')
  if (explicitEndpoints && !endpoints.jwks && scope.split(' ').includes('openid')) {
    problems.push(`${v('jwksUri')} is required with explicit endpoints and the openid scope (ID token signatures are checked with its keys); or set only ${v('issuer')} to use discovery`)
  }
  const issuerUrl = check.url(v('issuer'), input.issuer, { required: !explicitEndpoints })
  if (!explicitEndpoints && input.issuer === undefined && (endpoints.authorization ?? endpoints.token) !== undefined) {
    problems.push(`${v('authorizationEndpoint')} and ${v('tokenEndpoint')} must be given together (or set ${v('issuer')} for discovery)`)
  }
  if (issuerUrl && issuerUrl.protocol === 'http:' && isLoopback(issuerUrl)) {
    context.logger.warn(`${v('issuer')} ${issuerUrl.origin} is plain http: accepted only because it is loopback (development)`)
  }

  if (!input.clientId) problems.push(`${v('clientId')} is required`)
  const clientAuthMethod = input.clientAuthMethod ?? (fapi2 ? 'private_key_jwt' : 'client_secret_basic')
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'].includes(clientAuthMethod)) {
    problems.push(`${v('clientAuthMethod')} must be one of client_secret_basic, client_secret_post, private_key_jwt, none (got ${JSON.stringify(clientAuthMethod)})`)
  } else if (clientAuthMethod.startsWith('client_secret') && !input.clientSecret) {
    problems.push(`${v('clientSecret')} is required for ${clientAuthMethod}`)
  } else if (clientAuthMethod === 'private_key_jwt' && !input.privateKey) {
    problems.push(`${v('privateKey')} is required for private_key_jwt`)
  }
  const privateKey = input.privateKey === undefined ? undefined : parsePrivateKey(input.privateKey, v('privateKey'))
  if (typeof privateKey === 'string') problems.push(privateKey)
  const clientAssertionAud = input.clientAssertionAud ?? (fapi2 ? 'issuer' : 'token_endpoint')
  if (clientAssertionAud !== 'issuer' && clientAssertionAud !== 'token_endpoint') {
    problems.push(`${v('clientAssertionAud')} must be issuer or token_endpoint (got ${JSON.stringify(clientAssertionAud)})`)
  } else if (clientAssertionAud === 'issuer' && clientAuthMethod === 'private_key_jwt' && explicitEndpoints && input.issuer === undefined) {
    problems.push(`${v('clientAssertionAud')}=issuer needs ${v('issuer')} (the provider's issuer identifier) when the endpoints are given explicitly`)
  }

  // each provider its own callback (RFC 9700 §4.4.2: distinct redirect URIs defend against mix-up)
  const redirect = check.url(v('redirectUri'), input.redirectUri, { allowHttp: true })
  const underBase = redirect && base && redirect.origin === base.origin && redirect.pathname.startsWith(`${basePath}/`)
  const callback = !named ? routes.callback : underBase ? redirect.pathname.slice(basePath.length) : `${routes.callback}/${name}`
  if (redirect && base && (!named ? redirect.origin !== base.origin || redirect.pathname !== `${basePath}${routes.callback}` : !underBase)) {
    problems.push(`${v('redirectUri')} (${redirect.href}) must be OAUTH_BASE_URL + the callback route (${base.origin}${basePath}${callback}), so that the callback reaches this app`)
  }
  const paths = !named
    ? { login: [routes.login], callback: [routes.callback] }
    : { login: [`${routes.login}/${name}`, nested(routes.login, name)], callback: redirect ? [callback] : [callback, nested(routes.callback, name)] }

  const idTokenSigningAlg = input.idTokenSigningAlg
  if (idTokenSigningAlg !== undefined && (idTokenSigningAlg.toLowerCase() === 'none' || /^HS/i.test(idTokenSigningAlg))) {
    problems.push(`${v('idTokenSigningAlg')} must be an asymmetric algorithm such as RS256 or ES256 (got ${JSON.stringify(idTokenSigningAlg)})`)
  }
  const dpop = input.dpop === undefined && fapi2 ? true : check.flag(v('dpop'), input.dpop)
  const dpopAllowBearer = check.flag(v('dpopAllowBearer'), input.dpopAllowBearer)
  const par = input.par === undefined && fapi2 ? true : check.flag(v('par'), input.par)
  if (fapi2) {
    problems.push(...fapi2Problems({ par, dpop, dpopAllowBearer, clientAuthMethod, clientAssertionAud, idTokenSigningAlg, clockTolerance: context.clockTolerance, privateKey }))
  }
  const fetchUserinfo = check.flag(v('fetchUserinfo'), input.fetchUserinfo)
  const postLogout = check.url(v('postLogoutRedirectUri'), input.postLogoutRedirectUri, { allowHttp: true })
  const apiOrigins = (typeof input.apiOrigins === 'string' ? input.apiOrigins.split(',') : [...(input.apiOrigins ?? [])])
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '')
    .map((origin) => check.url(v('apiOrigins'), origin)?.origin)
    .filter((origin): origin is string => origin !== undefined)
  const authorizationParams = parseAuthorizationParams(input.authorizationParams, problems, v('authorizationParams'))
  const fallback = base ?? new URL('http://localhost/')

  return Object.freeze({
    name,
    issuer: issuerUrl ? input.issuer : undefined,
    endpoints: Object.freeze(endpoints),
    explicitEndpoints,
    clientId: input.clientId!,
    clientSecret: input.clientSecret,
    clientAuthMethod: clientAuthMethod as ClientAuthMethod,
    privateKey: typeof privateKey === 'object' ? privateKey : undefined,
    clientAssertionAud,
    redirectUri: redirect?.href ?? new URL(callback.slice(1), fallback).href,
    scope,
    openid: scope.split(' ').includes('openid'),
    postLogoutRedirectUri: postLogout?.href ?? fallback.href,
    par,
    dpop,
    dpopAllowBearer,
    idTokenSigningAlg,
    fetchUserinfo,
    apiOrigins: Object.freeze(apiOrigins),
    authorizationParams,
    paths: Object.freeze({ login: Object.freeze(paths.login), callback: Object.freeze(paths.callback) }),
    preset,
  })
}

/** `/auth/login` and `github` → `/auth/github/login` (the design's spelling, served as an alias). */
function nested(route: string, name: string): string {
  const slash = route.lastIndexOf('/')
  return `${route.slice(0, slash)}/${name}${route.slice(slash)}`
}

/** Two providers with one redirect URI, or a route served twice, cannot tell their responses apart. */
function overlaps(providers: readonly ProviderSettings[], routes: { login: string; logout: string }, named: boolean): string[] {
  if (!named) return []
  const problems: string[] = []
  const seen = new Map<string, string>([[routes.login, 'the login route'], [routes.logout, 'the logout route']])
  const redirects = new Map<string, string>()
  for (const provider of providers) {
    const other = redirects.get(provider.redirectUri)
    if (other) problems.push(`providers ${other} and ${provider.name} have the same redirect URI ${provider.redirectUri}: each needs its own (RFC 9700 §4.4.2, mix-up defence)`)
    redirects.set(provider.redirectUri, provider.name)
    for (const path of [...provider.paths.login, ...provider.paths.callback]) {
      const taken = seen.get(path)
      if (taken && taken !== provider.name) problems.push(`the route ${path} of provider ${provider.name} is also ${taken.startsWith('the ') ? taken : `provider ${taken}'s`}`)
      seen.set(path, provider.name)
    }
  }
  return problems
}

function pickProvider(options: OAuthOptions): ProviderOptions {
  return Object.fromEntries(PROVIDER_OPTIONS.filter((option) => options[option] !== undefined).map((option) => [option, options[option]])) as ProviderOptions
}

function quietUrl(value: unknown): URL | undefined {
  try {
    const url = typeof value === 'string' ? new URL(value) : undefined
    return url && (url.protocol === 'https:' || url.protocol === 'http:') ? url : undefined
  } catch {
    return undefined
  }
}

/** A PEM (PKCS#8, PKCS#1, SEC1; `\\n` escapes allowed) or JWK private key as a JWK, or what is wrong with it. */
function parsePrivateKey(material: string, variable: string): (JsonWebKey & { kid?: string }) | string {
  const trimmed = material.trim()
  let jwk: JsonWebKey & { kid?: string }
  try {
    jwk = trimmed.startsWith('{')
      ? (JSON.parse(trimmed) as JsonWebKey & { kid?: string })
      : createPrivateKey(trimmed.replace(/\\n/g, '\n')).export({ format: 'jwk' })
    if (trimmed.startsWith('{')) createPrivateKey({ key: jwk, format: 'jwk' })
  } catch {
    return `${variable} must be a private key in PEM or JWK (JSON) form`
  }
  const supported = jwk.kty === 'RSA' || (jwk.kty === 'EC' && jwk.crv === 'P-256') || (jwk.kty === 'OKP' && jwk.crv === 'Ed25519')
  return supported ? jwk : `${variable} must be an RSA, P-256 or Ed25519 private key`
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value
}
