import { describe, expect, it } from 'vitest'
import { configFromEnv } from '../src/config/env.js'
import { SETTINGS } from '../src/config/settings.js'
import { resolveConfig } from '../src/config/resolve.js'
import { CodegrantError } from '../src/errors.js'

const silent = { warn: () => {}, error: () => {} }
const valid = {
  OAUTH_ISSUER: 'https://id.example.com',
  OAUTH_CLIENT_ID: 'app',
  OAUTH_CLIENT_SECRET: 's3cret',
  OAUTH_BASE_URL: 'https://app.example.com',
  OAUTH_COOKIE_SECRET: 'x'.repeat(32),
}

function problems(env: Record<string, string>, options = {}): string {
  try {
    resolveConfig({ logger: silent, ...options }, env)
  } catch (error) {
    expect(error).toBeInstanceOf(CodegrantError)
    expect((error as CodegrantError).code).toBe('codegrant/config_invalid')
    return (error as CodegrantError).message
  }
  throw new Error('expected a configuration error')
}

describe('configuration', () => {
  it('serves back-channel logout only with a server-side store or, with cookie sessions, OAUTH_REDIS_URL, and says so at start-up', () => {
    expect(problems({ ...valid, OAUTH_BACKCHANNEL_LOGOUT: 'true' })).toContain('OAUTH_BACKCHANNEL_LOGOUT with cookie sessions needs OAUTH_REDIS_URL')
    const config = resolveConfig({ logger: silent }, { ...valid, OAUTH_BACKCHANNEL_LOGOUT: 'true', OAUTH_SESSION_STORE: 'memory' })
    expect([config.backchannelLogout, config.routes.backchannelLogout]).toEqual([true, '/auth/backchannel-logout'])
  })

  it('warns about OAUTH_ variables that are no setting, naming the one meant; known ones pass silently', () => {
    const warnings: string[] = []
    const logger = { warn: (line: string) => warnings.push(line), error: () => {} }
    resolveConfig({ logger }, { ...valid, OAUTH_SESION_STORE: 'redis', OAUTH_GITHUB_CLIENT_ID: 'gh', OAUTH_UNRELATED: 'x', OAUTH_SESSION_MAX_AGE: '3600' })
    expect(warnings).toEqual([
      'OAUTH_SESION_STORE is set but is not a codegrant setting and is ignored (did you mean OAUTH_SESSION_STORE?)',
      'OAUTH_GITHUB_CLIENT_ID is set but is not a codegrant setting and is ignored (did you mean OAUTH_PROVIDERS listing github?)',
      'OAUTH_UNRELATED is set but is not a codegrant setting and is ignored',
    ])
    // a listed provider's prefixed variables are settings
    warnings.length = 0
    resolveConfig({ logger }, { OAUTH_PROVIDERS: 'github', OAUTH_GITHUB_CLIENT_ID: 'gh', OAUTH_GITHUB_CLIENT_SECRET: 's', OAUTH_BASE_URL: valid.OAUTH_BASE_URL, OAUTH_COOKIE_SECRET: valid.OAUTH_COOKIE_SECRET })
    expect(warnings).toEqual([])
  })

  it('puts the did-you-mean hint in the error list when the misspelling is what makes the configuration invalid', () => {
    const { OAUTH_CLIENT_SECRET: _secret, OAUTH_COOKIE_SECRET: _cookie, ...rest } = valid
    const warnings: string[] = []
    const logger = { warn: (line: string) => warnings.push(line), error: () => {} }
    const message = problems({ ...rest, OAUTH_CLIENT_SECRT: 's3cret', OAUTH_COOKIE_SECRET_: 'x'.repeat(32), OAUTH_UNRELATED: 'x' }, { logger })
    expect(message).toContain('  - OAUTH_CLIENT_SECRET is required for client_secret_basic (OAUTH_CLIENT_SECRT is set: a typo?)')
    expect(message).toContain('  - OAUTH_COOKIE_SECRET is required (at least 32 characters; e.g. `openssl rand -base64 32`) (OAUTH_COOKIE_SECRET_ is set: a typo?)')
    // what names no problem is still said, as a warning
    expect(warnings).toEqual(['OAUTH_UNRELATED is set but is not a codegrant setting and is ignored'])
    // with several providers, the provider's own variable
    const named = problems({ OAUTH_PROVIDERS: 'corp', OAUTH_CORP_ISSUER: valid.OAUTH_ISSUER, OAUTH_CORP_CLIENT_ID: 'app', OAUTH_CORP_CLIENT_SECRT: 's', OAUTH_BASE_URL: valid.OAUTH_BASE_URL, OAUTH_COOKIE_SECRET: valid.OAUTH_COOKIE_SECRET })
    expect(named).toContain('OAUTH_CORP_CLIENT_SECRET is required for client_secret_basic (OAUTH_CORP_CLIENT_SECRT is set: a typo?)')
  })

  it("names codegrant's setting for other libraries' variables (CALLBACK_URL, SESSION_SECRET, Auth.js's): a warning, and in the error list when ours is missing", () => {
    const warnings: string[] = []
    const logger = { warn: (line: string) => warnings.push(line), error: () => {} }
    resolveConfig({ logger }, { ...valid, CALLBACK_URL: 'https://app.example.com/auth/callback', OAUTH_CALLBACK_URL: 'https://app.example.com/cb', NEXTAUTH_URL: 'https://app.example.com' })
    expect(warnings).toEqual([
      expect.stringMatching(/^CALLBACK_URL is set but codegrant does not read it: codegrant's setting for that is OAUTH_REDIRECT_URI \(the callback URL registered at the provider\), which is not set$/),
      expect.stringMatching(/^OAUTH_CALLBACK_URL is set but codegrant does not read it: codegrant's setting for that is OAUTH_REDIRECT_URI /),
    ])
    // ours set (OAUTH_BASE_URL above, SESSION_SECRET's OAUTH_COOKIE_SECRET here): the other name is someone else's
    warnings.length = 0
    resolveConfig({ logger }, { ...valid, SESSION_SECRET: 'express-session' })
    expect(warnings).toEqual([])

    const { OAUTH_COOKIE_SECRET: _cookie, OAUTH_BASE_URL: _base, ...rest } = valid
    for (const [name, meant] of [['SESSION_SECRET', 'OAUTH_COOKIE_SECRET'], ['AUTH_SECRET', 'OAUTH_COOKIE_SECRET'], ['NEXTAUTH_SECRET', 'OAUTH_COOKIE_SECRET']] as const) {
      expect(problems({ ...rest, OAUTH_BASE_URL: valid.OAUTH_BASE_URL, [name]: 'x'.repeat(32) })).toContain(`${meant} is required (at least 32 characters; e.g. \`openssl rand -base64 32\`) (${name} is set: codegrant reads ${meant})`)
    }
    expect(problems({ ...rest, OAUTH_COOKIE_SECRET: valid.OAUTH_COOKIE_SECRET, NEXTAUTH_URL: 'https://app.example.com' })).toContain("OAUTH_BASE_URL is required (the app's external origin, e.g. https://app.example.com) (NEXTAUTH_URL is set: codegrant reads OAUTH_BASE_URL)")
  })

  it('lists every problem at once', () => {
    const message = problems({ OAUTH_COOKIE_SECRET: 'short', OAUTH_SESSION_STORE: 'mongo', OAUTH_BASE_URL: 'not a url', OAUTH_HTTP_TIMEOUT: 'soon' })
    expect(message).toContain('OAUTH_ISSUER is required')
    expect(message).toContain('OAUTH_CLIENT_ID is required')
    expect(message).toContain('OAUTH_CLIENT_SECRET is required for client_secret_basic')
    expect(message).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters (got 5)')
    expect(message).toContain('OAUTH_SESSION_STORE must be cookie, memory or redis')
    expect(message).toContain('OAUTH_BASE_URL must be an absolute http(s) URL')
    expect(message).toContain('OAUTH_HTTP_TIMEOUT must be a non-negative number')
    expect(message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(7)
  })

  it('refuses invalid Redis settings whatever the store, as every other invalid value', () => {
    for (const store of [{}, { OAUTH_SESSION_STORE: 'memory' }, { OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: 'redis://127.0.0.1:6379' }]) {
      const message = problems({ ...valid, ...store, OAUTH_REDIS_CLUSTER: 'maybe', OAUTH_REDIS_TIMEOUT: '2s' })
      expect(message).toContain('OAUTH_REDIS_CLUSTER must be true or false (got "maybe")')
      expect(message).toContain('OAUTH_REDIS_TIMEOUT must be a non-negative number (got "2s")')
    }
  })

  it('never echoes a secret in its messages', () => {
    const message = problems({ ...valid, OAUTH_COOKIE_SECRET: 'tooshort-but-secret' })
    expect(message).not.toContain('tooshort-but-secret')
  })

  it('refuses plain http issuers except on loopback', () => {
    expect(problems({ ...valid, OAUTH_ISSUER: 'http://id.example.com' })).toContain('OAUTH_ISSUER must use https')
    expect(resolveConfig({ logger: silent }, { ...valid, OAUTH_ISSUER: 'http://127.0.0.1:4000' }).providers[0]!.issuer).toBe('http://127.0.0.1:4000')
  })

  it('refuses alg none and symmetric ID token algorithms', () => {
    expect(problems({ ...valid, OAUTH_ID_TOKEN_SIGNING_ALG: 'none' })).toContain('OAUTH_ID_TOKEN_SIGNING_ALG')
    expect(problems({ ...valid, OAUTH_ID_TOKEN_SIGNING_ALG: 'HS256' })).toContain('OAUTH_ID_TOKEN_SIGNING_ALG')
  })

  it('accepts express-openid-connect names, the OAUTH_ name winning', () => {
    const config = resolveConfig({ logger: silent }, {
      ISSUER_BASE_URL: 'https://alias.example.com',
      BASE_URL: 'https://app.example.com',
      CLIENT_ID: 'alias-client',
      OAUTH_CLIENT_ID: 'main-client',
      CLIENT_SECRET: 'secret',
      SECRET: 'y'.repeat(40),
    })
    expect(config.providers[0]!.issuer).toBe('https://alias.example.com')
    expect(config.providers[0]!.clientId).toBe('main-client')
    expect(config.providers[0]!.redirectUri).toBe('https://app.example.com/auth/callback')
    expect(config.secure).toBe(true)
  })

  it('lets options override the environment without mutating them', () => {
    const options = Object.freeze({ clientId: 'from-options', logger: silent })
    const config = resolveConfig(options, valid)
    expect(config.providers[0]!.clientId).toBe('from-options')
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('skips discovery when both endpoints are explicit', () => {
    const { OAUTH_ISSUER: _, ...env } = valid
    const config = resolveConfig({ logger: silent }, {
      ...env,
      OAUTH_AUTHORIZATION_ENDPOINT: 'https://github.com/login/oauth/authorize',
      OAUTH_TOKEN_ENDPOINT: 'https://github.com/login/oauth/access_token',
      OAUTH_SCOPE: 'read:user',
    })
    expect(config.providers[0]!.explicitEndpoints).toBe(true)
    expect(config.providers[0]!.openid).toBe(false)
  })

  it('parses numbers and booleans from the environment', () => {
    expect(configFromEnv({ OAUTH_HTTP_TIMEOUT: '1500', OAUTH_PAR: 'true', OAUTH_FETCH_USERINFO: 'no' })).toEqual({ httpTimeout: 1500, par: true, fetchUserinfo: false })
  })

  it('splits a comma-separated cookie secret into rotating keys', () => {
    const config = resolveConfig({ logger: silent }, { ...valid, OAUTH_COOKIE_SECRET: `${'n'.repeat(32)}, ${'o'.repeat(32)}` })
    expect(config.cookieSecrets).toEqual(['n'.repeat(32), 'o'.repeat(32)])
  })
})

describe('configuration of the client and callback', () => {
  it('checks OAUTH_PRIVATE_KEY at start-up', () => {
    const env = { ...valid, OAUTH_CLIENT_AUTH_METHOD: 'private_key_jwt' }
    expect(problems({ ...env, OAUTH_PRIVATE_KEY: 'not a key' })).toContain('OAUTH_PRIVATE_KEY must be a private key in PEM or JWK (JSON) form')
    expect(problems(env)).toContain('OAUTH_PRIVATE_KEY is required for private_key_jwt')
  })

  it('takes the callback route from OAUTH_REDIRECT_URI and refuses one that cannot reach the app', () => {
    const config = resolveConfig({ logger: silent }, { ...valid, OAUTH_REDIRECT_URI: 'https://app.example.com/oauth/redirect' })
    expect(config.routes.callback).toBe('/oauth/redirect')
    expect(config.providers[0]!.redirectUri).toBe('https://app.example.com/oauth/redirect')
    expect(problems({ ...valid, OAUTH_REDIRECT_URI: 'https://elsewhere.example.com/auth/callback' })).toContain('OAUTH_REDIRECT_URI')
  })
})

describe('configuration of several providers', () => {
  const app = { OAUTH_BASE_URL: 'https://app.example.com', OAUTH_COOKIE_SECRET: 'x'.repeat(32) }
  const two = {
    ...app,
    OAUTH_PROVIDERS: 'github, Corp',
    OAUTH_GITHUB_AUTHORIZATION_ENDPOINT: 'https://github.com/login/oauth/authorize',
    OAUTH_GITHUB_TOKEN_ENDPOINT: 'https://github.com/login/oauth/access_token',
    OAUTH_GITHUB_SCOPE: 'read:user',
    OAUTH_GITHUB_CLIENT_ID: 'gh',
    OAUTH_GITHUB_CLIENT_SECRET: 'gh-secret',
    OAUTH_CORP_ISSUER: 'https://id.corp.example.com',
    OAUTH_CORP_CLIENT_ID: 'corp',
    OAUTH_CORP_CLIENT_SECRET: 'corp-secret',
    OAUTH_CORP_PAR: 'true',
  }

  it('reads each provider from its prefixed variables, app-wide settings unprefixed', () => {
    const config = resolveConfig({ logger: silent }, two)
    expect(config.named).toBe(true)
    expect(config.providers.map((provider) => provider.name)).toEqual(['github', 'corp'])
    const [github, corp] = config.providers
    expect(github).toMatchObject({ clientId: 'gh', scope: 'read:user', openid: false, explicitEndpoints: true, redirectUri: 'https://app.example.com/auth/callback/github', par: false })
    expect(corp).toMatchObject({ clientId: 'corp', issuer: 'https://id.corp.example.com', par: true, redirectUri: 'https://app.example.com/auth/callback/corp' })
    expect(corp!.paths).toEqual({ login: ['/auth/login/corp', '/auth/corp/login'], callback: ['/auth/callback/corp', '/auth/corp/callback'] })
    expect(config.defaultProvider).toBeUndefined()
    expect(config.cookieSecrets).toHaveLength(1)
  })

  it('takes providers from options over their variables, and a default provider', () => {
    const config = resolveConfig({ logger: silent, defaultProvider: 'corp', providers: { corp: { clientId: 'from-options' }, github: { scope: 'user:email' } } }, two)
    expect(config.providers.map((provider) => [provider.name, provider.clientId, provider.scope])).toEqual([
      ['corp', 'from-options', 'openid profile email'],
      ['github', 'gh', 'user:email'],
    ])
    expect(config.defaultProvider).toBe('corp')
    expect(resolveConfig({ logger: silent }, { ...two, OAUTH_PROVIDERS: 'corp' }).defaultProvider).toBe('corp')
  })

  it('names the prefixed variable in every problem, and refuses provider settings for the whole app', () => {
    const message = problems({ ...two, OAUTH_CORP_CLIENT_ID: '', OAUTH_GITHUB_PAR: 'maybe', OAUTH_SCOPE: 'openid', OAUTH_DEFAULT_PROVIDER: 'gitlab' })
    expect(message).toContain('OAUTH_CORP_CLIENT_ID is required')
    expect(message).toContain('OAUTH_GITHUB_PAR must be true or false')
    expect(message).toContain('OAUTH_SCOPE (option scope) belongs to one provider: with several, set OAUTH_<NAME>_SCOPE')
    expect(message).toContain('OAUTH_DEFAULT_PROVIDER must be one of the providers (github, corp; got "gitlab")')
  })

  it('refuses two providers with one redirect URI, and names that cannot be routes or variables', () => {
    expect(problems({ ...two, OAUTH_GITHUB_REDIRECT_URI: 'https://app.example.com/cb', OAUTH_CORP_REDIRECT_URI: 'https://app.example.com/cb' })).toContain('providers github and corp have the same redirect URI')
    expect(problems(app, { providers: { 'git-hub': { issuer: 'https://id.example.com' } } })).toContain('provider name "git-hub" must be lower-case letters')
    expect(problems({ ...app, OAUTH_PROVIDERS: ',' })).toContain('OAUTH_PROVIDERS lists no provider')
  })

  it('keeps a single provider as today: named default, routes without a name', () => {
    const config = resolveConfig({ logger: silent }, valid)
    expect(config.named).toBe(false)
    expect(config.providers).toHaveLength(1)
    expect(config.providers[0]).toMatchObject({ name: 'default', clientId: 'app', redirectUri: 'https://app.example.com/auth/callback', paths: { login: ['/auth/login'], callback: ['/auth/callback'] } })
    expect(config.defaultProvider).toBe('default')
  })

  it('declares each setting once, with one default of its own type, which resolving uses', () => {
    const options = SETTINGS.map((setting) => setting.option)
    expect(options.filter((option, index) => options.indexOf(option) !== index)).toEqual([])
    const variables = SETTINGS.flatMap((setting) => setting.env)
    expect(variables.filter((variable, index) => variables.indexOf(variable) !== index)).toEqual([])
    for (const setting of SETTINGS) {
      const expected = { number: 'number', boolean: 'boolean' }[setting.type as string] ?? 'string'
      if (setting.default !== undefined) expect([setting.option, typeof setting.default]).toEqual([setting.option, expected])
      if (setting.type === 'enum') expect([setting.option, setting.default === undefined || setting.values?.includes(String(setting.default))]).toEqual([setting.option, true])
      expect([setting.option, setting.default !== undefined && setting.computed !== undefined]).toEqual([setting.option, false])
    }
    const config = resolveConfig({ logger: silent }, valid)
    const defaults = Object.fromEntries(SETTINGS.filter((setting) => setting.scope === 'app' && setting.default !== undefined && setting.option in config).map((setting) => [setting.option, setting.default]))
    expect(Object.keys(defaults).length).toBeGreaterThan(10)
    expect(Object.fromEntries(Object.keys(defaults).map((option) => [option, config[option as keyof typeof config]]))).toEqual(defaults)
    expect(config.providers[0]!.scope).toBe(SETTINGS.find((setting) => setting.option === 'scope')?.default)
  })
})

describe('APIs (OAUTH_APIS)', () => {
  const apis = {
    ...valid,
    OAUTH_APIS: 'orders, Billing',
    OAUTH_ORDERS_URL: 'https://orders.example.com/v1',
    OAUTH_ORDERS_RESOURCE: 'https://orders.example.com',
    OAUTH_ORDERS_SCOPE: 'orders:read  orders:write',
    OAUTH_BILLING_URL: 'https://billing.example.com',
    OAUTH_BILLING_AUDIENCE: 'billing-api',
    OAUTH_BILLING_TOKEN: 'exchange',
  }

  it('reads each API from its prefixed variables, with the token mode defaulting from RESOURCE; options override (their names are the list)', () => {
    const config = resolveConfig({ logger: silent, apis: { orders: {}, billing: { scope: 'billing:read' } } }, apis)
    expect(config.apis.map(({ name, url, resource, audience, scope, token, provider }) => ({ name, url: url.href, resource, audience, scope, token, provider }))).toEqual([
      { name: 'orders', url: 'https://orders.example.com/v1/', resource: 'https://orders.example.com', audience: undefined, scope: 'orders:read orders:write', token: 'resource', provider: undefined },
      { name: 'billing', url: 'https://billing.example.com/', resource: undefined, audience: 'billing-api', scope: 'billing:read', token: 'exchange', provider: undefined },
    ])
    const login = resolveConfig({ logger: silent }, { ...apis, OAUTH_ORDERS_RESOURCE: '', OAUTH_BILLING_TOKEN: '' })
    expect(login.apis.map((api) => api.token)).toEqual(['login', 'login'])
  })

  it("adds each API's origin to the oauth.fetch allow-list, and the resource grants' resources and scopes to the login", () => {
    const [provider] = resolveConfig({ logger: silent }, apis).providers
    expect(provider?.apiOrigins).toEqual(['https://orders.example.com', 'https://billing.example.com'])
    expect(provider?.authorizationParams.resource).toEqual(['https://orders.example.com'])
    expect([provider?.scope, provider?.loginScope]).toEqual(['openid profile email', 'openid profile email orders:read orders:write'])
    const without = resolveConfig({ logger: silent }, valid).providers[0]
    expect([without?.apiOrigins, without?.authorizationParams.resource, without?.loginScope]).toEqual([[], undefined, 'openid profile email'])
  })

  it('refuses a missing or bad URL, an unknown token mode, a mode without the API named, an unknown provider, all at once', () => {
    const message = problems({
      ...valid,
      OAUTH_APIS: 'a,b,c,d,e',
      OAUTH_B_URL: 'ftp://b.example.com',
      OAUTH_C_URL: 'http://c.example.com/?x=1',
      OAUTH_D_URL: 'https://d.example.com',
      OAUTH_D_TOKEN: 'jwt',
      OAUTH_E_URL: 'https://e.example.com',
      OAUTH_E_TOKEN: 'exchange',
      OAUTH_E_PROVIDER: 'corp',
    })
    expect(message).toContain('OAUTH_A_URL is required')
    expect(message).toContain('OAUTH_B_URL must be an absolute http(s) URL')
    expect(message).toContain('OAUTH_C_URL must use https')
    expect(message).toContain('OAUTH_C_URL must be a base URL without query')
    expect(message).toContain('OAUTH_D_TOKEN must be one of login, resource, exchange (got "jwt")')
    expect(message).toContain('OAUTH_E_TOKEN=exchange needs OAUTH_E_RESOURCE or OAUTH_E_AUDIENCE')
    expect(message).toContain('OAUTH_E_PROVIDER needs several providers')
    expect(problems({ ...valid, OAUTH_APIS: 'x', OAUTH_X_URL: 'https://x.example.com', OAUTH_X_TOKEN: 'resource' })).toContain('OAUTH_X_TOKEN=resource needs OAUTH_X_RESOURCE')
    expect(problems({ ...valid, OAUTH_APIS: 'x', OAUTH_X_URL: 'https://x.example.com', OAUTH_X_RESOURCE: 'https://x.example.com/#f' })).toContain('OAUTH_X_RESOURCE must be an absolute URI without a fragment')
    expect(problems(valid, { apis: { 'Bad-Name': { url: 'https://x.example.com' } } })).toContain('API name "Bad-Name" must be lower-case letters')
  })

  it('with several providers, an API names one of them, and no API takes a provider\'s name', () => {
    const two = { OAUTH_BASE_URL: valid.OAUTH_BASE_URL, OAUTH_COOKIE_SECRET: valid.OAUTH_COOKIE_SECRET, OAUTH_PROVIDERS: 'corp,partner' }
    const provider = (name: string) => ({ [`OAUTH_${name}_ISSUER`]: `https://${name.toLowerCase()}.example.com`, [`OAUTH_${name}_CLIENT_ID`]: 'app', [`OAUTH_${name}_CLIENT_SECRET`]: 's' })
    const env = { ...two, ...provider('CORP'), ...provider('PARTNER'), OAUTH_APIS: 'orders', OAUTH_ORDERS_URL: 'https://orders.example.com', OAUTH_ORDERS_PROVIDER: 'corp' }
    const config = resolveConfig({ logger: silent }, env)
    expect(config.apis[0]?.provider).toBe('corp')
    expect(config.providers.map((p) => p.apiOrigins)).toEqual([['https://orders.example.com'], []])
    expect(problems({ ...env, OAUTH_ORDERS_PROVIDER: 'github' })).toContain('OAUTH_ORDERS_PROVIDER must be one of the providers (corp, partner; got "github")')
    expect(problems({ ...env, OAUTH_APIS: 'corp' })).toContain('API corp has the name of a provider')
  })

  it("warns about an API's misspelt variable and about an API's variables OAUTH_APIS does not list", () => {
    const warnings: string[] = []
    resolveConfig({ logger: { warn: (line: string) => warnings.push(line), error: () => {} } }, { ...apis, OAUTH_ORDERS_RESOURSE: 'x', OAUTH_SHIPPING_URL: 'https://s.example.com' })
    expect(warnings).toEqual([
      'OAUTH_ORDERS_RESOURSE is set but is not a codegrant setting and is ignored (did you mean OAUTH_ORDERS_RESOURCE?)',
      'OAUTH_SHIPPING_URL is set but is not a codegrant setting and is ignored (did you mean OAUTH_APIS listing shipping?)',
    ])
  })
})
