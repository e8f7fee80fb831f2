/**
 * The APIs an app calls on its users' behalf (`OAUTH_APIS`, option `apis`): each API's settings
 * checked, and what they change in its provider's settings — the API's origin joins the
 * `oauth.fetch` allow-list, and a `resource`-grant API's resource indicator and scope join every
 * login (RFC 8707 §2.1–2.2: a refresh-token grant may only narrow what the authorization granted).
 */
import { isLoopback, truncate } from './checks.js'
import { isRecord } from '../json.js'
import { API_TOKEN_MODES, type ApiTokenMode } from './enums.js'
import { apiFromEnv, prefixedVariable, type Env } from './env.js'
import type { ApiOptions, OAuthOptions } from './options.js'
import type { ApiSettings, ProviderSettings } from './resolved.js'
import { API_SETTINGS, type ApiOption } from './settings.js'

/** An API's name: it appears in variable names and in `oauth.fetch('<name>', …)`. */
const API_NAME = /^[a-z][a-z0-9_]{0,31}$/

/** Each API's settings, options over its prefixed variables; every problem pushed to `problems`. */
export function resolveApis(merged: OAuthOptions, env: Env, providers: readonly ProviderSettings[], named: boolean, problems: string[]): readonly ApiSettings[] {
  const given = merged.apis
  if (given === undefined) return Object.freeze([])
  if (!isRecord(given)) {
    problems.push('apis must be an object of API settings by name (OAUTH_APIS=orders,billing)')
    return Object.freeze([])
  }
  const apis: ApiSettings[] = []
  for (const [raw, own] of Object.entries(given)) {
    const name = raw.trim().toLowerCase()
    if (!API_NAME.test(name)) {
      problems.push(`API name ${JSON.stringify(truncate(raw))} must be lower-case letters, digits or _ (starting with a letter, at most 32): it appears in variable names`)
      continue
    }
    if (named && providers.some((provider) => provider.name === name)) {
      problems.push(`API ${name} has the name of a provider: their variables (OAUTH_${name.toUpperCase()}_…) would be the same; rename one`)
      continue
    }
    const api = resolveApi(name, { ...apiFromEnv(env, name), ...definedOnly(own) }, providers, named, problems)
    if (api) apis.push(api)
  }
  if (Object.keys(given).length === 0) problems.push('OAUTH_APIS lists no API (a comma list of names, e.g. orders,billing)')
  return Object.freeze(apis)
}

/** One API's settings, checked; undefined when its URL is unusable (a problem already). */
function resolveApi(name: string, input: ApiOptions, providers: readonly ProviderSettings[], named: boolean, problems: string[]): ApiSettings | undefined {
  const variable = (option: ApiOption) => apiVariable(option, name)
  const url = apiUrl(input.url, variable('url'), problems)
  const resource = resourceOf(input.resource, variable('resource'), problems)
  const audience = textOf(input.audience, variable('audience'), problems)
  const scope = (textOf(input.scope, variable('scope'), problems) ?? '').split(/\s+/).filter(Boolean).join(' ')
  const token = tokenMode(input.token, input.resource === undefined ? 'login' : 'resource', variable('token'), problems)
  // a token for "some API" would be the login's own: each mode but login names its API
  if (token === 'resource' && input.resource === undefined) {
    problems.push(`${variable('token')}=resource needs ${variable('resource')} (RFC 8707: the grant names the API its token is for)`)
  } else if (token === 'exchange' && input.resource === undefined && audience === undefined) {
    problems.push(`${variable('token')}=exchange needs ${variable('resource')} or ${variable('audience')} (RFC 8693 §2.1: the API the token is for)`)
  }
  const provider = providerOf(input.provider, variable('provider'), providers, named, problems)
  if (!url) return undefined
  return Object.freeze({ name, url, resource, audience, scope, token, provider })
}

/** An API setting's variable: `url` of `orders` → `OAUTH_ORDERS_URL`. */
export function apiVariable(option: ApiOption, name: string): string {
  const setting = API_SETTINGS.find((candidate) => candidate.option === option)
  return prefixedVariable(setting?.env[0] ?? option, name)
}

