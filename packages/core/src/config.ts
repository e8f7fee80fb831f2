import { createPrivateKey, type JsonWebKey } from 'node:crypto'
import { CodegrantError } from './errors.js'
import { fapi2Problems } from './profile.js'
import { parseAuthorizationParams, parseQueryAllowList, type AuthorizationParams, type AuthorizationParamsInput } from './flow/authorization-params.js'
import type { LoginHook } from './flow/on-login.js'
import { prepareRedisStore } from './session/redis-loader.js'
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
  /** With `redis`: milliseconds before a Redis call fails (the request answers 503), default 2000. */
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
}

/** The validated, frozen configuration every part of codegrant reads. */
export interface OAuthConfig {
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
  readonly baseUrl: URL
  readonly redirectUri: string
  readonly scope: string
  readonly openid: boolean
  readonly cookieSecrets: readonly string[]
  readonly secure: boolean
  readonly sessionStore: 'cookie' | 'memory' | SessionStore
  readonly sessionMaxAge: number
  readonly sessionIdleTimeout: number
  readonly sessionCacheSize: number
  readonly postLogoutRedirectUri: string
  readonly par: boolean
  readonly dpop: boolean
  readonly dpopAllowBearer: boolean
  readonly profile: Profile | undefined
  readonly responseMode: ResponseMode
  readonly httpTimeout: number
  readonly refreshSkew: number
  readonly fetchUserinfo: boolean
  readonly trustProxy: boolean
  /** Configured pin; undefined: chosen from the provider's metadata (RS256 first). */
  readonly idTokenSigningAlg: string | undefined
  readonly clockTolerance: number
  readonly backchannelLogout: boolean
  readonly routes: Readonly<{ login: string; callback: string; logout: string; backchannelLogout: string }>
  /** Origins (`https://api.example.com`) `oauth.fetch` may send the token to, besides the provider's. */
  readonly apiOrigins: readonly string[]
  readonly logger: FullLogger
  readonly debug: boolean
  /** Extra parameters sent with every authorization request, validated. */
  readonly authorizationParams: AuthorizationParams
  /** Query parameters of the login route forwarded to the provider. */
  readonly loginQueryParams: readonly string[]
  readonly silentLogin: boolean
  readonly onLogin: LoginHook | undefined
}

type Env = Readonly<Record<string, string | undefined>>

/** `OAUTH_*` names first; express-openid-connect's names are accepted as aliases. */
const ENV_NAMES = {
  issuer: ['OAUTH_ISSUER', 'ISSUER_BASE_URL'],
  authorizationEndpoint: ['OAUTH_AUTHORIZATION_ENDPOINT'],
  tokenEndpoint: ['OAUTH_TOKEN_ENDPOINT'],
  userinfoEndpoint: ['OAUTH_USERINFO_ENDPOINT'],
  revocationEndpoint: ['OAUTH_REVOCATION_ENDPOINT'],
  endSessionEndpoint: ['OAUTH_END_SESSION_ENDPOINT'],
  jwksUri: ['OAUTH_JWKS_URI'],
  clientId: ['OAUTH_CLIENT_ID', 'CLIENT_ID'],
  clientSecret: ['OAUTH_CLIENT_SECRET', 'CLIENT_SECRET'],
  clientAuthMethod: ['OAUTH_CLIENT_AUTH_METHOD'],
  privateKey: ['OAUTH_PRIVATE_KEY'],
  clientAssertionAud: ['OAUTH_CLIENT_ASSERTION_AUD'],
  baseUrl: ['OAUTH_BASE_URL', 'BASE_URL'],
  redirectUri: ['OAUTH_REDIRECT_URI'],
  scope: ['OAUTH_SCOPE'],
  cookieSecret: ['OAUTH_COOKIE_SECRET', 'SECRET'],
  sessionStore: ['OAUTH_SESSION_STORE'],
  redisUrl: ['OAUTH_REDIS_URL'],
  redisCluster: ['OAUTH_REDIS_CLUSTER'],
  redisPrefix: ['OAUTH_REDIS_PREFIX'],
  redisTimeout: ['OAUTH_REDIS_TIMEOUT'],
  backchannelLogout: ['OAUTH_BACKCHANNEL_LOGOUT'],
  sessionMaxAge: ['OAUTH_SESSION_MAX_AGE'],
  sessionIdleTimeout: ['OAUTH_SESSION_IDLE_TIMEOUT'],
  sessionCacheSize: ['OAUTH_SESSION_CACHE_SIZE'],
  postLogoutRedirectUri: ['OAUTH_POST_LOGOUT_REDIRECT_URI'],
  par: ['OAUTH_PAR'],
  dpop: ['OAUTH_DPOP'],
  dpopAllowBearer: ['OAUTH_DPOP_ALLOW_BEARER'],
  profile: ['OAUTH_PROFILE'],
  responseMode: ['OAUTH_RESPONSE_MODE'],
  httpTimeout: ['OAUTH_HTTP_TIMEOUT'],
  refreshSkew: ['OAUTH_REFRESH_SKEW'],
  fetchUserinfo: ['OAUTH_FETCH_USERINFO'],
  trustProxy: ['OAUTH_TRUST_PROXY'],
  debug: ['OAUTH_DEBUG'],
  idTokenSigningAlg: ['OAUTH_ID_TOKEN_SIGNING_ALG'],
  clockTolerance: ['OAUTH_CLOCK_TOLERANCE'],
  apiOrigins: ['OAUTH_API_ORIGINS'],
  authorizationParams: ['OAUTH_AUTHORIZATION_PARAMS'],
  loginQueryParams: ['OAUTH_LOGIN_QUERY_PARAMS'],
  silentLogin: ['OAUTH_SILENT_LOGIN'],
} as const satisfies Partial<Record<keyof OAuthOptions, readonly string[]>>

