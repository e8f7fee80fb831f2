/**
 * `OAUTH_*` variables that are no codegrant setting: a typo (`OAUTH_SESION_STORE`) or a provider's
 * variable for a provider `OAUTH_PROVIDERS` does not list. One warning each, naming the closest
 * setting; warnings, not errors: the prefix is not ours alone.
 */
import { prefixedVariable, type Env } from './env.js'
import { API_SETTINGS, PROVIDER_SETTINGS, SETTINGS, type Setting } from './settings.js'

const KNOWN_VARIABLES: ReadonlySet<string> = new Set(SETTINGS.flatMap((setting) => setting.env))

/**
 * Names other libraries read for what a codegrant setting holds (passport strategies'
 * `callbackURL`, express-session's secret, Auth.js, express-openid-connect users' own names):
 * set while ours is not, they are most likely meant for codegrant.
 */
const FOREIGN_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  OAUTH_CALLBACK_URL: 'OAUTH_REDIRECT_URI',
  OAUTH_CALLBACK_URI: 'OAUTH_REDIRECT_URI',
  OAUTH_REDIRECT_URL: 'OAUTH_REDIRECT_URI',
  CALLBACK_URL: 'OAUTH_REDIRECT_URI',
  REDIRECT_URI: 'OAUTH_REDIRECT_URI',
  OAUTH_SESSION_SECRET: 'OAUTH_COOKIE_SECRET',
  SESSION_SECRET: 'OAUTH_COOKIE_SECRET',
  COOKIE_SECRET: 'OAUTH_COOKIE_SECRET',
  AUTH_SECRET: 'OAUTH_COOKIE_SECRET',
  NEXTAUTH_SECRET: 'OAUTH_COOKIE_SECRET',
  NEXTAUTH_URL: 'OAUTH_BASE_URL',
  AUTH_URL: 'OAUTH_BASE_URL',
  OAUTH_ISSUER_URL: 'OAUTH_ISSUER',
  OAUTH_ISSUER_BASE_URL: 'OAUTH_ISSUER',
})

/** A variable set that codegrant does not read, and the setting it was probably meant for. */
export interface StrayVariable {
  readonly variable: string
  /** The codegrant variable meant, when one is likely (a typo's nearest name, a foreign name's). */
  readonly meant: string | undefined
  /** `typo`: within a few edits of ours; `foreign`: another library's name for it. */
  readonly kind: 'typo' | 'foreign' | 'unknown'
  readonly warning: string
}

/**
 * Variables codegrant does not read though they look meant for it: `OAUTH_*` variables that are no
 * setting of this app (with `providers`, their prefixed ones are), naming the closest setting; and
 * other libraries' names (`CALLBACK_URL`, `SESSION_SECRET`; see {@link FOREIGN_VARIABLES}) while
 * ours is unset, naming ours. When the configuration is invalid, they also annotate the problem of
 * the setting they stand for (see {@link annotate}).
 */
export function strayVariables(env: Env, providers: readonly string[], apis: readonly string[] = []): StrayVariable[] {
  const known = new Set(KNOWN_VARIABLES)
  for (const name of providers) for (const { env: [variable] } of PROVIDER_SETTINGS) if (variable) known.add(prefixedVariable(variable, name))
  for (const name of apis) for (const { env: [variable] } of API_SETTINGS) if (variable) known.add(prefixedVariable(variable, name))
  const strays: StrayVariable[] = []
  for (const [variable, value] of Object.entries(env)) {
    if (known.has(variable) || value === undefined || value.trim() === '') continue
    const foreign = foreignMeaning(variable, env, providers.length > 0)
    if (foreign) {
      strays.push({ variable, meant: foreign.env[0], kind: 'foreign', warning: `${variable} is set but codegrant does not read it: codegrant's setting for that is ${foreign.env[0]} (${foreign.doc}), which is not set` })
      continue
    }
    if (!variable.startsWith('OAUTH_')) continue
    const near = closest(variable, known)
    const warning = `${variable} is set but is not a codegrant setting and is ignored${near ? ` (did you mean ${near}?)` : ''}`
    // the setting's own name (a typo nearest an alias such as SECRET means OAUTH_COOKIE_SECRET)
    const meant = near === undefined || (near.startsWith('OAUTH_PROVIDERS ') || near.startsWith('OAUTH_APIS ')) ? undefined : (byVariable(near)?.env[0] ?? near)
    strays.push({ variable, meant, kind: near ? 'typo' : 'unknown', warning })
  }
  return strays
}

