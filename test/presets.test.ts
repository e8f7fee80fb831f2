/**
 * Presets against loopback providers shaped like the real ones: GitHub's OAuth app and REST API
 * (support/github-provider.ts) and Microsoft Entra ID's multi-tenant issuers
 * (support/entra-provider.ts). Presets involve no adapter behaviour, so the core is driven
 * directly (support/core-login.ts); the preset's endpoints or issuer point at the loopback.
 */
import type { OAuthOptions } from '@codegrant/core'
import { createCodegrant } from '@codegrant/core/adapter'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { call, codeOf, CORE_BASE, coreLogin, stateOf, userOf } from './support/core-login.js'
import { CONSUMERS, startEntraProvider, TENANT_A, TENANT_B, type EntraProvider, type EntraSettings } from './support/entra-provider.js'
import { GITHUB_EMAILS, startGitHubProvider, type GitHubProvider } from './support/github-provider.js'
import { captureLogs, SECRET_A } from './support/provider.js'

const SESSION = 'codegrant.session'
const STACK = /at .*\(.*:\d+:\d+\)/

describe('github preset', () => {
  let github: GitHubProvider
  let logs: ReturnType<typeof captureLogs>

  const app = (extra: OAuthOptions = {}, env: Record<string, string> = {}) =>
    createCodegrant({ logger: logs, ...extra }, {
      OAUTH_PRESET: 'github',
      OAUTH_CLIENT_ID: github.clientId,
      OAUTH_CLIENT_SECRET: github.clientSecret,
      OAUTH_BASE_URL: CORE_BASE,
      OAUTH_COOKIE_SECRET: SECRET_A,
      // the preset's endpoints, pointed at the loopback GitHub (each one is an override)
      OAUTH_AUTHORIZATION_ENDPOINT: github.endpoints.authorizationEndpoint,
      OAUTH_TOKEN_ENDPOINT: github.endpoints.tokenEndpoint,
      OAUTH_USERINFO_ENDPOINT: github.endpoints.userinfoEndpoint,
      ...env,
    })

  beforeAll(async () => {
    github = await startGitHubProvider({ redirectUri: `${CORE_BASE}/auth/callback` })
  })
  afterAll(() => github.close())
  beforeEach(() => {
    github.reset()
    logs = captureLogs()
  })
  afterEach(() => {
    for (const line of logs.lines) for (const secret of github.secrets()) expect(line).not.toContain(secret)
  })

  it('signs in: no ID token, the user from /user mapped to standard claims, the primary verified email from /user/emails', async () => {
    const before = github.requests().length
    const { callback, jar, authorize } = await coreLogin(app())
    expect([callback.status, callback.headers.location]).toEqual([302, '/'])
    expect(authorize.origin + authorize.pathname).toBe(github.endpoints.authorizationEndpoint)
    expect(authorize.searchParams.get('scope')).toBe('read:user user:email')
    expect(authorize.searchParams.has('nonce')).toBe(false)
    expect(await userOf(app(), jar)).toEqual({
      sub: '583231',
      name: 'octocat', // GitHub's name is null: the login stands in
      preferred_username: 'octocat',
      picture: 'https://avatars.githubusercontent.com/u/583231?v=4',
      profile: 'https://github.com/octocat',
      email: 'octocat@github.com',
      email_verified: true,
    })
    const state = await stateOf(app(), jar)
    expect(state.tokens).toMatchObject({ tokenType: 'Bearer', scope: 'read:user user:email' })
    expect(state.tokens?.idToken).toBeUndefined()
    // what the requests carried: client_secret_post with JSON asked for; GitHub's API headers
    const [token] = github.requests('/login/oauth/access_token').slice(-1)
    expect(token!.accept).toContain('application/json')
    expect(token!.authorization).toBeUndefined()
    expect(token!.form?.get('client_secret')).toBe(github.clientSecret)
    for (const path of ['/api/user', '/api/user/emails']) {
      const [seen] = github.requests(path).slice(-1)
      expect(seen).toMatchObject({ accept: 'application/vnd.github+json', userAgent: 'codegrant' })
      expect(seen!.authorization).toMatch(/^Bearer gho_/)
    }
    expect(github.requests().length - before).toBe(4)
  })

  it('reads a form-encoded token answer (GitHub without Accept: application/json)', async () => {
    github.set({ alwaysForm: true })
    const { callback, jar } = await coreLogin(app())
    expect(callback.status).toBe(302)
    expect((await userOf(app(), jar))?.sub).toBe('583231')
  })

  it.each([
    ['bad_verification_code', 400, 'codegrant/invalid_grant'],
    ['incorrect_client_credentials', 502, 'codegrant/provider_error'],
    ['redirect_uri_mismatch', 502, 'codegrant/provider_error'],
  ])('an error answered with HTTP 200 (%s) is the error it is: %i %s, no session', async (error, status, code) => {
    github.set({ tokenError: error })
    const users = github.requests('/api/user').length
    const { callback } = await coreLogin(app())
    expect([callback.status, codeOf(callback)]).toEqual([status, code])
    expect(callback.cookies.some((line) => line.startsWith(SESSION) && !/Max-Age=0/i.test(line))).toBe(false)
    expect(callback.body).not.toMatch(STACK)
    for (const secret of github.secrets()) expect(callback.body).not.toContain(secret)
    expect(github.requests('/api/user')).toHaveLength(users)
    if (error === 'incorrect_client_credentials') expect(logs.lines.join('\n')).toContain('OAUTH_CLIENT_SECRET')
  })

  it('an HTTP 200 error in a form-encoded answer is read as the error too', async () => {
    github.set({ alwaysForm: true, tokenError: 'bad_verification_code' })
    const { callback } = await coreLogin(app())
    expect([callback.status, codeOf(callback)]).toEqual([400, 'codegrant/invalid_grant'])
  })

  it('asks for no email list without the user:email scope, and sets no email then', async () => {
    const emails = github.requests('/api/user/emails').length
    const { callback, jar } = await coreLogin(app({}, { OAUTH_SCOPE: 'read:user' }))
    expect(callback.status).toBe(302)
    const user = await userOf(app(), jar)
    expect(user).toMatchObject({ sub: '583231', preferred_username: 'octocat' })
    expect(user?.email).toBeUndefined()
    expect(github.requests('/api/user/emails')).toHaveLength(emails)
  })

  it('keeps the name when GitHub has one, and sets no email when none is primary and verified', async () => {
    github.set({ user: { name: 'The Octocat' }, emails: GITHUB_EMAILS.map((entry) => ({ ...entry, primary: entry.primary && false })) })
    const { jar } = await coreLogin(app())
    const user = await userOf(app(), jar)
    expect(user).toMatchObject({ name: 'The Octocat', preferred_username: 'octocat' })
    expect(user?.email).toBeUndefined()
    expect(user?.email_verified).toBeUndefined()
  })

  it('a user API that fails is a 502 with no session; one without an id is refused', async () => {
    github.set({ userStatus: 500 })
    const failed = (await coreLogin(app())).callback
    expect([failed.status, codeOf(failed)]).toEqual([502, 'codegrant/userinfo_invalid'])
    github.set({ userStatus: undefined, user: { id: undefined } })
    const anonymous = (await coreLogin(app())).callback
    expect([anonymous.status, codeOf(anonymous)]).toEqual([502, 'codegrant/userinfo_invalid'])
  })

  it('userinfo() reads the same API; logout is local (no revocation, no end-session)', async () => {
    const codegrant = app()
    const { jar } = await coreLogin(codegrant)
    const state = await stateOf(codegrant, jar)
    expect(await state.userinfo()).toMatchObject({ sub: '583231', email: 'octocat@github.com' })
    const before = github.requests().length
    const out = await call(codegrant, 'logout', '/auth/logout', jar)
    expect([out.status, out.headers.location]).toEqual([302, `${CORE_BASE}/`])
    expect(github.requests().length).toBe(before)
  })

  it('any preset field can be overridden: the scope from the environment, the user mapping in code', async () => {
    const { PRESETS } = await import('@codegrant/core')
    const codegrant = app({ preset: { ...PRESETS.github, user: { ...PRESETS.github.user, claims: { sub: ['login'], name: ['company'] } } } as never })
    const { jar } = await coreLogin(codegrant)
    expect(await userOf(codegrant, jar)).toMatchObject({ sub: 'octocat', name: '@github' })
  })
})

