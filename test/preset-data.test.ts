/**
 * Every preset's data checked against what its provider publishes (test/fixtures/providers/,
 * trimmed copies of the real discovery documents and, for GitHub, of its documented endpoints
 * and API shapes), and how a preset turns into settings: the user's own always win.
 */
import { readFileSync } from 'node:fs'
import { applyPreset, PRESETS, resolveConfig, type OAuthOptions, type PresetName } from '@codegrant/core'
import { describe, expect, it } from 'vitest'
import { captureLogs, SECRET_A } from './support/provider.js'

type Metadata = Record<string, unknown> & { issuer: string; scopes_supported: string[]; token_endpoint_auth_methods_supported: string[]; claims_supported?: string[]; keys?: { kid: string; issuer: string }[] }
const fixture = <T = Metadata>(name: string) => JSON.parse(readFileSync(new URL(`./fixtures/providers/${name}.json`, import.meta.url), 'utf8')) as T

const base = { OAUTH_CLIENT_ID: 'app', OAUTH_CLIENT_SECRET: 'secret', OAUTH_BASE_URL: 'https://app.example.com', OAUTH_COOKIE_SECRET: SECRET_A }
/** The one provider's settings. */
const configure = (env: Record<string, string>, options: OAuthOptions = {}) => resolveConfig({ logger: captureLogs(), ...options }, { ...base, ...env }).providers[0]!
const problems = (env: Record<string, string>, options: OAuthOptions = {}) => {
  try {
    configure(env, options)
  } catch (error) {
    expect((error as { code?: string }).code).toBe('codegrant/config_invalid')
    return (error as Error).message
  }
  throw new Error('expected a configuration error')
}

/** Each OpenID preset, the settings a user gives, and the fixture of the provider they lead to. */
const OIDC: [PresetName, Record<string, string>, string][] = [
  ['google', {}, 'google'],
  ['gitlab', {}, 'gitlab'],
  ['microsoft', {}, 'microsoft-common'],
  ['microsoft', { OAUTH_TENANT: 'organizations' }, 'microsoft-organizations'],
  ['microsoft', { OAUTH_TENANT: 'consumers' }, 'microsoft-consumers'],
  ['auth0', { OAUTH_ISSUER: 'https://codegrant-example.us.auth0.com' }, 'auth0'],
  ['okta', { OAUTH_ISSUER: 'https://codegrant-example.okta.com/oauth2/default' }, 'okta'],
  ['keycloak', { OAUTH_ISSUER: 'https://keycloak.example.com/realms/acme' }, 'keycloak'],
]

describe('preset data against the providers\' published metadata', () => {
  it.each(OIDC)('%s %j matches %s', (name, env, file) => {
    const metadata = fixture(file)
    const config = configure({ OAUTH_PRESET: name, ...env })
    const tenant = config.preset?.tenantIssuer
    // discovery happens where the provider publishes it, and names the issuer the preset expects
    const location = new URL(metadata.authorization_endpoint as string)
    expect(new URL(config.issuer!).origin).toBe(location.origin)
    if (tenant) {
      const named = tenant.only === undefined ? tenant.template : tenant.template.replace(tenant.placeholder, tenant.only)
      expect(named).toBe(metadata.issuer)
      expect(config.issuer).toBe(`https://login.microsoftonline.com/${env.OAUTH_TENANT ?? 'common'}/v2.0`)
      expect(metadata.claims_supported).toContain(tenant.claim)
      // every published key names the template as its issuer: the key check admits it for any tenant
      for (const key of metadata.keys ?? []) expect(key.issuer).toBe(tenant.template)
    } else {
      expect(config.issuer).toBe(metadata.issuer)
    }
    // the preset's scopes, client authentication and the defaults codegrant pins are all offered
    for (const scope of config.scope.split(' ')) expect(metadata.scopes_supported).toContain(scope)
    expect(metadata.token_endpoint_auth_methods_supported).toContain(config.clientAuthMethod)
    expect(metadata.id_token_signing_alg_values_supported).toContain('RS256')
    expect(metadata.response_types_supported).toContain('code')
    if (metadata.code_challenge_methods_supported) expect(metadata.code_challenge_methods_supported).toContain('S256')
    // logout: the provider's end-session endpoint where the preset says it has one
    expect(PRESETS[name].logout === 'end_session_endpoint').toBe(typeof metadata.end_session_endpoint === 'string')
    expect(PRESETS[name].user.from).toBe('id_token')
    expect(config.explicitEndpoints).toBe(false)
  })

  it('github matches GitHub\'s documented endpoints, scopes and API shapes', () => {
    const github = fixture<{ authorization_endpoint: string; token_endpoint: string; user_endpoint: string; emails_endpoint: string; scopes: string[]; user: Record<string, unknown>; emails: Record<string, unknown>[]; token_response: Record<string, unknown>; token_error_response: Record<string, unknown> }>('github')
    const config = configure({ OAUTH_PRESET: 'github' })
    expect(config.endpoints).toEqual({ authorization: github.authorization_endpoint, token: github.token_endpoint, userinfo: github.user_endpoint })
    expect(config.explicitEndpoints).toBe(true)
    expect(config.openid).toBe(false)
    for (const scope of config.scope.split(' ')) expect(github.scopes).toContain(scope)
    const source = PRESETS.github.user
    if (source.from !== 'api') throw new Error('the github preset reads an API')
    // every member the mapping reads is in GitHub's user object; the email list is where it looks
    for (const members of Object.values(source.claims)) for (const member of members) expect(github.user).toHaveProperty(member)
    expect(typeof github.user.id).toBe('number')
    expect(`${github.user_endpoint}/${source.emails!.path}`).toBe(github.emails_endpoint)
    for (const entry of github.emails) expect(Object.keys(entry)).toEqual(expect.arrayContaining(['email', 'primary', 'verified']))
    // the token endpoint's quirks are the documented ones: comma scope, HTTP 200 errors
    expect(String(github.token_response.scope)).toContain(',')
    expect(PRESETS.github.token).toMatchObject({ commaScope: true, errorsWithStatus200: true })
    expect(PRESETS.github.token?.errorAliases?.[String(github.token_error_response.error)]).toBe('invalid_grant')
    expect(PRESETS.github.logout).toBe('local')
    expect(config.endpoints.revocation).toBeUndefined()
  })
})

