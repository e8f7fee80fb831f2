/**
 * FAPI 2.0 Message Signing: signed request objects (JAR, RFC 9101) pushed through PAR, and
 * JWT-secured authorization responses (JARM: `response_mode` `jwt`, `query.jwt`, `form_post.jwt`).
 * Logins against the dev provider registering the client for both, on every framework version;
 * the provider refusing a request that is not signed; every JARM response that fails a check
 * refused by the callback (a hostile provider signs them); the profile's start-up problems; and
 * `OAUTH_PROFILE=fapi2-message-signing` as the demo runs it.
 */
import { generateKeyPairSync } from 'node:crypto'
import type { OAuthOptions, ResponseMode } from '@codegrant/core'
import { createCodegrant } from '@codegrant/core/adapter'
import { startDevProvider, type DevClient, type DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { API, createAgent, formOf, HTML, login, type Agent, type Hop } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startExample } from './support/example.js'
import type { HostileProvider, HostileSettings } from './support/hostile-provider.js'
import { useHostileStage } from './support/hostile-stage.js'
import { captureLogs, SECRET_A, startupProblems } from './support/provider.js'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'ms-key', alg: 'ES256', use: 'sig' }
const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()

const SESSION = 'codegrant.session'
const STACK = /at .*\(.*:\d+:\d+\)/
const isSessionCookie = (line: string) => line.startsWith(`${SESSION}=`) || line.startsWith(`${SESSION}.`)
const setsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line))
const epoch = () => Math.floor(Date.now() / 1000)
const claimsOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'))
const headerOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8'))

/** A client as a FAPI 2.0 Message Signing provider registers it: PAR, DPoP, private_key_jwt, signed requests and responses. */
const messageSigningClient = (clientId: string, appUrl: string, extra: Partial<DevClient> = {}): DevClient => ({
  client_id: clientId,
  token_endpoint_auth_method: 'private_key_jwt',
  token_endpoint_auth_signing_alg: 'ES256',
  jwks: { keys: [publicJwk] },
  require_pushed_authorization_requests: true,
  dpop_bound_access_tokens: true,
  require_signed_request_object: true,
  request_object_signing_alg: 'ES256',
  authorization_signed_response_alg: 'ES256',
  redirect_uris: [`${appUrl}/auth/callback`],
  post_logout_redirect_uris: [`${appUrl}/`],
  ...extra,
})

/**
 * Logs `username` in through the dev provider's form, in any response mode: a `form_post.jwt`
 * answer is the provider's auto-submitting form, POSTed here as the browser would.
 */
async function loginInMode(agent: Agent, appUrl: string, username: string, mode: ResponseMode) {
  const started = await agent.request(`${appUrl}/auth/login`, { headers: HTML })
  const authorizeUrl = started.headers.get('location')!
  const toForm = await agent.follow(authorizeUrl, { headers: HTML })
  const { action, fields } = formOf(toForm.last)
  fields.set('username', username)
  fields.set('password', 'x')
  const isCallback = (url: string) => url.startsWith(`${appUrl}/auth/callback`)
  const posted = await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() }, isCallback)
  if (mode === 'form_post' || mode === 'form_post.jwt') {
    const autoPost = formOf(posted.last)
    expect(autoPost.action).toBe(`${appUrl}/auth/callback`)
    const callback = await agent.request(autoPost.action, { method: 'POST', headers: HTML, body: autoPost.fields.toString() })
    return { started, authorizeUrl, response: autoPost.fields, callback }
  }
  if (!posted.stoppedAt) throw new Error(`the login did not reach the callback: ${posted.last.status} at ${posted.last.url}: ${posted.last.body.slice(0, 300)}`)
  const callback = await agent.request(posted.stoppedAt, { headers: HTML })
  return { started, authorizeUrl, response: new URL(posted.stoppedAt).searchParams, callback }
}