type EnvBacked = keyof typeof ENV_NAMES
const NUMBERS = new Set<EnvBacked>(['sessionMaxAge', 'sessionIdleTimeout', 'sessionCacheSize', 'httpTimeout', 'refreshSkew', 'clockTolerance', 'redisTimeout'])
const BOOLEANS = new Set<EnvBacked>(['par', 'dpop', 'dpopAllowBearer', 'fetchUserinfo', 'trustProxy', 'debug', 'silentLogin', 'redisCluster', 'backchannelLogout'])

/**
 * Reads every codegrant setting from an environment (usually `process.env`).
 * Values are returned raw where they cannot be parsed, so that {@link resolveConfig}
 * reports them together with every other problem.
 */
export function configFromEnv(env: Env): OAuthOptions {
  const options: Record<string, unknown> = {}
  for (const [key, names] of Object.entries(ENV_NAMES) as [EnvBacked, readonly string[]][]) {
    const raw = names.map((name) => env[name]).find((value) => value !== undefined && value.trim() !== '')
    if (raw === undefined) continue
    const value = raw.trim()
    if (NUMBERS.has(key)) options[key] = /^\d+$/.test(value) ? Number(value) : value
    else if (BOOLEANS.has(key)) options[key] = parseBoolean(value) ?? value
    else options[key] = value
  }
  return options as OAuthOptions
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

/**
 * Merges `options` over the environment, validates everything, and returns a frozen
 * {@link OAuthConfig}. Never mutates its arguments.
 *
 * @throws {CodegrantError} `codegrant/config_invalid`, listing every problem at once.
 */
export function resolveConfig(options: OAuthOptions = {}, env: Env = process.env): OAuthConfig {
  const merged: OAuthOptions = { ...configFromEnv(env), ...definedOnly(options) }
  const problems: string[] = []
  const logger = fullLogger(merged.logger, merged.debug === true)

  const url = (name: string, value: string | undefined, required = false): URL | undefined => {
    if (value === undefined) {
      if (required) problems.push(`${name} is required`)
      return undefined
    }
    try {
      const parsed = new URL(value)
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError()
      if (parsed.protocol === 'http:' && !isLoopback(parsed) && name !== 'OAUTH_BASE_URL' && name !== 'OAUTH_REDIRECT_URI' && name !== 'OAUTH_POST_LOGOUT_REDIRECT_URI') {
        problems.push(`${name} must use https (http is only allowed on loopback, got ${parsed.origin})`)
      }
      return parsed
    } catch {
      problems.push(`${name} must be an absolute http(s) URL (got ${JSON.stringify(truncate(value))})`)
      return undefined
    }
  }
  const positive = (name: string, value: unknown, fallback: number): number => {
    if (value === undefined) return fallback
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
    problems.push(`${name} must be a non-negative number (got ${JSON.stringify(value)})`)
    return fallback
  }
  const flag = (name: string, value: unknown): boolean => {
    if (value === undefined) return false
    if (typeof value === 'boolean') return value
    problems.push(`${name} must be true or false (got ${JSON.stringify(value)})`)
    return false
  }

  const endpoints = {
    authorization: url('OAUTH_AUTHORIZATION_ENDPOINT', merged.authorizationEndpoint)?.href,
    token: url('OAUTH_TOKEN_ENDPOINT', merged.tokenEndpoint)?.href,
    userinfo: url('OAUTH_USERINFO_ENDPOINT', merged.userinfoEndpoint)?.href,
    revocation: url('OAUTH_REVOCATION_ENDPOINT', merged.revocationEndpoint)?.href,
    endSession: url('OAUTH_END_SESSION_ENDPOINT', merged.endSessionEndpoint)?.href,
    jwks: url('OAUTH_JWKS_URI', merged.jwksUri)?.href,
  }
  const explicitEndpoints = endpoints.authorization !== undefined && endpoints.token !== undefined
  const scope = (merged.scope ?? 'openid profile email').split(/\s+/).filter(Boolean).join(' ')
  if (explicitEndpoints && !endpoints.jwks && scope.split(' ').includes('openid')) {
    problems.push('OAUTH_JWKS_URI is required with explicit endpoints and the openid scope (ID token signatures are checked with its keys); or set only OAUTH_ISSUER to use discovery')
  }
  const issuerUrl = url('OAUTH_ISSUER', merged.issuer, !explicitEndpoints)
  if (!explicitEndpoints && merged.issuer === undefined && (endpoints.authorization ?? endpoints.token) !== undefined) {
    problems.push('OAUTH_AUTHORIZATION_ENDPOINT and OAUTH_TOKEN_ENDPOINT must be given together (or set OAUTH_ISSUER for discovery)')
  }
  if (issuerUrl && issuerUrl.protocol === 'http:' && isLoopback(issuerUrl)) {
    logger.warn(`OAUTH_ISSUER ${issuerUrl.origin} is plain http: accepted only because it is loopback (development)`)
  }

  if (!merged.clientId) problems.push('OAUTH_CLIENT_ID is required')
  const profile = merged.profile
  if (profile !== undefined && profile !== 'fapi2') problems.push(`OAUTH_PROFILE must be fapi2 or unset (got ${JSON.stringify(profile)})`)
  const fapi2 = profile === 'fapi2'
  const clientAuthMethod = merged.clientAuthMethod ?? (fapi2 ? 'private_key_jwt' : 'client_secret_basic')
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'].includes(clientAuthMethod)) {
    problems.push(`OAUTH_CLIENT_AUTH_METHOD must be one of client_secret_basic, client_secret_post, private_key_jwt, none (got ${JSON.stringify(clientAuthMethod)})`)
  } else if (clientAuthMethod.startsWith('client_secret') && !merged.clientSecret) {
    problems.push(`OAUTH_CLIENT_SECRET is required for ${clientAuthMethod}`)
  } else if (clientAuthMethod === 'private_key_jwt' && !merged.privateKey) {
    problems.push('OAUTH_PRIVATE_KEY is required for private_key_jwt')
  }
  const privateKey = merged.privateKey === undefined ? undefined : parsePrivateKey(merged.privateKey)
  if (typeof privateKey === 'string') problems.push(privateKey)
  const clientAssertionAud = merged.clientAssertionAud ?? (fapi2 ? 'issuer' : 'token_endpoint')
  if (clientAssertionAud !== 'issuer' && clientAssertionAud !== 'token_endpoint') {
    problems.push(`OAUTH_CLIENT_ASSERTION_AUD must be issuer or token_endpoint (got ${JSON.stringify(clientAssertionAud)})`)
  } else if (clientAssertionAud === 'issuer' && clientAuthMethod === 'private_key_jwt' && explicitEndpoints && merged.issuer === undefined) {
    problems.push('OAUTH_CLIENT_ASSERTION_AUD=issuer needs OAUTH_ISSUER (the provider\'s issuer identifier) when the endpoints are given explicitly')
  }

  let baseUrl = url('OAUTH_BASE_URL', merged.baseUrl)
  const redirect = url('OAUTH_REDIRECT_URI', merged.redirectUri)
  if (!baseUrl && redirect) baseUrl = new URL(redirect.origin)
  const basePath = (baseUrl?.pathname ?? '/').replace(/\/$/, '')
  const routes = {
    login: merged.routes?.login ?? '/auth/login',
    // a registered redirect URI names the callback route (under the base URL's path)
    callback: merged.routes?.callback ?? (redirect?.pathname.startsWith(`${basePath}/`) ? redirect.pathname.slice(basePath.length) : '/auth/callback'),
    logout: merged.routes?.logout ?? '/auth/logout',
    backchannelLogout: merged.routes?.backchannelLogout ?? '/auth/backchannel-logout',
  }
  if (redirect && baseUrl && (redirect.origin !== baseUrl.origin || redirect.pathname !== `${basePath}${routes.callback}`)) {
    problems.push(`OAUTH_REDIRECT_URI (${redirect.href}) must be OAUTH_BASE_URL + the callback route (${baseUrl.origin}${basePath}${routes.callback}), so that the callback reaches this app`)
  }
  for (const [name, path] of Object.entries(routes)) {
    if (!path.startsWith('/') || /[?#\s]/.test(path)) problems.push(`routes.${name} must be a path starting with / (got ${JSON.stringify(path)})`)
  }

  if (!baseUrl && merged.baseUrl === undefined) problems.push('OAUTH_BASE_URL is required (the app\'s external origin, e.g. https://app.example.com)')
  if (baseUrl && (baseUrl.search || baseUrl.hash || baseUrl.username)) problems.push('OAUTH_BASE_URL must be an origin (with an optional path), without query, fragment or credentials')

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
  let openRedis: (() => SessionStore) | undefined
  const store = merged.sessionStore
  if (typeof store === 'object') sessionStore = store
  else if (store === 'cookie' || store === 'memory' || store === undefined) sessionStore = store ?? 'cookie'
  else if (store === 'redis') {
    const redisCluster = flag('OAUTH_REDIS_CLUSTER', merged.redisCluster)
    const redisTimeout = merged.redisTimeout === undefined ? undefined : positive('OAUTH_REDIS_TIMEOUT', merged.redisTimeout, 2000)
    const prepared = prepareRedisStore({ url: merged.redisUrl, cluster: redisCluster, prefix: merged.redisPrefix, timeout: redisTimeout }, logger)
    if (typeof prepared === 'string') problems.push(prepared)
    else openRedis = prepared
  } else problems.push(`OAUTH_SESSION_STORE must be cookie, memory or redis (got ${JSON.stringify(store)})`)
  const backchannelLogout = flag('OAUTH_BACKCHANNEL_LOGOUT', merged.backchannelLogout)
  if (backchannelLogout && (sessionStore === 'cookie' || (typeof sessionStore === 'object' && !isCoordinating(sessionStore)))) {
    problems.push('OAUTH_BACKCHANNEL_LOGOUT needs a server-side session store that can find sessions by user (OAUTH_SESSION_STORE=redis, or memory for a single process): cookie sessions cannot be ended from the server')
  } else if (backchannelLogout) {
    // the store side (sessions indexed by provider sid and sub, one-time jti keys) is in place; the route is not
    problems.push('OAUTH_BACKCHANNEL_LOGOUT is not served by this version of codegrant yet (no /auth/backchannel-logout route): unset it; logout on one instance already ends the session on all with a server-side store')
  }
  // named in the design, not built yet: refused rather than silently ignored
  for (const name of ['OAUTH_PROVIDERS', 'OAUTH_PRESET']) {
    if (env[name]?.trim()) problems.push(`${name} is not supported by this version of codegrant yet: configure one provider with OAUTH_ISSUER (or explicit endpoints)`)
  }

  const responseMode = merged.responseMode ?? 'query'
  if (responseMode !== 'query' && responseMode !== 'form_post') problems.push(`OAUTH_RESPONSE_MODE must be query or form_post (got ${JSON.stringify(responseMode)})`)

  const idTokenSigningAlg = merged.idTokenSigningAlg
  if (idTokenSigningAlg !== undefined && (idTokenSigningAlg.toLowerCase() === 'none' || /^HS/i.test(idTokenSigningAlg))) {
    problems.push(`OAUTH_ID_TOKEN_SIGNING_ALG must be an asymmetric algorithm such as RS256 or ES256 (got ${JSON.stringify(idTokenSigningAlg)})`)
  }
  const dpop = merged.dpop === undefined && fapi2 ? true : flag('OAUTH_DPOP', merged.dpop)
  const dpopAllowBearer = flag('OAUTH_DPOP_ALLOW_BEARER', merged.dpopAllowBearer)

  const sessionMaxAge = positive('OAUTH_SESSION_MAX_AGE', merged.sessionMaxAge, 7 * 24 * 3600)
  const sessionIdleTimeout = positive('OAUTH_SESSION_IDLE_TIMEOUT', merged.sessionIdleTimeout, 24 * 3600)
  const sessionCacheSize = Math.floor(positive('OAUTH_SESSION_CACHE_SIZE', merged.sessionCacheSize, 10_000))
  const httpTimeout = positive('OAUTH_HTTP_TIMEOUT', merged.httpTimeout, 5000)
  const refreshSkew = positive('OAUTH_REFRESH_SKEW', merged.refreshSkew, 30)
  const clockTolerance = positive('OAUTH_CLOCK_TOLERANCE', merged.clockTolerance, 30)
  const par = merged.par === undefined && fapi2 ? true : flag('OAUTH_PAR', merged.par)
  if (fapi2) {
    problems.push(...fapi2Problems({ par, dpop, dpopAllowBearer, clientAuthMethod, clientAssertionAud, idTokenSigningAlg, clockTolerance, privateKey }))
  }
  const fetchUserinfo = flag('OAUTH_FETCH_USERINFO', merged.fetchUserinfo)
  const trustProxy = flag('OAUTH_TRUST_PROXY', merged.trustProxy)
  const debug = flag('OAUTH_DEBUG', merged.debug)
  const postLogout = url('OAUTH_POST_LOGOUT_REDIRECT_URI', merged.postLogoutRedirectUri)
  const apiOrigins = (typeof merged.apiOrigins === 'string' ? merged.apiOrigins.split(',') : [...(merged.apiOrigins ?? [])])
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '')
    .map((origin) => url('OAUTH_API_ORIGINS', origin)?.origin)
    .filter((origin): origin is string => origin !== undefined)
  const authorizationParams = parseAuthorizationParams(merged.authorizationParams, problems)
  const loginQueryParams = parseQueryAllowList(merged.loginQueryParams, problems)
  const silentLogin = flag('OAUTH_SILENT_LOGIN', merged.silentLogin)

  if (problems.length > 0 || !baseUrl) {
    throw new CodegrantError(
      'codegrant/config_invalid',
      `codegrant configuration is invalid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`,
    )
  }
  const base = new URL(baseUrl.href.endsWith('/') ? baseUrl.href : `${baseUrl.href}/`)
  const secure = base.protocol === 'https:'
  if (!secure && !isLoopback(base)) {
    logger.warn(`OAUTH_BASE_URL ${base.origin} is plain http: cookies cannot be Secure; use https outside development`)
  }
  if (openRedis) sessionStore = openRedis()
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    logger.warn('NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate checks for every call to the provider; never use it in production')
  }

  return Object.freeze({
    issuer: issuerUrl ? merged.issuer : undefined,
    endpoints: Object.freeze(endpoints),
    explicitEndpoints,
    clientId: merged.clientId!,
    clientSecret: merged.clientSecret,
    clientAuthMethod,
    privateKey: typeof privateKey === 'object' ? privateKey : undefined,
    clientAssertionAud,
    baseUrl: base,
    redirectUri: redirect?.href ?? new URL(routes.callback.slice(1), base).href,
    scope,
    openid: scope.split(' ').includes('openid'),
    cookieSecrets: Object.freeze(secrets),
    secure,
    sessionStore,
    sessionMaxAge,
    sessionIdleTimeout,
    sessionCacheSize,
    postLogoutRedirectUri: postLogout?.href ?? base.href,
    par,
    dpop,
    dpopAllowBearer,
    profile: fapi2 ? 'fapi2' : undefined,
    responseMode,
    httpTimeout,
    refreshSkew,
    fetchUserinfo,
    trustProxy,
    idTokenSigningAlg,
    clockTolerance,
    backchannelLogout,
    routes: Object.freeze(routes),
    apiOrigins: Object.freeze(apiOrigins),
    logger,
    debug,
    authorizationParams,
    loginQueryParams,
    silentLogin,
    onLogin: typeof merged.onLogin === 'function' ? merged.onLogin : undefined,
  })
}

/** A PEM (PKCS#8, PKCS#1, SEC1; `\\n` escapes allowed) or JWK private key as a JWK, or what is wrong with it. */
function parsePrivateKey(material: string): (JsonWebKey & { kid?: string }) | string {
  const trimmed = material.trim()
  let jwk: JsonWebKey & { kid?: string }
  try {
    jwk = trimmed.startsWith('{')
      ? (JSON.parse(trimmed) as JsonWebKey & { kid?: string })
      : createPrivateKey(trimmed.replace(/\\n/g, '\n')).export({ format: 'jwk' })
    if (trimmed.startsWith('{')) createPrivateKey({ key: jwk, format: 'jwk' })
  } catch {
    return 'OAUTH_PRIVATE_KEY must be a private key in PEM or JWK (JSON) form'
  }
  const supported = jwk.kty === 'RSA' || (jwk.kty === 'EC' && jwk.crv === 'P-256') || (jwk.kty === 'OKP' && jwk.crv === 'Ed25519')
  return supported ? jwk : 'OAUTH_PRIVATE_KEY must be an RSA, P-256 or Ed25519 private key'
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value
}