describe('microsoft preset: multi-tenant issuers', () => {
  let entra: EntraProvider
  let logs: ReturnType<typeof captureLogs>

  /**
   * The preset with the loopback as its cloud: OAUTH_ISSUER names the tenant (as for a national
   * cloud). The user keeps its protocol claims: the tests read the token's own `iss` there.
   */
  const app = (tenant: string) =>
    createCodegrant({ logger: logs, keepProtocolClaims: true }, {
      OAUTH_PRESET: 'microsoft',
      OAUTH_ISSUER: `${entra.url}/${tenant}/v2.0`,
      OAUTH_CLIENT_ID: entra.clientId,
      OAUTH_CLIENT_SECRET: entra.clientSecret,
      OAUTH_BASE_URL: CORE_BASE,
      OAUTH_COOKIE_SECRET: SECRET_A,
    })
  const signedIn = async (tenant: string, settings: EntraSettings) => {
    entra.set(settings)
    const codegrant = app(tenant)
    const { callback, jar } = await coreLogin(codegrant)
    return { callback, jar, codegrant }
  }
  const expectRefused = (callback: Awaited<ReturnType<typeof signedIn>>['callback']) => {
    expect([callback.status, codeOf(callback)]).toEqual([400, 'codegrant/id_token_invalid'])
    expect(callback.cookies.some((line) => line.startsWith(SESSION) && !/Max-Age=0/i.test(line))).toBe(false)
    expect(callback.body).not.toMatch(STACK)
  }

  beforeAll(async () => {
    entra = await startEntraProvider({ redirectUri: `${CORE_BASE}/auth/callback` })
  })
  afterAll(() => entra.close())
  beforeEach(() => {
    entra.reset()
    logs = captureLogs()
  })

  it('common: a user of any tenant signs in; iss is checked against the template with the token\'s own tid', async () => {
    for (const tid of [TENANT_A, TENANT_B, CONSUMERS]) {
      const { callback, jar, codegrant } = await signedIn('common', { tid })
      expect([callback.status, callback.headers.location]).toEqual([302, '/'])
      expect(await userOf(codegrant, jar)).toMatchObject({ iss: entra.issuerOf(tid), tid, sub: 'pairwise-sub-of-ada' })
    }
  })

  it.each<[string, EntraSettings]>([
    ['iss names another tenant than tid', { tid: TENANT_A, iss: `${'{url}'}/${TENANT_B}/v2.0` }],
    ['iss is the template itself', { tid: TENANT_A, iss: '{template}' }],
    ['tid is missing', { tid: undefined }],
    ['tid is no tenant id', { tid: 'common' }],
  ])('common: refused when %s (400, no session)', async (_, settings) => {
    const iss = settings.iss?.replace('{url}', entra.url).replace('{template}', entra.template)
    const { callback } = await signedIn('common', { ...settings, ...(iss ? { iss } : {}) })
    expectRefused(callback)
  })

  it('organizations refuses the consumer tenant; consumers admits only it; a tenant id admits only itself', async () => {
    expectRefused((await signedIn('organizations', { tid: CONSUMERS })).callback)
    expect((await signedIn('organizations', { tid: TENANT_B })).callback.status).toBe(302)
    expectRefused((await signedIn('consumers', { tid: TENANT_A })).callback)
    expect((await signedIn('consumers', { tid: CONSUMERS })).callback.status).toBe(302)
    expectRefused((await signedIn(TENANT_A, { tid: TENANT_B })).callback)
    expect((await signedIn(TENANT_A, { tid: TENANT_A })).callback.status).toBe(302)
    expect(logs.lines.join('\n')).not.toContain(entra.clientSecret)
  })

  it('the signing key must be one the token\'s issuer may use (the JWKS names each key\'s issuer)', async () => {
    expectRefused((await signedIn('common', { tid: TENANT_A, keyIssuer: `${entra.url}/${TENANT_B}/v2.0` })).callback)
    expect((await signedIn('common', { tid: TENANT_A, keyIssuer: `${entra.url}/${TENANT_A}/v2.0` })).callback.status).toBe(302)
    expect((await signedIn('common', { tid: TENANT_A, keyIssuer: undefined })).callback.status).toBe(302)
  })

  it('a refreshed ID token is checked the same way; logout goes to the tenant\'s end-session endpoint', async () => {
    const { jar, codegrant } = await signedIn('common', { tid: TENANT_A })
    const tokens = await (await stateOf(codegrant, jar)).refresh()
    expect(tokens.idToken).toBeDefined()
    entra.set({ tid: TENANT_A, iss: entra.issuerOf(TENANT_B) })
    await expect((await stateOf(codegrant, jar)).refresh()).rejects.toMatchObject({ code: 'codegrant/session_ended' })
    const fresh = await signedIn('organizations', { tid: TENANT_A, iss: null })
    const out = await call(fresh.codegrant, 'logout', '/auth/logout', fresh.jar)
    const location = new URL(out.headers.location!)
    expect(location.origin + location.pathname).toBe(`${entra.url}/organizations/oauth2/v2.0/logout`)
    expect(location.searchParams.get('id_token_hint')).toBeTruthy()
  })
})