/** The base URL: http(s) (http on loopback only), without query, fragment or credentials; kept ending with `/`. */
function apiUrl(value: unknown, variable: string, problems: string[]): URL | undefined {
  if (value === undefined) {
    problems.push(`${variable} is required (the API's base URL, e.g. https://api.example.com/v1)`)
    return undefined
  }
  const parsed = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    problems.push(`${variable} must be an absolute http(s) URL (got ${JSON.stringify(truncate(String(value)))})`)
    return undefined
  }
  if (parsed.protocol === 'http:' && !isLoopback(parsed)) problems.push(`${variable} must use https (http is only allowed on loopback, got ${parsed.origin})`)
  if (parsed.search || parsed.hash || parsed.username || parsed.password) problems.push(`${variable} must be a base URL without query, fragment or credentials`)
  return new URL(parsed.pathname.endsWith('/') ? `${parsed.origin}${parsed.pathname}` : `${parsed.origin}${parsed.pathname}/`)
}

/** A resource indicator: an absolute URI without a fragment (RFC 8707 §2). */
function resourceOf(value: unknown, variable: string, problems: string[]): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !URL.canParse(value) || value.includes('#')) {
    problems.push(`${variable} must be an absolute URI without a fragment (RFC 8707; got ${JSON.stringify(truncate(String(value)))})`)
    return undefined
  }
  return value
}

function textOf(value: unknown, variable: string, problems: string[]): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return value
  problems.push(`${variable} must be a string (got ${typeof value})`)
  return undefined
}

function tokenMode(value: unknown, fallback: ApiTokenMode, variable: string, problems: string[]): ApiTokenMode {
  if (value === undefined) return fallback
  const known = API_TOKEN_MODES.find((mode) => mode === value)
  if (known) return known
  problems.push(`${variable} must be one of ${API_TOKEN_MODES.join(', ')} (got ${JSON.stringify(truncate(String(value)))})`)
  return fallback
}

/** The provider named, which must be one of the app's; unset: the session's own. */
function providerOf(value: unknown, variable: string, providers: readonly ProviderSettings[], named: boolean, problems: string[]): string | undefined {
  if (value === undefined) return undefined
  const wanted = String(value).trim().toLowerCase()
  if (!named) {
    problems.push(`${variable} needs several providers (OAUTH_PROVIDERS); with one, every session is that provider's`)
    return undefined
  }
  if (!providers.some((provider) => provider.name === wanted)) {
    problems.push(`${variable} must be one of the providers (${providers.map((provider) => provider.name).join(', ')}; got ${JSON.stringify(truncate(wanted))})`)
    return undefined
  }
  return wanted
}

/**
 * A provider's settings with its APIs: their origins in the `oauth.fetch` allow-list, and the
 * resources and scopes of its `resource`-grant APIs in its logins (RFC 8707 §2.1), so that the
 * grant covers them.
 */
export function withApis(provider: ProviderSettings, apis: readonly ApiSettings[]): ProviderSettings {
  const own = apis.filter((api) => api.provider === undefined || api.provider === provider.name)
  if (own.length === 0) return provider
  const granted = own.filter((api) => api.token === 'resource')
  const resources = [...new Set([...(provider.authorizationParams.resource ?? []), ...granted.flatMap((api) => (api.resource ? [api.resource] : []))])]
  const scope = [...new Set([...provider.scope.split(' '), ...granted.flatMap((api) => api.scope.split(' '))].filter(Boolean))].join(' ')
  return Object.freeze({
    ...provider,
    apiOrigins: Object.freeze([...new Set([...provider.apiOrigins, ...own.map((api) => api.url.origin)])]),
    authorizationParams: Object.freeze({ ...provider.authorizationParams, ...(resources.length ? { resource: Object.freeze(resources) } : {}) }),
    loginScope: scope,
  })
}

/** The API variables known for `apis` (typos warn about the rest). */
export function apiVariables(apis: readonly string[]): string[] {
  return apis.flatMap((name) => API_SETTINGS.map((setting) => prefixedVariable(setting.env[0] ?? '', name)))
}

/** The options given, less those set to undefined (which must not hide a variable). */
function definedOnly(value: ApiOptions | undefined): ApiOptions {
  const options: ApiOptions = {}
  for (const option of API_SETTINGS.map((setting) => setting.option)) {
    if (value?.[option] !== undefined) Object.assign(options, { [option]: value[option] })
  }
  return options
}
