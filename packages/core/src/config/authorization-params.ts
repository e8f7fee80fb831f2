/**
 * Extra authorization request parameters (`audience`, `resource`, `prompt`, `acr_values`,
 * `max_age`, `ui_locales`, `login_hint`, …): from the configuration, from the app for one login
 * (`oauth.login({...})`), and from the browser's query string only where the app allows a name.
 * The protocol's own parameters can never be set this way. OpenID Connect Core 1.0 §3.1.2.1,
 * RFC 8707 (`resource`, may repeat).
 */

/** Parameters that codegrant alone sets: refused in configuration, ignored anywhere else. */
export const PROTECTED_PARAMS: ReadonlySet<string> = new Set([
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'redirect_uri',
  'response_type',
  'client_id',
  'request_uri',
  'request',
  'dpop_jkt',
])

/** Parameters that have a setting of their own. */
const OWN_SETTING: Readonly<Record<string, string>> = { scope: 'OAUTH_SCOPE', response_mode: 'OAUTH_RESPONSE_MODE' }

/** Parameter name → its values (more than one only for `resource`). */
export type AuthorizationParams = Readonly<Record<string, readonly string[]>>

/** What `authorizationParams` may be given as: an object, or the query-string form of the environment. */
export type AuthorizationParamsInput = string | Readonly<Record<string, string | number | readonly string[] | undefined>>

/** What the app may ask for when it starts one login itself. */
export interface LoginOptions {
  /** Where to land after login: a same-origin path (anything else lands on `/`). */
  returnTo?: string
  /**
   * With several providers: which one to sign in with (default: the session's provider, else
   * `defaultProvider`; without either, a TypeError).
   */
  provider?: string
  /** `login_hint`: the user's identifier, to prefill the provider's form. */
  loginHint?: string
  /** `ui_locales`: preferred languages, e.g. `['fr-CA', 'fr']`. */
  uiLocales?: string | readonly string[]
  /** `prompt`: `login`, `consent`, `select_account`, `none`, or several. */
  prompt?: string | readonly string[]
  /** `max_age`: seconds since the user last authenticated at the provider; `auth_time` is checked. */
  maxAge?: number
  /** `acr_values`: the authentication context classes asked for, most preferred first. */
  acrValues?: string | readonly string[]
  /** Any other parameter (`audience`, `resource`, …); the protocol's own are refused. */
  params?: Readonly<Record<string, string | number | readonly string[]>>
}

const names = (value: string | readonly string[]): string => (typeof value === 'string' ? value : value.join(' '))

/** A value or a list of values, as a list. */
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? [...value] : [value])

/**
 * Validates configured parameters (`authorizationParams` or `OAUTH_AUTHORIZATION_PARAMS`),
 * pushing every problem found into `problems`.
 */
export function parseAuthorizationParams(input: unknown, problems: string[], source = 'OAUTH_AUTHORIZATION_PARAMS'): AuthorizationParams {
  if (input === undefined) return Object.freeze({})
  const entries: [string, string][] = []
  if (typeof input === 'string') {
    for (const [name, value] of new URLSearchParams(input)) entries.push([name, value])
  } else if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    for (const [name, value] of Object.entries(input)) {
      if (value === undefined) continue
      for (const item of listOf(value)) {
        if (typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item))) entries.push([name, String(item)])
        else problems.push(`${source}: ${name} must be a string, a number or a list of strings`)
      }
    }
  } else {
    problems.push(`${source} must be an object or a query string such as audience=https://api.example.com&prompt=consent`)
    return Object.freeze({})
  }
  return check(entries, problems, source)
}

