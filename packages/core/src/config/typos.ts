/**
 * `OAUTH_*` variables that are no codegrant setting: a typo (`OAUTH_SESION_STORE`) or a provider's
 * variable for a provider `OAUTH_PROVIDERS` does not list. One warning each, naming the closest
 * setting; warnings, not errors: the prefix is not ours alone.
 */
import { prefixedVariable, type Env } from './env.js'
import { PROVIDER_SETTINGS, SETTINGS } from './settings.js'

const KNOWN_VARIABLES: ReadonlySet<string> = new Set(SETTINGS.flatMap((setting) => setting.env))

/** One warning per `OAUTH_*` variable that is no setting of this app (with `providers`, their prefixed ones are). */
export function unknownVariables(env: Env, providers: readonly string[]): string[] {
  const known = new Set(KNOWN_VARIABLES)
  for (const name of providers) for (const { env: [variable] } of PROVIDER_SETTINGS) if (variable) known.add(prefixedVariable(variable, name))
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
  return best ?? unlistedProvider(variable)
}

/** `OAUTH_GITHUB_CLIENT_ID` without `OAUTH_PROVIDERS` naming github: what to set instead. */
function unlistedProvider(variable: string): string | undefined {
  for (const { env: [own = ''] } of PROVIDER_SETTINGS) {
    const suffix = `_${own.slice('OAUTH_'.length)}`
    if (variable.length > own.length + 1 && variable.endsWith(suffix)) return `OAUTH_PROVIDERS listing ${variable.slice('OAUTH_'.length, -suffix.length).toLowerCase()}`
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
