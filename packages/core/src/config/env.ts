/**
 * Reading the environment: each setting from its variables (settings.ts), and the settings of
 * named groups — providers (`OAUTH_PROVIDERS=github,corp`) — from variables carrying the name
 * (`OAUTH_GITHUB_CLIENT_ID`). Values that cannot be parsed are returned raw, so that
 * `resolveConfig` reports them together with every other problem.
 */
import type { ApiOptions, OAuthOptions, ProviderOptions } from './options.js'
import { API_SETTINGS, PROVIDER_SETTINGS, SETTINGS, settingOf, type Setting, type SettingOption } from './settings.js'

export type Env = Readonly<Record<string, string | undefined>>

/**
 * A named group's variable: `OAUTH_CLIENT_ID` for `github` → `OAUTH_GITHUB_CLIENT_ID`. Providers
 * use it; any other named group of settings (one per API) reads its variables the same way.
 */
export function prefixedVariable(variable: string, name: string): string {
  return variable.replace(/^OAUTH_/, `OAUTH_${name.toUpperCase()}_`)
}

/** A provider setting's variable for provider `name`: `OAUTH_CLIENT_ID` → `OAUTH_GITHUB_CLIENT_ID`. */
export const providerVariable = prefixedVariable

/**
 * The variable a problem with `option` names: its own (`OAUTH_CLIENT_ID`), or with `name` the
 * named provider's (`OAUTH_GITHUB_CLIENT_ID`).
 */
export function variableOf(option: SettingOption, name?: string): string {
  const [variable = option] = settingOf(option).env
  return name === undefined ? variable : prefixedVariable(variable, name)
}

/** The names a list variable gives (`github, Corp` → `['github', 'corp']`); undefined when it is unset or blank. */
export function namesIn(env: Env, variable: string): string[] | undefined {
  const list = env[variable]
  if (!list?.trim()) return undefined
  return list.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean)
}

/**
 * Reads every codegrant setting from an environment (usually `process.env`). With
 * `OAUTH_PROVIDERS`, each provider's settings are read from its prefixed variables into
 * `providers`. Values are returned raw where they cannot be parsed, so that `resolveConfig`
 * reports them together with every other problem.
 */
export function configFromEnv(env: Env): OAuthOptions {
  const options: OAuthOptions = readSettings(env, SETTINGS.filter((setting) => setting.option !== 'providers' && setting.option !== 'apis'))
  const names = namesIn(env, variableOf('providers'))
  if (names) options.providers = Object.fromEntries(names.map((name) => [name, providerFromEnv(env, name)]))
  const apis = namesIn(env, variableOf('apis'))
  if (apis) options.apis = Object.fromEntries(apis.map((name) => [name, apiFromEnv(env, name)]))
  return options
}

/** One API's settings from its prefixed variables (`OAUTH_ORDERS_URL`, …). */
export function apiFromEnv(env: Env, name: string): ApiOptions {
  return readSettings(env, API_SETTINGS, name)
}

/** One provider's settings from its prefixed variables (`OAUTH_GITHUB_CLIENT_ID`, …). */
export function providerFromEnv(env: Env, name: string): ProviderOptions {
  return readSettings(env, PROVIDER_SETTINGS, name)
}

/** `settings` from their variables (with `name`, a named group's prefixed variable only). */
function readSettings(env: Env, settings: readonly Setting<string>[], name?: string): Record<string, unknown> {
  const options: Record<string, unknown> = {}
  for (const setting of settings) {
    const variables = name === undefined ? setting.env : setting.env.slice(0, 1).map((variable) => prefixedVariable(variable, name))
    const raw = variables.map((variable) => env[variable]).find((value) => value !== undefined && value.trim() !== '')
    if (raw !== undefined) options[setting.option] = parse(setting, raw.trim())
  }
  // raw where a value is not of its type: resolveConfig checks every option's type
  return options
}

/** A variable's text as its setting's type, or the text itself when it is not one (reported later). */
function parse(setting: Setting<string>, value: string): unknown {
  if (setting.type === 'number') return /^\d+$/.test(value) ? Number(value) : value
  if (setting.type === 'boolean') return parseBoolean(value) ?? value
  return value
}

function parseBoolean(value: string): boolean | undefined {
  if (/^(true|1|yes|on)$/i.test(value)) return true
  if (/^(false|0|no|off)$/i.test(value)) return false
  return undefined
}