function check(entries: [string, string][], problems: string[], source: string): AuthorizationParams {
  const params: Record<string, string[]> = {}
  for (const [name, value] of entries) {
    if (PROTECTED_PARAMS.has(name)) {
      problems.push(`${source} cannot set ${name}: codegrant sets it for every login`)
    } else if (name in OWN_SETTING) {
      problems.push(`${source} cannot set ${name}: use ${OWN_SETTING[name]}`)
    } else if (!/^[\w.~-]{1,64}$/.test(name)) {
      problems.push(`${source}: ${JSON.stringify(name.slice(0, 64))} is not a parameter name`)
    } else if (name === 'max_age' && !/^\d{1,9}$/.test(value)) {
      problems.push(`${source}: max_age must be a whole number of seconds (got ${JSON.stringify(value.slice(0, 20))})`)
    } else if (name !== 'resource' && params[name]) {
      problems.push(`${source}: ${name} is given more than once (only resource may repeat)`)
    } else {
      ;(params[name] ??= []).push(value)
    }
  }
  return Object.freeze(Object.fromEntries(Object.entries(params).map(([name, values]) => [name, Object.freeze(values)])))
}

/**
 * Validates the names of query parameters the browser may pass to the login route
 * (`loginQueryParams`, `OAUTH_LOGIN_QUERY_PARAMS`).
 */
export function parseQueryAllowList(input: unknown, problems: string[]): readonly string[] {
  if (input === undefined) return Object.freeze([])
  const list: unknown[] | undefined = typeof input === 'string' ? input.split(',') : Array.isArray(input) ? listOf(input) : undefined
  if (!list || !list.every((name) => typeof name === 'string')) {
    problems.push('OAUTH_LOGIN_QUERY_PARAMS must be a comma-separated list of parameter names')
    return Object.freeze([])
  }
  const allowed = list.map((name) => name.trim()).filter(Boolean)
  for (const name of allowed) {
    if (PROTECTED_PARAMS.has(name) || name in OWN_SETTING || name === 'returnTo') problems.push(`OAUTH_LOGIN_QUERY_PARAMS cannot allow ${name}`)
  }
  return Object.freeze(allowed)
}

/** The app's per-login options as parameters. */
export function loginParams(options: LoginOptions): AuthorizationParams {
  const entries: [string, string][] = []
  if (options.params) {
    for (const [name, value] of Object.entries(options.params)) {
      for (const item of typeof value === 'object' ? value : [value]) entries.push([name, String(item)])
    }
  }
  if (options.loginHint !== undefined) entries.push(['login_hint', options.loginHint])
  if (options.uiLocales !== undefined) entries.push(['ui_locales', names(options.uiLocales)])
  if (options.prompt !== undefined) entries.push(['prompt', names(options.prompt)])
  if (options.maxAge !== undefined) entries.push(['max_age', String(options.maxAge)])
  if (options.acrValues !== undefined) entries.push(['acr_values', names(options.acrValues)])
  const problems: string[] = []
  // the named options win over the same name in `params`
  const deduped = [...new Map(entries.map(([name, value], index): [string, [string, string]] => [name === 'resource' ? `resource#${index}` : name, [name, value]])).values()]
  const params = check(deduped, problems, 'login()')
  if (problems.length > 0) throw new TypeError(`codegrant: ${problems.join('; ')}`)
  return params
}

/** The parameters the browser passed to the login route that the app allows; nothing else. */
export function queryParams(allowed: readonly string[], query: URLSearchParams): AuthorizationParams {
  if (allowed.length === 0) return {}
  const params: Record<string, string[]> = {}
  for (const name of allowed) {
    const values = query.getAll(name).filter((value) => value.length <= 512)
    const [first] = values
    if (first === undefined || (name === 'max_age' && !/^\d{1,9}$/.test(first))) continue
    params[name] = name === 'resource' ? values : [first]
  }
  return params
}

/**
 * Layers parameter sets, later ones replacing a name entirely; `max_age` comes back as a number
 * (to check `auth_time` against) when any layer sent it.
 */
export function mergeParams(...layers: AuthorizationParams[]): { params: AuthorizationParams; maxAge: number | undefined } {
  const params: Record<string, readonly string[]> = {}
  for (const layer of layers) {
    for (const [name, values] of Object.entries(layer)) if (!PROTECTED_PARAMS.has(name)) params[name] = values
  }
  const maxAge = params.max_age?.[0]
  return { params, maxAge: maxAge === undefined ? undefined : Number(maxAge) }
}
