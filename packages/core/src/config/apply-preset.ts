/**
 * Applying a preset (presets.ts) to one provider's settings: what the user left unset is filled
 * from it, and what no setting describes (the user source, token quirks, a multi-tenant issuer)
 * comes back beside the settings.
 */
import { PRESET_NAMES } from './enums.js'
import type { OAuthOptions } from './options.js'
import { PRESETS, type Preset, type ResolvedPreset, type TenantIssuer, type TenantIssuerSpec } from './presets.js'

/**
 * Applies a preset to one provider's settings (options merged over the environment): every
 * setting the user left unset is filled from the preset; the user's own always win. Problems
 * (an unknown preset, a missing issuer the preset cannot know, a tenant that is no tenant) are
 * pushed to `problems`, named with `prefix` (`OAUTH_` or, per provider, `OAUTH_<NAME>_`).
 *
 * @returns the settings to resolve, and what the preset adds that no setting describes.
 * @example
 * const { settings, preset } = applyPreset({ preset: 'github', clientId, clientSecret }, problems)
 */
export function applyPreset(settings: OAuthOptions, problems: string[], prefix = 'OAUTH_'): { settings: OAuthOptions; preset: ResolvedPreset | undefined } {
  const withAudience = audienceParam(settings, problems, prefix)
  const chosen = withAudience.preset
  if (chosen === undefined) return { settings: withAudience, preset: undefined }
  let preset: Preset
  let name: string
  if (typeof chosen === 'string') {
    const known = PRESET_NAMES.find((preset) => preset === chosen.toLowerCase())
    if (!known) {
      problems.push(`${prefix}PRESET must be one of ${Object.keys(PRESETS).join(', ')} (got ${JSON.stringify(chosen)})`)
      return { settings: withAudience, preset: undefined }
    }
    preset = PRESETS[known]
    name = known
  } else {
    preset = chosen
    name = preset.title
  }

  const filled: OAuthOptions = { ...withAudience }
  const explicit = filled.authorizationEndpoint !== undefined || filled.tokenEndpoint !== undefined
  let tenantIssuer: TenantIssuer | undefined
  if (preset.tenant && preset.issuer !== undefined && !explicit) {
    tenantIssuer = tenantSettings(preset.issuer, preset.tenant, filled, problems, prefix)
  } else if (filled.tenant !== undefined) {
    problems.push(preset.tenant ? `${prefix}TENANT cannot be used with explicit endpoints` : `${prefix}TENANT is only used with the microsoft preset`)
  } else if (filled.issuer === undefined && !explicit && preset.issuer !== undefined) {
    filled.issuer = preset.issuer
  }
  if (filled.issuer === undefined && !explicit && preset.issuer === undefined && !preset.endpoints) {
    problems.push(`${prefix}ISSUER is required with the ${name} preset (${preset.title}'s issuer looks like ${preset.issuerExample ?? 'https://…'})`)
  }
  if (typeof filled.issuer === 'string' && preset.issuerTrailingSlash && !filled.issuer.endsWith('/') && !/\/\.well-known\//.test(filled.issuer)) {
    filled.issuer = `${filled.issuer}/`
  }
  if (typeof filled.issuer === 'string' && preset.issuerPattern && !new RegExp(preset.issuerPattern).test(filled.issuer.replace(/\/$/, ''))) {
    problems.push(`${prefix}ISSUER must look like ${preset.issuerExample ?? preset.issuerPattern} with the ${name} preset (got ${JSON.stringify(filled.issuer.slice(0, 80))})`)
  }
  if (preset.endpoints) {
    filled.authorizationEndpoint ??= preset.endpoints.authorization
    filled.tokenEndpoint ??= preset.endpoints.token
    filled.userinfoEndpoint ??= preset.endpoints.userinfo
    filled.revocationEndpoint ??= preset.endpoints.revocation
    filled.endSessionEndpoint ??= preset.endpoints.endSession
    filled.jwksUri ??= preset.endpoints.jwks
  }
  filled.scope ??= preset.scope
  if (preset.clientAuthMethod && filled.privateKey === undefined) filled.clientAuthMethod ??= preset.clientAuthMethod
  return { settings: filled, preset: Object.freeze({ name, user: preset.user, token: preset.token ?? {}, tenantIssuer }) }
}

/**
 * The issuer (discovery location) for the tenant setting, written into `settings`, and the
 * tenant check. An OAUTH_ISSUER of the preset's form names the tenant itself
 * (`https://login.microsoftonline.us/organizations/v2.0`, a national cloud), and its own host
 * is then the template's.
 */
function tenantSettings(issuer: string, spec: NonNullable<Preset['tenant']>, settings: OAuthOptions, problems: string[], prefix: string): TenantIssuer | undefined {
  const [before = '', after = ''] = issuer.split('{tenant}')
  let tenant = settings.tenant?.trim()
  let template: string
  if (settings.issuer === undefined) {
    tenant ||= spec.default
    settings.issuer = `${before}${encodeURIComponent(tenant)}${after}`
    template = `${before}${spec.issuer.placeholder}${after}`
  } else {
    const match = new RegExp(`^(https?://.+/)([^/]+)${after.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/?$`).exec(settings.issuer)
    if (!match) {
      problems.push(`${prefix}ISSUER must end with /<tenant>${after} (e.g. ${before}common${after}), or be unset and ${prefix}TENANT set`)
      return undefined
    }
    const named = decodeURIComponent(match[2] ?? '')
    if (tenant && tenant !== named) {
      problems.push(`${prefix}TENANT (${tenant}) and the tenant in ${prefix}ISSUER (${named}) differ: set one of them`)
      return undefined
    }
    tenant = named
    template = `${match[1]}${spec.issuer.placeholder}${after}`
  }
  return tenantCheck({ ...spec.issuer, template }, tenant, problems, prefix)
}

/** The tenant check for a configured tenant: a group name (`common`, …) or one tenant's id. */
function tenantCheck(spec: TenantIssuerSpec & { template: string }, tenant: string, problems: string[], prefix: string): TenantIssuer | undefined {
  const base = { template: spec.template, placeholder: spec.placeholder, claim: spec.claim, pattern: spec.pattern }
  const group = Object.hasOwn(spec.groups, tenant) ? spec.groups[tenant] : undefined
  if (group) return { ...base, only: group.only, except: group.except ?? [] }
  if (new RegExp(spec.pattern).test(tenant)) return { ...base, only: tenant, except: [] }
  problems.push(`${prefix}TENANT must be ${Object.keys(spec.groups).join(', ')} or a tenant id (a GUID, the "Directory (tenant) ID"; got ${JSON.stringify(tenant.slice(0, 60))})`)
  return undefined
}

/** `audience` (OAUTH_AUDIENCE) is one authorization parameter, added unless one is set already. */
function audienceParam(settings: OAuthOptions, problems: string[], prefix: string): OAuthOptions {
  const { audience } = settings
  if (audience === undefined) return settings
  const params = settings.authorizationParams
  if (params === undefined) return { ...settings, authorizationParams: { audience } }
  const has = typeof params === 'string' ? new URLSearchParams(params).has('audience') : params.audience !== undefined
  if (has) {
    problems.push(`${prefix}AUDIENCE and an audience in ${prefix}AUTHORIZATION_PARAMS are both set: keep one`)
    return settings
  }
  const merged = typeof params === 'string' ? `${params}${params ? '&' : ''}${new URLSearchParams({ audience })}` : { ...params, audience }
  return { ...settings, authorizationParams: merged }
}