/** One warning per variable that looks meant for codegrant but is not read (see {@link strayVariables}). */
export function unknownVariables(env: Env, providers: readonly string[], apis: readonly string[] = []): string[] {
  return strayVariables(env, providers, apis).map((stray) => stray.warning)
}

/**
 * Adds to each "X is required" problem the variables set that were probably meant for X
 * (`OAUTH_CLIENT_SECRET is required … (OAUTH_CLIENT_SECRT is set: a typo?)`): the hint is needed
 * most when the misspelling is what makes the configuration invalid. Returns the strays no
 * problem names, to be logged as warnings.
 */
export function annotate(problems: string[], strays: readonly StrayVariable[]): StrayVariable[] {
  const rest: StrayVariable[] = []
  for (const stray of strays) {
    const index = stray.meant === undefined ? -1 : problems.findIndex((problem) => problem.startsWith(`${stray.meant} is required`))
    if (index === -1) rest.push(stray)
    else problems[index] += stray.kind === 'typo' ? ` (${stray.variable} is set: a typo?)` : ` (${stray.variable} is set: codegrant reads ${stray.meant})`
  }
  return rest
}

/** The setting another library's `variable` stands for, when none of its variables is set. */
function foreignMeaning(variable: string, env: Env, named: boolean): Setting | undefined {
  const ours = Object.hasOwn(FOREIGN_VARIABLES, variable) ? FOREIGN_VARIABLES[variable] : undefined
  const setting = ours === undefined ? undefined : byVariable(ours)
  // with several providers a provider setting has no single variable to name
  if (!setting || (named && setting.scope === 'provider')) return undefined
  return setting.env.some((name) => env[name] !== undefined && env[name]?.trim() !== '') ? undefined : setting
}

function byVariable(variable: string): Setting | undefined {
  return SETTINGS.find((setting) => setting.env.includes(variable))
}

/** The known name within a few edits of `variable` (a typo), also with a provider's name in it. */
function closest(variable: string, known: ReadonlySet<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Math.min(3, Math.floor(variable.length / 4))
  for (const candidate of known) {
    const distance = editDistance(variable, candidate, bestDistance)
    if (distance <= bestDistance && (best === undefined || distance < bestDistance)) [best, bestDistance] = [candidate, distance]
  }
  return best ?? unlistedProvider(variable)
}

/**
 * `OAUTH_GITHUB_CLIENT_ID` without `OAUTH_PROVIDERS` naming github, or `OAUTH_ORDERS_URL` without
 * `OAUTH_APIS` naming orders: what to set instead.
 */
function unlistedProvider(variable: string): string | undefined {
  const groups = [['OAUTH_PROVIDERS', PROVIDER_SETTINGS], ['OAUTH_APIS', API_SETTINGS]] as const
  for (const [list, settings] of groups) {
    for (const { env: [own = ''] } of settings) {
      const suffix = `_${own.slice('OAUTH_'.length)}`
      if (variable.length > own.length + 1 && variable.endsWith(suffix)) return `${list} listing ${variable.slice('OAUTH_'.length, -suffix.length).toLowerCase()}`
    }
  }
  return undefined
}

/** Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    if (Math.min(...row) > limit) return limit + 1
    previous = row
  }
  return previous[b.length] ?? limit + 1
}
