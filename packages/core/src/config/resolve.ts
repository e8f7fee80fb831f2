/**
 * `resolveConfig`: options merged over the environment, every setting checked (each problem
 * collected, all reported at once), and the frozen {@link OAuthConfig} every part of codegrant
 * reads. Each step below resolves one group of settings.
 */
import { parseQueryAllowList } from './authorization-params.js'
import { resolveApis, withApis } from './apis.js'
import { checks, isLoopback, truncate, type Checks } from './checks.js'
import { isFapi2, isJwtResponseMode, PROFILES, RESPONSE_MODES, type Profile } from './enums.js'
import { CodegrantError } from '../errors.js'
import { configFromEnv, prefixedVariable, providerFromEnv, variableOf, type Env } from './env.js'
import { fullLogger } from './logger.js'
import type { FullLogger, OAuthOptions, ProviderOptions } from './options.js'
import { resolveProvider, type AppContext } from './provider.js'
import type { OAuthConfig, ProviderSettings } from './resolved.js'
import { resolveSessionStore } from './session-store.js'
import { PROVIDER_SETTINGS } from './settings.js'
import { annotate, strayVariables, type StrayVariable } from './typos.js'
import { isCoordinating } from '../session-types.js'

/** A provider's name: it appears in routes and variable names. */
const PROVIDER_NAME = /^[a-z][a-z0-9_]{0,31}$/

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
  const inputs = providerInputs(merged, env, problems)
  const profile = profileOf(merged, check)
  const fapi2 = isFapi2(profile)
  const site = siteSettings(merged, check, inputs[0]?.input.redirectUri, named)
  const cookieSecrets = cookieSecretsOf(merged, problems)
  const store = resolveSessionStore(merged, check, logger)
  const app = appSettings(merged, check, profile)
  if (app.backchannelLogout && ((store.sessionStore === 'cookie' && !store.redis) || (store.customStore && !isCoordinating(store.customStore)))) {
    // Redis and memory index sessions by user; cookie sessions need Redis's "ended before" records
    problems.push(
      store.sessionStore === 'cookie'
        ? 'OAUTH_BACKCHANNEL_LOGOUT with cookie sessions needs OAUTH_REDIS_URL (a Redis that keeps the small "ended before" records that end cookie sessions from the server), or a server-side session store (OAUTH_SESSION_STORE=redis, or memory for a single process)'
        : 'OAUTH_BACKCHANNEL_LOGOUT needs a server-side session store that can find sessions by user (OAUTH_SESSION_STORE=redis, or memory for a single process)',
    )
  }

  const context: AppContext = { named, base: site.base, basePath: site.basePath, routes: site.routes, fapi2, profile, clockTolerance: app.clockTolerance, logger }
  const alone = inputs.map(({ name, input }) => resolveProvider(name, input, checks(problems, named ? name : undefined), context))
  const apis = resolveApis(merged, env, alone, named, problems)
  const providers = alone.map((provider) => withApis(provider, apis))
  problems.push(...overlaps(providers, site.routes, named))
  const defaultProvider = defaultProviderOf(merged.defaultProvider, providers, named, problems)
  if (providers.some((provider) => provider.ssf) && ((store.sessionStore === 'cookie' && !store.redis) || (store.customStore && !isCoordinating(store.customStore)))) {
    problems.push('OAUTH_SSF needs a server-side session store that can find sessions by user (OAUTH_SESSION_STORE=redis, or memory for a single process) or, with cookie sessions, OAUTH_REDIS_URL (the "ended before" records)')
  }

  if (merged.errorPage !== undefined && typeof merged.errorPage !== 'function') problems.push('errorPage must be a function returning an HTML page (or undefined for codegrant\'s own)')
  const { base } = site
  const strays = strayVariables(env, named ? providers.map((provider) => provider.name) : [], apis.map((api) => api.name))
  if (problems.length > 0 || !base || providers.length === 0) {
    for (const stray of annotate(problems, strays)) logger.warn(stray.warning)
    throw new CodegrantError('codegrant/config_invalid', `codegrant configuration is invalid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`)
  }
  const secure = base.protocol === 'https:'
  warn(logger, base, strays)
  return Object.freeze({
    baseUrl: base,
    cookieSecrets,
    secure,
    ...store,
    ...app,
    profile,
    routes: site.routes,
    logger,
    onLogin: typeof merged.onLogin === 'function' ? merged.onLogin : undefined,
    errorPage: merged.errorPage,
    providers: Object.freeze(providers),
    named,
    defaultProvider,
    apis,
  })
}