describe('signed request objects and JWT-secured responses against the dev provider', () => {
  let provider: DevProvider
  const stages = {} as Record<Framework, Stage>

  beforeAll(async () => {
    for (const framework of FRAMEWORKS) stages[framework] = await openStage()
    provider = await startDevProvider({
      quiet: true,
      fapi2: true,
      clients: FRAMEWORKS.map((framework) => messageSigningClient(`ms-${framework}`, stages[framework].url)),
    })
  })
  afterAll(async () => {
    await Promise.all(Object.values(stages).map((stage) => stage.close()))
    await provider.close()
  })

  const options = (framework: Framework, extra: OAuthOptions = {}): OAuthOptions => ({
    issuer: provider.issuer,
    clientId: `ms-${framework}`,
    privateKey: pem,
    baseUrl: stages[framework].url,
    cookieSecret: SECRET_A,
    logger: captureLogs(),
    profile: 'fapi2-message-signing',
    ...extra,
  })

  describe.each(FRAMEWORKS)('%s with OAUTH_PROFILE=fapi2-message-signing', (framework) => {
    it.each<ResponseMode>(['jwt', 'query.jwt', 'form_post.jwt'])('signs in through PAR with a signed request object, the response in response_mode %s', async (mode) => {
      const stage = stages[framework]
      const logs = captureLogs()
      stage.mount(await buildHandler(framework, options(framework, { logger: logs, ...(mode === 'jwt' ? {} : { responseMode: mode }) }), `${provider.issuer}/me`))
      const agent = createAgent()
      const pushed = provider.count('pushed_authorization_request.success')
      const { authorizeUrl, response, callback } = await loginInMode(agent, stage.url, 'alice', mode)
      // the browser saw only a request_uri: the parameters went through PAR, as a request object the client had to sign
      expect([...new URL(authorizeUrl).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri'])
      expect(provider.count('pushed_authorization_request.success')).toBe(pushed + 1)
      // the answer was one JWT signed by the provider with the registered algorithm, its code inside
      expect([...response.keys()]).toEqual(['response'])
      const jwt = response.get('response')!
      expect(headerOf(jwt).alg).toBe('ES256')
      expect(claimsOf(jwt)).toMatchObject({ iss: provider.issuer, aud: `ms-${framework}`, code: expect.any(String), state: expect.any(String) })
      expect([callback.status, callback.headers.get('location')]).toEqual([302, '/'])
      expect(setsSession(callback.setCookies)).toBe(true)
      expect((await agent.request(`${stage.url}/`, { headers: HTML })).body).toBe('signed in as alice')
      const userinfo = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
      expect([userinfo.status, JSON.parse(userinfo.body).sub]).toEqual([200, 'alice'])
      expect(logs.lines.join('\n')).not.toContain(jwt)
    })
  })

  it('a JARM response signed with a key the provider rotated in seconds ago: the unknown kid refetches the keys at once', async () => {
    const framework: Framework = 'fastify4'
    const stage = stages[framework]
    stage.mount(await buildHandler(framework, options(framework), `${provider.issuer}/me`))
    const first = createAgent()
    expect((await loginInMode(first, stage.url, 'alice', 'jwt')).callback.status).toBe(302)
    const [, ec] = await provider.rotateKeys()
    const second = createAgent()
    const { response, callback } = await loginInMode(second, stage.url, 'bob', 'jwt')
    expect(headerOf(response.get('response')!).kid).toBe(ec)
    expect([callback.status, callback.headers.get('location')]).toEqual([302, '/'])
    expect((await second.request(`${stage.url}/`, { headers: HTML })).body).toBe('signed in as bob')
  })

  it('the provider refuses the same client when its request is not signed (the request object is what it checks)', async () => {
    const framework: Framework = 'express5'
    const stage = stages[framework]
    // FAPI 2.0 without message signing: everything else as above, the request sent unsigned
    stage.mount(await buildHandler(framework, options(framework, { profile: 'fapi2', responseMode: 'jwt', authorizationSigningAlg: 'ES256' }), `${provider.issuer}/me`))
    const before = provider.count('pushed_authorization_request.success')
    const started = await createAgent().request(`${stage.url}/auth/login`, { headers: API })
    expect([started.status, JSON.parse(started.body).code]).toEqual([502, 'codegrant/provider_error'])
    expect(provider.count('pushed_authorization_request.success')).toBe(before)
    expect(provider.events.some((event) => event.name === 'pushed_authorization_request.error')).toBe(true)
  })

  it('a JARM client answered in the plain query (code and state, no JWT): 400, no token request', async () => {
    const framework: Framework = 'koa3'
    const stage = stages[framework]
    stage.mount(await buildHandler(framework, options(framework), `${provider.issuer}/me`))
    const agent = createAgent()
    const stopped = await login(agent, stage.url, 'bob', { stopAtCallback: true })
    const signed = new URL(stopped.callbackUrl!)
    const claims = claimsOf(signed.searchParams.get('response')!)
    const plain = new URL(`${stage.url}/auth/callback`)
    for (const name of ['code', 'state', 'iss']) plain.searchParams.set(name, String(claims[name]))
    const exchanges = provider.count('grant.success', 'authorization_code')
    const refused = await agent.request(plain.href, { headers: API })
    expect([refused.status, JSON.parse(refused.body).code]).toEqual([400, 'codegrant/invalid_callback'])
    expect(setsSession(refused.setCookies)).toBe(false)
    expect(provider.count('grant.success', 'authorization_code')).toBe(exchanges)
  })
})

describe('a signed request object without PAR, and JARM without a profile', () => {
  let provider: DevProvider
  let stage: Stage
  const secret = 'jar-client-secret-0123456789abcdef'

  beforeAll(async () => {
    stage = await openStage()
    provider = await startDevProvider({
      quiet: true,
      clients: [{ client_id: 'jar-client', client_secret: secret, jwks: { keys: [publicJwk] }, require_signed_request_object: true, request_object_signing_alg: 'ES256', redirect_uris: [`${stage.url}/auth/callback`] }],
    })
  })
  afterAll(async () => {
    await stage.close()
    await provider.close()
  })

  it('sends the request object by value in the authorization URL (client_id and request only), and a client_secret_basic client checks the RS256 JARM response', async () => {
    stage.mount(await buildHandler('fastify5', { issuer: provider.issuer, clientId: 'jar-client', clientSecret: secret, privateKey: pem, requestObject: true, responseMode: 'query.jwt', baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs() }, `${provider.issuer}/me`))
    const agent = createAgent()
    const { authorizeUrl, response, callback } = await loginInMode(agent, stage.url, 'alice', 'query.jwt')
    const sent = new URL(authorizeUrl).searchParams
    expect([...sent.keys()].sort()).toEqual(['client_id', 'request'])
    const request = sent.get('request')!
    expect(headerOf(request).alg).toBe('ES256')
    const claims = claimsOf(request)
    expect(claims).toMatchObject({ iss: 'jar-client', aud: provider.issuer, client_id: 'jar-client', response_type: 'code', response_mode: 'query.jwt', code_challenge_method: 'S256' })
    expect(Number(claims.exp) - Number(claims.nbf)).toBeLessThanOrEqual(600)
    expect(claims.jti).toEqual(expect.any(String))
    expect(headerOf(response.get('response')!).alg).toBe('RS256')
    expect([callback.status, callback.headers.get('location')]).toEqual([302, '/'])
    expect((await agent.request(`${stage.url}/`, { headers: HTML })).body).toBe('signed in as alice')
  })

  it('the same client without OAUTH_REQUEST_OBJECT: the provider refuses the authorization request', async () => {
    stage.mount(await buildHandler('fastify5', { issuer: provider.issuer, clientId: 'jar-client', clientSecret: secret, baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs() }, `${provider.issuer}/me`))
    const agent = createAgent()
    const started = await agent.request(`${stage.url}/auth/login`, { headers: HTML })
    const refused = await agent.follow(started.headers.get('location')!, { headers: HTML })
    // oidc-provider answers the browser with an error (to the callback, or its own page)
    const landed = refused.last.url.startsWith(`${stage.url}/auth/callback`) ? new URL(refused.last.url).searchParams.get('error') : refused.last.body
    expect(landed).toMatch(/invalid_request|request object/i)
    expect(setsSession(refused.hops.flatMap((hop) => hop.setCookies))).toBe(false)
  })
})

describe.each(FRAMEWORKS)('%s: a JARM response that fails a check', (framework: Framework) => {
  const fixture = useHostileStage(framework, { mount: false })
  let hostile: HostileProvider
  let stage: Stage
  let agent: Agent
  beforeEach(async () => {
    ;({ hostile, stage, agent } = fixture)
    await fixture.mount({ responseMode: 'jwt' })
  })

  /** GET /auth/login through the hostile /authorize, then its answer delivered to the callback. */
  const signIn = async () => {
    const isCallback = (url: string) => url.startsWith(`${stage.url}/auth/callback`)
    const started = await agent.follow(`${stage.url}/auth/login`, { headers: HTML }, isCallback)
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status} at ${started.last.url}`)
    return agent.request(started.stoppedAt, { headers: API })
  }
  const expectNoLeak = (hop: Hop) => {
    let seen = hop.body
    hop.headers.forEach((value, name) => void (seen += `\n${name}: ${value}`))
    expect(seen).not.toMatch(STACK)
    expect(seen).not.toContain('node_modules')
    for (const secret of [...hostile.secrets(), SECRET_A]) expect(seen).not.toContain(secret)
  }
  const expectRejected = async (response: Hop, status: number, code: string) => {
    expect({ status: response.status, code: JSON.parse(response.body).code }).toEqual({ status, code })
    expect(setsSession(response.setCookies)).toBe(false)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.setCookies.some((line) => line.startsWith('codegrant.tx.') && /Max-Age=0/i.test(line))).toBe(true)
    expectNoLeak(response)
    expect((await fixture.get('/me')).status).toBe(401)
  }

  it('a well-behaved JARM response (control): signed in', async () => {
    const response = await signIn()
    expect([response.status, response.headers.get('location')]).toEqual([302, '/'])
    expect(setsSession(response.setCookies)).toBe(true)
    expect((await fixture.get('/', HTML)).body).toBe(`signed in as ${hostile.sub}`)
  })

  type Settings = HostileSettings | (() => HostileSettings)
  it.each<[string, Settings]>([
    // (a provider that does not advertise RFC 9207: only the JWT's own iss requirement refuses it)
    ['no iss', { metadata: { authorization_response_iss_parameter_supported: undefined }, jarm: { claims: { iss: undefined } } }],
    ['iss of another issuer', { jarm: { claims: { iss: 'https://attacker.example' } } }],
    ['no aud', { jarm: { claims: { aud: undefined } } }],
    ['aud of another client', { jarm: { claims: { aud: 'another-client' } } }],
    ['no exp', { jarm: { claims: { exp: undefined } } }],
    ['expired (exp = now − 120)', () => ({ jarm: { claims: { exp: epoch() - 120 } } })],
    ['a signature by a key not in the JWKS (same kid)', { jarm: { alg: 'wrong-key' } }],
    ['a kid that is not in the JWKS', { jarm: { alg: 'unknown-kid' } }],
    ['alg none', { jarm: { alg: 'none' } }],
    ['HS256 (keyed with the client secret)', { jarm: { alg: 'HS256' } }],
    ['ES256 with a published key while RS256 is pinned', { jarm: { alg: 'ES256' } }],
    ['HS256 when the provider advertises only HS256', { metadata: { authorization_signing_alg_values_supported: ['HS256'] }, jarm: { alg: 'HS256' } }],
    ['none when the provider advertises only none', { metadata: { authorization_signing_alg_values_supported: ['none'] }, jarm: { alg: 'none' } }],
  ])('%s: 400 codegrant/invalid_callback, no token request, no session', async (_, settings) => {
    hostile.set(typeof settings === 'function' ? settings() : settings)
    const before = hostile.count('token')
    await expectRejected(await signIn(), 400, 'codegrant/invalid_callback')
    expect(hostile.count('token')).toBe(before)
  })

  it('a response that is not a JWT: 400 codegrant/invalid_callback (no state to find its sign-in by), no token request, no session', async () => {
    hostile.set({ jarm: { raw: 'not-a-jwt' } })
    const before = hostile.count('token')
    const response = await signIn()
    expect({ status: response.status, code: JSON.parse(response.body).code }).toEqual({ status: 400, code: 'codegrant/invalid_callback' })
    expect(setsSession(response.setCookies)).toBe(false)
    expectNoLeak(response)
    expect(hostile.count('token')).toBe(before)
    expect((await fixture.get('/me')).status).toBe(401)
  })

  it('the JWKS answering 500: 502 codegrant/provider_error, no token request', async () => {
    hostile.set({ jwks: 'status-500' })
    const before = hostile.count('token')
    await expectRejected(await signIn(), 502, 'codegrant/provider_error')
    expect(hostile.count('token')).toBe(before)
  })

  it('an error response inside the JWT: 400 codegrant/authorization_error', async () => {
    hostile.set({ authorize: { code: undefined, error: 'access_denied' } })
    await expectRejected(await signIn(), 400, 'codegrant/authorization_error')
  })

  it('the configured algorithm is the one pin: ES256 accepted with OAUTH_AUTHORIZATION_SIGNING_ALG=ES256, RS256 then refused', async () => {
    await fixture.mount({ responseMode: 'query.jwt', authorizationSigningAlg: 'ES256' })
    hostile.set({ jarm: { alg: 'RS256' } })
    await expectRejected(await signIn(), 400, 'codegrant/invalid_callback')
    hostile.set({ jarm: { alg: 'ES256' } })
    expect((await signIn()).status).toBe(302)
    expect((await fixture.get('/me')).status).toBe(200)
  })

  it('form_post.jwt: a response POSTed with a wrong aud is refused the same way', async () => {
    await fixture.mount({ responseMode: 'form_post.jwt' })
    hostile.set({ jarm: { claims: { aud: 'another-client' } } })
    const started = await agent.follow(`${stage.url}/auth/login`, { headers: HTML })
    const { action, fields } = formOf(started.last)
    expect(action).toBe(`${stage.url}/auth/callback`)
    const before = hostile.count('token')
    await expectRejected(await agent.request(action, { method: 'POST', headers: API, body: fields.toString() }), 400, 'codegrant/invalid_callback')
    expect(hostile.count('token')).toBe(before)
  })
})

describe('OAUTH_PROFILE=fapi2-message-signing at start-up', () => {
  const base = { issuer: 'https://id.example.com', clientId: 'app', baseUrl: 'https://app.example.com', cookieSecret: SECRET_A, privateKey: pem, logger: captureLogs() }

  it('turns on everything FAPI 2.0 requires, signed request objects and response_mode=jwt by itself', () => {
    const { config } = createCodegrant(base, { OAUTH_PROFILE: 'fapi2-message-signing' })
    expect(config.profile).toBe('fapi2-message-signing')
    expect(config.responseMode).toBe('jwt')
    expect(config.providers[0]).toMatchObject({ par: true, dpop: true, clientAuthMethod: 'private_key_jwt', clientAssertionAud: 'issuer', requestObject: true })
    // query.jwt and form_post.jwt are JARM too
    expect(createCodegrant(base, { OAUTH_PROFILE: 'fapi2-message-signing', OAUTH_RESPONSE_MODE: 'form_post.jwt' }).config.responseMode).toBe('form_post.jwt')
  })

  it('refuses every weaker setting, each with its reason, all in one message', () => {
    const message = startupProblems(
      { ...base, par: false, dpop: false, clientAuthMethod: 'client_secret_basic', clientSecret: 's', requestObject: false, responseMode: 'query', authorizationSigningAlg: 'RS256' },
      { OAUTH_PROFILE: 'fapi2-message-signing' },
    )
    expect(message).toContain('OAUTH_PROFILE=fapi2-message-signing requires pushed authorization requests')
    expect(message).toContain('OAUTH_PROFILE=fapi2-message-signing requires sender-constrained tokens')
    expect(message).toContain('OAUTH_PROFILE=fapi2-message-signing requires OAUTH_CLIENT_AUTH_METHOD=private_key_jwt')
    expect(message).toContain('requires signed request objects (JAR, RFC 9101): remove OAUTH_REQUEST_OBJECT=false')
    expect(message).toContain('requires JWT-secured authorization responses (JARM): set OAUTH_RESPONSE_MODE to jwt, query.jwt or form_post.jwt')
    expect(message).toContain('allows only PS256, ES256, EdDSA as OAUTH_AUTHORIZATION_SIGNING_ALG')
    expect(message).not.toMatch(/OAUTH_PROFILE=fapi2 /)
  })

  it('OAUTH_REQUEST_OBJECT needs a private key; OAUTH_AUTHORIZATION_SIGNING_ALG must be asymmetric; unknown profiles are named', () => {
    const { privateKey: _key, ...keyless } = base
    expect(startupProblems({ ...keyless, clientSecret: 's', requestObject: true })).toContain('OAUTH_REQUEST_OBJECT needs OAUTH_PRIVATE_KEY')
    expect(startupProblems({ ...base, responseMode: 'jwt', authorizationSigningAlg: 'HS256' })).toContain('OAUTH_AUTHORIZATION_SIGNING_ALG must be an asymmetric algorithm')
    expect(startupProblems({ ...base, responseMode: 'jwt', authorizationSigningAlg: 'none' })).toContain('OAUTH_AUTHORIZATION_SIGNING_ALG must be an asymmetric algorithm')
    expect(startupProblems(base, { OAUTH_PROFILE: 'fapi1' })).toContain('OAUTH_PROFILE must be fapi2, fapi2-message-signing or unset')
    expect(startupProblems(base, { OAUTH_RESPONSE_MODE: 'fragment.jwt' })).toContain('OAUTH_RESPONSE_MODE must be one of query, form_post, jwt, query.jwt, form_post.jwt')
    // without a profile, JAR and JARM are each a choice
    expect(startupProblems({ ...base, clientAuthMethod: 'private_key_jwt', requestObject: true, responseMode: 'query.jwt' })).toBe('')
  })
})

describe('the demo (pnpm --dir examples/<name> start) with the dev provider, no other variable', () => {
  it('OAUTH_PROFILE=fapi2-message-signing: logs alice in with a signed request object through PAR and a JARM response, and calls userinfo', async () => {
    const example = await startExample('express', { OAUTH_PROFILE: 'fapi2-message-signing' })
    try {
      expect(example.output()).toContain('FAPI 2.0 Message Signing (PAR with signed request objects, JARM, DPoP, private_key_jwt) mode')
      const agent = createAgent()
      const result = await login(agent, example.url, 'alice')
      expect([...new URL(result.authorizeUrl!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri'])
      expect([...new URL(result.callbackUrl!).searchParams.keys()]).toEqual(['response'])
      const me = await agent.request(`${example.url}/me`, { headers: API })
      expect([me.status, JSON.parse(me.body).user.sub]).toEqual([200, 'alice'])
      const info = await agent.request(`${example.url}/api/userinfo`, { headers: API })
      expect([info.status, JSON.parse(info.body).sub]).toEqual([200, 'alice'])
    } finally {
      await example.stop()
    }
  }, 60_000)

  it('OAUTH_REQUEST_OBJECT=true OAUTH_RESPONSE_MODE=query.jwt: the client is registered for signed request objects, sent by value', async () => {
    const example = await startExample('koa', { OAUTH_REQUEST_OBJECT: 'true', OAUTH_RESPONSE_MODE: 'query.jwt' })
    try {
      expect(example.output()).toContain('signed request objects mode')
      const agent = createAgent()
      const result = await login(agent, example.url, 'bob')
      expect([...new URL(result.authorizeUrl!).searchParams.keys()].sort()).toEqual(['client_id', 'request'])
      expect([...new URL(result.callbackUrl!).searchParams.keys()]).toEqual(['response'])
      const me = await agent.request(`${example.url}/me`, { headers: API })
      expect([me.status, JSON.parse(me.body).user.sub]).toEqual([200, 'bob'])
    } finally {
      await example.stop()
    }
  }, 60_000)
})
