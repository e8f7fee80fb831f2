/**
 * The checks each type of setting gets. Each reads the setting's variable and default from the
 * table (settings.ts) and pushes a problem naming the variable — the provider's own with several
 * providers — so that the configuration error lists every problem at once.
 */
import { variableOf } from './env.js'
import { settingOf, type SettingOption } from './settings.js'

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

export function isLoopback(url: URL): boolean {
  return LOOPBACK.test(url.hostname)
}

/** A value for a message: never more than 80 characters of what the user gave. */
export function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value
}

export interface Checks {
  readonly problems: string[]
  /** The variable a problem names: `OAUTH_CLIENT_ID`, or `OAUTH_GITHUB_CLIENT_ID` for a named provider. */
  variable(option: SettingOption): string
  /** `allowHttp`: the app's own URLs may be plain http anywhere (with a warning elsewhere). */
  url(option: SettingOption, value: unknown, options?: { required?: boolean; allowHttp?: boolean }): URL | undefined
  /** A string; unset: the table's default. */
  text(option: SettingOption, value: unknown): string | undefined
  /** A non-negative number; unset: the table's default. */
  number(option: SettingOption, value: unknown): number
  /** A boolean; unset: the table's default (false when it has none). */
  flag(option: SettingOption, value: unknown): boolean
  /** One of `values` (the table's list for the setting); unset: `fallback`, else the table's default. */
  oneOf<T extends string>(option: SettingOption, value: unknown, values: readonly T[], fallback?: T): T
}

/**
 * Checks that push their problems to `problems`, naming the variables of provider `name` (or
 * the app's own variables without one).
 */
export function checks(problems: string[], name?: string): Checks {
  const variable = (option: SettingOption) => variableOf(option, name)
  return {
    problems,
    variable,
    url(option, value, { required = false, allowHttp = false } = {}) {
      if (value === undefined) {
        if (required) problems.push(`${variable(option)} is required`)
        return undefined
      }
      const parsed = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined
      if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
        problems.push(`${variable(option)} must be an absolute http(s) URL (got ${JSON.stringify(truncate(String(value)))})`)
        return undefined
      }
      if (parsed.protocol === 'http:' && !isLoopback(parsed) && !allowHttp) {
        problems.push(`${variable(option)} must use https (http is only allowed on loopback, got ${parsed.origin})`)
      }
      return parsed
    },
    text(option, value) {
      const fallback = settingOf(option).default
      const defaultValue = typeof fallback === 'string' ? fallback : undefined
      if (value === undefined) return defaultValue
      if (typeof value === 'string') return value
      problems.push(`${variable(option)} must be a string (got ${typeof value})`)
      return defaultValue
    },
    number(option, value) {
      const fallback = settingOf(option).default
      const defaultValue = typeof fallback === 'number' ? fallback : 0
      if (value === undefined) return defaultValue
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
      problems.push(`${variable(option)} must be a non-negative number (got ${JSON.stringify(value)})`)
      return defaultValue
    },
    flag(option, value) {
      const defaultValue = settingOf(option).default === true
      if (value === undefined) return defaultValue
      if (typeof value === 'boolean') return value
      problems.push(`${variable(option)} must be true or false (got ${JSON.stringify(value)})`)
      return defaultValue
    },
    oneOf(option, value, values, fallback) {
      const defaultValue = fallback ?? enumDefault(option, values)
      if (value === undefined) return defaultValue
      const known = values.find((candidate) => candidate === value)
      if (known !== undefined) return known
      const list = values.length > 2 ? `one of ${values.join(', ')}` : values.join(' or ')
      problems.push(`${variable(option)} must be ${list} (got ${JSON.stringify(value)})`)
      return defaultValue
    },
  }
}

/** The table's default of an enum setting, as one of its values (a table without one is a bug). */
function enumDefault<T extends string>(option: SettingOption, values: readonly T[]): T {
  const found = values.find((value) => value === settingOf(option).default)
  if (found === undefined) throw new TypeError(`codegrant: the settings table gives ${option} no default among its values`)
  return found
}