/**
 * Each provider's own settings: options over its (prefixed) variables. Without `providers`, one
 * provider named `default` reads the unprefixed settings.
 */
function providerInputs(merged: OAuthOptions, env: Env, problems: string[]): { name: string; input: ProviderOptions }[] {
  if (merged.providers === undefined) return [{ name: 'default', input: merged }]
  const given: unknown = merged.providers
  const inputs: { name: string; input: ProviderOptions }[] = []
  if (typeof given !== 'object' || given === null || Array.isArray(given)) problems.push('providers must be an object of provider settings by name')
  else {
    for (const [raw, own] of Object.entries(merged.providers)) {
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
  for (const { option } of PROVIDER_SETTINGS) {
    if (merged[option] === undefined) continue
    const variable = variableOf(option)
    problems.push(`${variable} (option ${option}) belongs to one provider: with several, set ${prefixedVariable(variable, '<NAME>')} (providers.<name>.${option})`)
  }
  return inputs
}

/** `OAUTH_PROFILE`: one of the FAPI 2.0 profiles, or none. */
function profileOf(merged: OAuthOptions, check: Checks): Profile | undefined {
  const { profile } = merged
  if (profile === undefined) return undefined
  const known = PROFILES.find((name) => name === profile)
  if (!known) check.problems.push(`${check.variable('profile')} must be ${PROFILES.join(', ')} or unset (got ${JSON.stringify(profile)})`)
  return known
}

/**
 * The app's external URL and its routes. Without `OAUTH_BASE_URL`, the (first) provider's
 * redirect URI gives both the origin and, for a single provider, the callback route (checked
 * with the provider).
 */
function siteSettings(merged: OAuthOptions, check: Checks, redirectUri: string | undefined, named: boolean) {
  const { problems } = check
  const redirect = typeof redirectUri === 'string' && URL.canParse(redirectUri) ? new URL(redirectUri) : undefined
  const firstRedirect = redirect && (redirect.protocol === 'https:' || redirect.protocol === 'http:') ? redirect : undefined
  const baseUrl = check.url('baseUrl', merged.baseUrl, { allowHttp: true }) ?? (firstRedirect && new URL(firstRedirect.origin))
  const basePath = (baseUrl?.pathname ?? '/').replace(/\/$/, '')
  const routes = Object.freeze({
    login: merged.routes?.login ?? '/auth/login',
    // a registered redirect URI names the callback route (under the base URL's path)
    callback: merged.routes?.callback ?? (!named && firstRedirect?.pathname.startsWith(`${basePath}/`) ? firstRedirect.pathname.slice(basePath.length) : '/auth/callback'),
    logout: merged.routes?.logout ?? '/auth/logout',
    logoutDone: merged.routes?.logoutDone ?? '/auth/logout/done',
    backchannelLogout: merged.routes?.backchannelLogout ?? '/auth/backchannel-logout',
    frontchannelLogout: merged.routes?.frontchannelLogout ?? '/auth/frontchannel-logout',
    ssf: merged.routes?.ssf ?? '/auth/ssf',
  })
  for (const [name, path] of Object.entries(routes)) {
    if (!path.startsWith('/') || /[?#\s]/.test(path)) problems.push(`routes.${name} must be a path starting with / (got ${JSON.stringify(path)})`)
  }
  if (!baseUrl && merged.baseUrl === undefined) problems.push(`${check.variable('baseUrl')} is required (the app's external origin, e.g. https://app.example.com)`)
  if (baseUrl && (baseUrl.search || baseUrl.hash || baseUrl.username)) problems.push(`${check.variable('baseUrl')} must be an origin (with an optional path), without query, fragment or credentials`)
  const base = baseUrl && new URL(baseUrl.href.endsWith('/') ? baseUrl.href : `${baseUrl.href}/`)
  return { base, basePath, routes }
}

/** `OAUTH_COOKIE_SECRET`: one key or several (a comma list rotates keys), each at least 32 characters. */
function cookieSecretsOf(merged: OAuthOptions, problems: string[]): readonly string[] {
  const secrets = (typeof merged.cookieSecret === 'string' ? merged.cookieSecret.split(',') : [...(merged.cookieSecret ?? [])])
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '')
  if (secrets.length === 0) problems.push('OAUTH_COOKIE_SECRET is required (at least 32 characters; e.g. `openssl rand -base64 32`)')
  secrets.forEach((secret, index) => {
    if (secret.length < 32) {
      problems.push(`OAUTH_COOKIE_SECRET${secrets.length > 1 ? ` (key ${index + 1})` : ''} must be at least 32 characters (got ${secret.length})`)
    }
  })
  return Object.freeze(secrets)
}

/** The app's own settings of plain types: each checked against its type, unset ones the table's default. */
function appSettings(merged: OAuthOptions, check: Checks, profile: Profile | undefined) {
  return {
    backchannelLogout: check.flag('backchannelLogout', merged.backchannelLogout),
    frontchannelLogout: check.flag('frontchannelLogout', merged.frontchannelLogout),
    responseMode: responseModeOf(merged, check, profile),
    sessionMaxAge: check.number('sessionMaxAge', merged.sessionMaxAge),
    sessionIdleTimeout: check.number('sessionIdleTimeout', merged.sessionIdleTimeout),
    sessionCacheSize: Math.floor(check.number('sessionCacheSize', merged.sessionCacheSize)),
    httpTimeout: check.number('httpTimeout', merged.httpTimeout),
    refreshSkew: check.number('refreshSkew', merged.refreshSkew),
    clockTolerance: check.number('clockTolerance', merged.clockTolerance),
    trustProxy: check.flag('trustProxy', merged.trustProxy),
    debug: check.flag('debug', merged.debug),
    loginQueryParams: parseQueryAllowList(merged.loginQueryParams, check.problems),
    silentLogin: check.flag('silentLogin', merged.silentLogin),
    keepProtocolClaims: check.flag('keepProtocolClaims', merged.keepProtocolClaims),
    bff: check.flag('bff', merged.bff) && bffHeaderOf(check.text('bffHeader', merged.bffHeader) ?? 'X-CSRF: 1', check.problems),
  }
}

/**
 * `OAUTH_RESPONSE_MODE`: `jwt` by default under FAPI 2.0 Message Signing, which accepts only
 * JWT-secured authorization responses (JARM).
 */
function responseModeOf(merged: OAuthOptions, check: Checks, profile: Profile | undefined) {
  const messageSigning = profile === 'fapi2-message-signing'
  const mode = check.oneOf('responseMode', merged.responseMode, RESPONSE_MODES, messageSigning ? 'jwt' : undefined)
  if (messageSigning && merged.responseMode === mode && !isJwtResponseMode(mode)) {
    check.problems.push(`OAUTH_PROFILE=fapi2-message-signing requires JWT-secured authorization responses (JARM): set ${check.variable('responseMode')} to jwt, query.jwt or form_post.jwt, or remove it (got ${mode})`)
  }
  return mode
}

/** `OAUTH_BFF_HEADER` (`Name: value`) as a lower-case header name and its exact value. */
function bffHeaderOf(given: string, problems: string[]): { header: string; value: string } {
  const colon = given.indexOf(':')
  const header = given.slice(0, colon).trim().toLowerCase()
  const value = given.slice(colon + 1).trim()
  if (colon === -1 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(header) || value === '' || /[\r\n]/.test(value)) {
    problems.push(`OAUTH_BFF_HEADER must be a header as Name: value, e.g. X-CSRF: 1 (got ${JSON.stringify(given.slice(0, 64))})`)
  }
  return { header, value }
}

/** Where `/auth/login` goes without asking: the only provider, or `OAUTH_DEFAULT_PROVIDER` among several. */
function defaultProviderOf(given: string | undefined, providers: readonly ProviderSettings[], named: boolean, problems: string[]): string | undefined {
  const only = providers.length === 1 ? providers[0]?.name : undefined
  if (given === undefined) return named ? only : 'default'
  const wanted = String(given).trim().toLowerCase()
  if (!named) problems.push('OAUTH_DEFAULT_PROVIDER needs several providers (OAUTH_PROVIDERS); with one it is the default already')
  else if (!providers.some((provider) => provider.name === wanted)) problems.push(`OAUTH_DEFAULT_PROVIDER must be one of the providers (${providers.map((provider) => provider.name).join(', ')}; got ${JSON.stringify(truncate(wanted))})`)
  else return wanted
  return named ? only : 'default'
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

/** What is valid but worth a line at start-up: plain http, variables that are no setting, TLS checks off. */
function warn(logger: FullLogger, base: URL, strays: readonly StrayVariable[]): void {
  if (base.protocol !== 'https:' && !isLoopback(base)) {
    logger.warn(`OAUTH_BASE_URL ${base.origin} is plain http: cookies cannot be Secure; use https outside development`)
  }
  for (const stray of strays) logger.warn(stray.warning)
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    logger.warn('NODE_TLS_REJECT_UNAUTHORIZED=0 disables TLS certificate checks for every call to the provider; never use it in production')
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