describe('presets as settings', () => {
  it('the user\'s settings win over the preset\'s, from the environment and from options', () => {
    const config = configure({ OAUTH_PRESET: 'github', OAUTH_SCOPE: 'read:user', OAUTH_CLIENT_AUTH_METHOD: 'client_secret_basic', OAUTH_TOKEN_ENDPOINT: 'https://ghe.example.com/login/oauth/access_token' }, { authorizationEndpoint: 'https://ghe.example.com/login/oauth/authorize' })
    expect(config.scope).toBe('read:user')
    expect(config.clientAuthMethod).toBe('client_secret_basic')
    expect(config.endpoints).toMatchObject({ authorization: 'https://ghe.example.com/login/oauth/authorize', token: 'https://ghe.example.com/login/oauth/access_token', userinfo: 'https://api.github.com/user' })
    expect(configure({}, { preset: 'google', issuer: 'https://accounts.example.com' }).issuer).toBe('https://accounts.example.com')
  })

  it('names what is missing or wrong, with every other problem', () => {
    expect(problems({ OAUTH_PRESET: 'myspace' })).toContain('OAUTH_PRESET must be one of github, google, microsoft, gitlab, auth0, okta, keycloak (got "myspace")')
    expect(problems({ OAUTH_PRESET: 'auth0' })).toContain('OAUTH_ISSUER is required with the auth0 preset (Auth0\'s issuer looks like https://<tenant>.<region>.auth0.com/)')
    expect(problems({ OAUTH_PRESET: 'keycloak', OAUTH_ISSUER: 'https://kc.example.com/auth' })).toContain('OAUTH_ISSUER must look like https://<host>/realms/<realm>')
    expect(problems({ OAUTH_PRESET: 'microsoft', OAUTH_TENANT: 'contoso.onmicrosoft.com' })).toContain('OAUTH_TENANT must be common, organizations, consumers or a tenant id')
    expect(problems({ OAUTH_PRESET: 'microsoft', OAUTH_TENANT: 'organizations', OAUTH_ISSUER: 'https://login.microsoftonline.com/common/v2.0' })).toContain('OAUTH_TENANT (organizations) and the tenant in OAUTH_ISSUER (common) differ')
    expect(problems({ OAUTH_PRESET: 'google', OAUTH_TENANT: 'common' })).toContain('OAUTH_TENANT is only used with the microsoft preset')
    const all = problems({ OAUTH_PRESET: 'okta', OAUTH_COOKIE_SECRET: 'short' })
    expect(all).toContain('OAUTH_ISSUER is required with the okta preset')
    expect(all).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters')
  })

  it('auth0: the issuer\'s trailing slash is added (it counts); OAUTH_AUDIENCE becomes the audience parameter', () => {
    const config = configure({ OAUTH_PRESET: 'auth0', OAUTH_ISSUER: 'https://codegrant-example.us.auth0.com', OAUTH_AUDIENCE: 'https://api.example.com/' })
    expect(config.issuer).toBe(fixture('auth0').issuer)
    expect(config.authorizationParams).toEqual({ audience: ['https://api.example.com/'] })
    expect(configure({ OAUTH_AUDIENCE: 'https://api.example.com/', OAUTH_ISSUER: 'https://id.example.com', OAUTH_AUTHORIZATION_PARAMS: 'prompt=consent' }).authorizationParams).toEqual({ prompt: ['consent'], audience: ['https://api.example.com/'] })
    expect(problems({ OAUTH_ISSUER: 'https://id.example.com', OAUTH_AUDIENCE: 'a', OAUTH_AUTHORIZATION_PARAMS: 'audience=b' })).toContain('OAUTH_AUDIENCE and an audience in OAUTH_AUTHORIZATION_PARAMS are both set')
  })

  it('microsoft: the tenant decides the issuer and which tenants are admitted; a national cloud keeps its own host', () => {
    const tenantOf = (env: Record<string, string>) => configure({ OAUTH_PRESET: 'microsoft', ...env }).preset?.tenantIssuer
    expect(tenantOf({})).toMatchObject({ template: 'https://login.microsoftonline.com/{tenantid}/v2.0', claim: 'tid', only: undefined, except: [] })
    expect(tenantOf({ OAUTH_TENANT: 'organizations' })).toMatchObject({ only: undefined, except: ['9188040d-6c67-4c5b-b112-36a304b66dad'] })
    expect(tenantOf({ OAUTH_TENANT: 'consumers' })).toMatchObject({ only: '9188040d-6c67-4c5b-b112-36a304b66dad', except: [] })
    const id = '72f988bf-86f1-41af-91ab-2d7cd011db47'
    expect(configure({ OAUTH_PRESET: 'microsoft', OAUTH_TENANT: id }).issuer).toBe(`https://login.microsoftonline.com/${id}/v2.0`)
    expect(tenantOf({ OAUTH_TENANT: id })).toMatchObject({ only: id })
    expect(tenantOf({ OAUTH_ISSUER: 'https://login.microsoftonline.us/organizations/v2.0' })).toMatchObject({ template: 'https://login.microsoftonline.us/{tenantid}/v2.0', except: ['9188040d-6c67-4c5b-b112-36a304b66dad'] })
  })

  it('per provider: OAUTH_<NAME>_PRESET, a provider named like a preset uses it, problems named by the provider\'s variables', () => {
    const env = { OAUTH_PROVIDERS: 'github,corp', OAUTH_GITHUB_CLIENT_ID: 'gh', OAUTH_GITHUB_CLIENT_SECRET: 's', OAUTH_CORP_PRESET: 'microsoft', OAUTH_CORP_TENANT: 'organizations', OAUTH_CORP_CLIENT_ID: 'ms', OAUTH_CORP_CLIENT_SECRET: 's', OAUTH_BASE_URL: 'https://app.example.com', OAUTH_COOKIE_SECRET: SECRET_A }
    const config = resolveConfig({ logger: captureLogs() }, env)
    const [github, corp] = config.providers
    expect([github?.preset?.name, github?.endpoints.token, github?.clientAuthMethod]).toEqual(['github', 'https://github.com/login/oauth/access_token', 'client_secret_post'])
    expect([corp?.preset?.name, corp?.issuer, corp?.preset?.tenantIssuer?.except]).toEqual(['microsoft', 'https://login.microsoftonline.com/organizations/v2.0', ['9188040d-6c67-4c5b-b112-36a304b66dad']])
    expect(() => resolveConfig({ logger: captureLogs() }, { ...env, OAUTH_CORP_TENANT: 'contoso' })).toThrow(/OAUTH_CORP_TENANT must be common, organizations, consumers or a tenant id/)
    expect(() => resolveConfig({ logger: captureLogs() }, { ...env, OAUTH_PRESET: 'google' })).toThrow(/OAUTH_PRESET \(option preset\) belongs to one provider/)
  })

  it('applyPreset is one function over one provider\'s settings, with the problems named by its prefix', () => {
    const found: string[] = []
    const { settings, preset } = applyPreset({ preset: 'microsoft', tenant: 'nope' }, found, 'OAUTH_CORP_')
    expect(found).toEqual([expect.stringContaining('OAUTH_CORP_TENANT must be common, organizations, consumers or a tenant id')])
    expect(settings.issuer).toBe('https://login.microsoftonline.com/nope/v2.0')
    expect(preset?.tenantIssuer).toBeUndefined()
    const input = { preset: 'github' as const }
    applyPreset(input, [])
    expect(input).toEqual({ preset: 'github' }) // never mutates its argument
  })
})
