/**
 * OAUTH_PROFILE=fapi2: a login against the dev provider acting as a FAPI 2.0 provider
 * (oidc-provider's `fapi` feature, profile 2.0) with a client it forces to PAR, DPoP and
 * private_key_jwt, on every framework version; every weaker setting refused at start-up; a
 * missing `iss` in the authorization response refused.
 */
import { generateKeyPairSync } from 'node:crypto'
import type { OAuthOptions, SessionData } from '@codegrant/core'
import { createCodegrant } from '@codegrant/core/adapter'
import { createCookieCodec } from '@codegrant/core'
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, login } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { captureLogs, SECRET_A, startupProblems } from './support/provider.js'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'fapi-key', alg: 'ES256', use: 'sig' }
const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()

let provider: DevProvider
const stages = {} as Record<Framework, Stage>

beforeAll(async () => {
  for (const framework of FRAMEWORKS) stages[framework] = await openStage()
  provider = await startDevProvider({
    quiet: true,
    fapi2: true,
    dpopNonce: true,
    clients: FRAMEWORKS.map((framework) => ({
      client_id: `fapi-${framework}`,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [publicJwk] },
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      redirect_uris: [`${stages[framework].url}/auth/callback`],
      post_logout_redirect_uris: [`${stages[framework].url}/`],
    })),
  })
})
afterAll(async () => {
  await Promise.all(Object.values(stages).map((stage) => stage.close()))
  await provider.close()
})

const fapiOptions = (framework: Framework, extra: OAuthOptions = {}): OAuthOptions => ({
  issuer: provider.issuer,
  clientId: `fapi-${framework}`,
  privateKey: pem,
  baseUrl: stages[framework].url,
  cookieSecret: SECRET_A,
  logger: captureLogs(),
  profile: 'fapi2',
  ...extra,
})

describe.each(FRAMEWORKS)('%s with OAUTH_PROFILE=fapi2', (framework) => {
  it('signs in through PAR with DPoP-bound tokens and private_key_jwt, and calls userinfo', async () => {
    const stage = stages[framework]
    stage.mount(await buildHandler(framework, fapiOptions(framework), `${provider.issuer}/me`))
    const agent = createAgent()
    const pushed = provider.events.filter((e) => e.name === 'pushed_authorization_request.success').length
    const result = await login(agent, stage.url, 'alice')
    expect(result.last.body).toBe('signed in as alice')
    // the browser saw only a request_uri: the parameters went through PAR
    const authorize = new URL(result.authorizeUrl!)
    expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri'])
    expect(provider.events.filter((e) => e.name === 'pushed_authorization_request.success').length).toBe(pushed + 1)
    const cookies = agent.cookies(stage.url)
    const session = JSON.parse(createCookieCodec([SECRET_A]).open('codegrant.session', cookies.get('codegrant.session') ?? [0, 1].map((i) => cookies.get(`codegrant.session.${i}`) ?? '').join(''))!) as SessionData
    expect(session.tokens.tokenType).toBe('DPoP')
    const userinfo = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
    expect(userinfo.status).toBe(200)
    expect(JSON.parse(userinfo.body)).toMatchObject({ sub: 'alice' })
  })
})

describe('OAUTH_PROFILE=fapi2 at start-up', () => {
  const base = { issuer: 'https://id.example.com', clientId: 'app', baseUrl: 'https://app.example.com', cookieSecret: SECRET_A, privateKey: pem, logger: captureLogs() }

  it('turns PAR, DPoP, private_key_jwt and the issuer audience on by itself', () => {
    const { config } = createCodegrant(base, { OAUTH_PROFILE: 'fapi2' })
    expect(config.profile).toBe('fapi2')
    expect(config.providers[0]).toMatchObject({ par: true, dpop: true, clientAuthMethod: 'private_key_jwt', clientAssertionAud: 'issuer' })
  })

  it('refuses every weaker setting, each with its reason, all in one message', () => {
    const message = startupProblems(
      { ...base, par: false, dpop: false, dpopAllowBearer: true, clientAuthMethod: 'client_secret_basic', clientSecret: 's', clientAssertionAud: 'token_endpoint', idTokenSigningAlg: 'RS256', clockTolerance: 300 },
      { OAUTH_PROFILE: 'fapi2' },
    )
    expect(message).toContain('requires pushed authorization requests')
    expect(message).toContain('requires sender-constrained tokens')
    expect(message).toContain('refuses Bearer tokens')
    expect(message).toContain('requires OAUTH_CLIENT_AUTH_METHOD=private_key_jwt')
    expect(message).toContain('shared client secrets')
    expect(message).toContain('issuer as the client assertion audience')
    expect(message).toContain('PS256, ES256, EdDSA as OAUTH_ID_TOKEN_SIGNING_ALG')
    expect(message).toContain('at most 60 seconds of OAUTH_CLOCK_TOLERANCE')
    expect(message.split('\n').filter((line) => line.includes('OAUTH_PROFILE=fapi2'))).toHaveLength(7)
  })

  it('refuses public clients, short RSA keys, and an unknown profile', () => {
    expect(startupProblems({ ...base, clientAuthMethod: 'none' }, { OAUTH_PROFILE: 'fapi2' })).toContain('forbids public clients')
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    expect(startupProblems({ ...base, privateKey: rsa }, { OAUTH_PROFILE: 'fapi2' })).toContain('RSA keys of at least 2048 bits')
    expect(startupProblems(base, { OAUTH_PROFILE: 'fapi1' })).toContain('OAUTH_PROFILE must be fapi2, fapi2-message-signing or unset')
    // the same settings without the profile are fine
    expect(startupProblems({ ...base, privateKey: rsa, clientAuthMethod: 'private_key_jwt' })).toBe('')
  })
})

describe('the authorization response under OAUTH_PROFILE=fapi2', () => {
  it('without `iss` is a 400 even from a provider that does not advertise RFC 9207; the same settings without the profile let it through', async () => {
    const framework: Framework = 'express5'
    const stage = stages[framework]
    // a FAPI 2.0 provider whose metadata does not say that it sends `iss` (oauth4webapi then requires it only when told to)
    const quiet = await startDevProvider({
      quiet: true,
      fapi2: true,
      discovery: { authorization_response_iss_parameter_supported: undefined },
      clients: [{
        client_id: 'fapi-express5',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicJwk] },
        require_pushed_authorization_requests: true,
        dpop_bound_access_tokens: true,
        redirect_uris: [`${stage.url}/auth/callback`],
      }],
    })
    const withoutIss = async (options: OAuthOptions) => {
      stage.mount(await buildHandler(framework, { ...options, issuer: quiet.issuer }, `${quiet.issuer}/me`))
      const agent = createAgent()
      const stopped = await login(agent, stage.url, 'bob', { stopAtCallback: true })
      const callback = new URL(stopped.callbackUrl!)
      expect(callback.searchParams.get('iss')).toBe(quiet.issuer)
      callback.searchParams.delete('iss')
      return agent.request(callback.href, { headers: API })
    }
    try {
      const refused = await withoutIss(fapiOptions(framework))
      expect(refused.status).toBe(400)
      expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_callback' })
      expect(JSON.parse(refused.body).message).toContain('"iss" (issuer) missing')

      const { profile: _profile, ...weaker } = fapiOptions(framework, { par: true, dpop: true, clientAuthMethod: 'private_key_jwt', clientAssertionAud: 'issuer', idTokenSigningAlg: 'ES256' })
      const accepted = await withoutIss(weaker)
      expect(accepted.status).toBe(302)
      expect(accepted.headers.get('location')).toBe('/')
    } finally {
      await quiet.close()
    }
  })
})
