/**
 * Mutual TLS (RFC 8705) against the dev provider serving its token, PAR, revocation and userinfo
 * endpoints on an HTTPS listener that asks for client certificates (`mtls_endpoint_aliases`):
 * logins with `tls_client_auth` and `self_signed_tls_client_auth` on every framework version, with
 * certificate-bound tokens that the provider's userinfo and a real resource server accept only with
 * the certificate; the provider refusing a client without its certificate; FAPI 2.0 with mTLS in
 * place of private_key_jwt and DPoP; and the start-up errors of a missing or mismatched
 * certificate. Every certificate is made here, at run time (openssl).
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { createCookieCodec, type OAuthOptions, type SessionData } from '@codegrant/core'
import { createCodegrant } from '@codegrant/core/adapter'
import { certificateJwk, makeCertificate, startDevProvider, type CertificateAndKey, type DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, login, type Agent } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startExample } from './support/example.js'
import { httpsRequest, startMtlsApi, thumbprint, type MtlsApi } from './support/mtls.js'
import { captureLogs, SECRET_A, startupProblems } from './support/provider.js'

/** The suite's CA: it signs the provider's and the API's TLS certificates and the tls_client_auth client's. */
let ca: CertificateAndKey
/** Signed by the CA, subject CN=suite-mtls: registered by subject for tls_client_auth. */
let pkiCert: CertificateAndKey
/** Self-signed, registered in the self_signed_tls_client_auth clients' jwks. */
let selfCert: CertificateAndKey
/** Self-signed and registered nowhere. */
let strangerCert: CertificateAndKey
let provider: DevProvider
let api: MtlsApi
const stages = {} as Record<Framework, Stage>
const SCOPE = 'orders:read'

const redirects = (framework: Framework) => ({
  redirect_uris: [`${stages[framework].url}/auth/callback`],
  post_logout_redirect_uris: [`${stages[framework].url}/`],
})

beforeAll(async () => {
  ca = await makeCertificate({ commonName: 'suite CA' })
  ;[pkiCert, selfCert, strangerCert] = await Promise.all([
    makeCertificate({ commonName: 'suite-mtls', issuer: ca }),
    makeCertificate({ commonName: 'suite-self-signed' }),
    makeCertificate({ commonName: 'suite-stranger' }),
  ])
  for (const framework of FRAMEWORKS) stages[framework] = await openStage()
  provider = await startDevProvider({
    quiet: true,
    mtls: { ca },
    clients: FRAMEWORKS.flatMap((framework) => [
      { client_id: `tls-${framework}`, token_endpoint_auth_method: 'tls_client_auth' as const, tls_client_auth_subject_dn: 'CN=suite-mtls', tls_client_certificate_bound_access_tokens: true, ...redirects(framework) },
      { client_id: `self-${framework}`, token_endpoint_auth_method: 'self_signed_tls_client_auth' as const, jwks: { keys: [certificateJwk(selfCert.cert)] }, tls_client_certificate_bound_access_tokens: true, ...redirects(framework) },
    ]),
  })
  api = await startMtlsApi({ provider, ca, scope: SCOPE })
})
afterAll(async () => {
  await Promise.all(Object.values(stages).map((stage) => stage.close()))
  await api?.close()
  await provider?.close()
})

const mtlsOptions = (framework: Framework, method: 'tls_client_auth' | 'self_signed_tls_client_auth', extra: OAuthOptions = {}): OAuthOptions => {
  const cert = method === 'tls_client_auth' ? pkiCert : selfCert
  return {
    issuer: provider.issuer,
    clientId: `${method === 'tls_client_auth' ? 'tls' : 'self'}-${framework}`,
    clientAuthMethod: method,
    clientCert: cert.cert,
    clientCertKey: cert.key,
    clientCertCa: ca.cert,
    baseUrl: stages[framework].url,
    cookieSecret: SECRET_A,
    logger: captureLogs(),
    ...extra,
  }
}

/** The session's access token, read from its cookie. */
function sessionOf(agent: Agent, stage: Stage): SessionData {
  const cookies = agent.cookies(stage.url)
  const sealed = cookies.get('codegrant.session') ?? [0, 1, 2].map((i) => cookies.get(`codegrant.session.${i}`) ?? '').join('')
  return JSON.parse(createCookieCodec([SECRET_A]).open('codegrant.session', sealed)!) as SessionData
}

describe.each(FRAMEWORKS)('%s with mutual TLS', (framework) => {
  it('signs in with tls_client_auth at the mTLS aliases; the bound token works at userinfo, at an API and through the BFF proxy only with the certificate', async () => {
    const stage = stages[framework]
    const options = mtlsOptions(framework, 'tls_client_auth', { apis: { orders: { url: api.url, resource: api.url, scope: SCOPE } }, bff: true })
    stage.mount(await buildHandler(framework, options, `${provider.mtls!.origin}/me`))
    const agent = createAgent()
    const granted = provider.count('grant.success', 'authorization_code')
    expect((await login(agent, stage.url, 'alice')).last.body).toBe('signed in as alice')
    expect(provider.count('grant.success', 'authorization_code')).toBe(granted + 1)

    // the provider bound the login's token to the certificate: its userinfo alias takes it with the certificate only
    const token = sessionOf(agent, stage).tokens.accessToken
    const stored = await provider.provider.AccessToken.find(token)
    expect(stored?.['x5t#S256']).toBe(thumbprint(new X509Certificate(pkiCert.cert)))
    const userinfo = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
    expect(userinfo.status).toBe(200)
    expect(JSON.parse(userinfo.body)).toMatchObject({ sub: 'alice' })
    expect((await httpsRequest(`${provider.mtls!.origin}/me`, { ca: ca.cert, token })).status).toBe(401)
    expect((await httpsRequest(`${provider.mtls!.origin}/me`, { ca: ca.cert, token, cert: pkiCert })).status).toBe(200)

    // the API's own token (RFC 8707, from the refresh token over mTLS) is bound too; oauth.fetch presents the certificate
    const called = await agent.request(`${stage.url}/api/call/orders`, { headers: API })
    expect(called.status).toBe(200)
    expect(JSON.parse(called.body)).toMatchObject({ sub: 'alice', bound: thumbprint(new X509Certificate(pkiCert.cert)) })
    const apiToken = api.received.at(-1)!.token
    const refused = await httpsRequest(api.url, { ca: ca.cert, token: apiToken })
    expect(refused.status).toBe(401)
    expect(api.received.at(-1)?.error).toBe('no client certificate presented')
    expect((await httpsRequest(api.url, { ca: ca.cert, token: apiToken, cert: strangerCert })).status).toBe(401)
    expect(api.received.at(-1)?.error).toBe('the token is bound to another certificate')
    expect((await httpsRequest(api.url, { ca: ca.cert, token: apiToken, cert: pkiCert })).status).toBe(200)

    // the BFF's proxy goes the same way
    const proxied = await agent.request(`${stage.url}/bff/orders/`, { headers: { ...API, 'x-csrf': '1' } })
    expect(proxied.status).toBe(200)
    expect(JSON.parse(proxied.body)).toMatchObject({ sub: 'alice', bound: thumbprint(new X509Certificate(pkiCert.cert)) })
  })

  it('signs in with self_signed_tls_client_auth (the certificate registered in the client jwks) and calls userinfo with the bound token', async () => {
    const stage = stages[framework]
    stage.mount(await buildHandler(framework, mtlsOptions(framework, 'self_signed_tls_client_auth'), `${provider.mtls!.origin}/me`))
    const agent = createAgent()
    expect((await login(agent, stage.url, 'bob')).last.body).toBe('signed in as bob')
    const stored = await provider.provider.AccessToken.find(sessionOf(agent, stage).tokens.accessToken)
    expect(stored?.['x5t#S256']).toBe(thumbprint(new X509Certificate(selfCert.cert)))
    const userinfo = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
    expect(userinfo.status).toBe(200)
    expect(JSON.parse(userinfo.body)).toMatchObject({ sub: 'bob' })
  })

  it('the provider refuses a client that presents another certificate: 502 at the callback, no session, no key material in the log', async () => {
    const stage = stages[framework]
    const logs = captureLogs()
    stage.mount(await buildHandler(framework, mtlsOptions(framework, 'self_signed_tls_client_auth', { clientCert: strangerCert.cert, clientCertKey: strangerCert.key, logger: logs }), `${provider.mtls!.origin}/me`))
    const agent = createAgent()
    const result = await login(agent, stage.url, 'bob', { stopAtCallback: true })
    const callback = await agent.request(result.callbackUrl!, { headers: API })
    expect(callback.status).toBe(502)
    expect(JSON.parse(callback.body)).toMatchObject({ error: 'provider_error' })
    expect(callback.body).toContain('invalid_client')
    expect((await agent.request(`${stage.url}/me`, { headers: API })).status).toBe(401)
    const said = logs.lines.join('\n') + callback.body
    for (const secret of [strangerCert.key, strangerCert.cert, selfCert.key]) expect(said).not.toContain(secret.split('\n')[1])
  })
})

describe('the provider over mutual TLS', () => {
  it('refuses a token request without a client certificate (invalid_client), and one at the plain endpoint', async () => {
    const aliases = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string; mtls_endpoint_aliases: { token_endpoint: string } }
    expect(aliases.mtls_endpoint_aliases.token_endpoint).toBe(`${provider.mtls!.origin}/token`)
    const form = { grant_type: 'authorization_code', code: 'made-up', redirect_uri: `${stages.express5.url}/auth/callback`, code_verifier: 'x'.repeat(43), client_id: 'tls-express5' }
    const without = await httpsRequest(aliases.mtls_endpoint_aliases.token_endpoint, { ca: ca.cert, form })
    expect(without.status).toBe(401)
    expect(JSON.parse(without.body)).toMatchObject({ error: 'invalid_client' })
    // with its certificate the client is authenticated: the made-up code is what is refused
    const withCert = await httpsRequest(aliases.mtls_endpoint_aliases.token_endpoint, { ca: ca.cert, form, cert: pkiCert })
    expect(JSON.parse(withCert.body)).toMatchObject({ error: 'invalid_grant' })
    const plain = await fetch(aliases.token_endpoint, { method: 'POST', body: new URLSearchParams(form) })
    expect(plain.status).toBe(401)
  })
})

describe('OAUTH_PROFILE=fapi2 with mutual TLS', () => {
  it('signs in through PAR with tls_client_auth and certificate-bound tokens in place of private_key_jwt and DPoP', async () => {
    const framework: Framework = 'express5'
    const stage = stages[framework]
    const fapi = await startDevProvider({
      quiet: true,
      fapi2: true,
      mtls: { ca },
      clients: [{ client_id: 'fapi-tls', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=suite-mtls', tls_client_certificate_bound_access_tokens: true, require_pushed_authorization_requests: true, ...redirects(framework) }],
    })
    try {
      const options = { ...mtlsOptions(framework, 'tls_client_auth'), issuer: fapi.issuer, clientId: 'fapi-tls', profile: 'fapi2' as const }
      const { config } = createCodegrant(options, {})
      expect(config.providers[0]).toMatchObject({ par: true, dpop: false, clientAuthMethod: 'tls_client_auth' })
      stage.mount(await buildHandler(framework, options, `${fapi.mtls!.origin}/me`))
      const agent = createAgent()
      const result = await login(agent, stage.url, 'alice')
      expect(result.last.body).toBe('signed in as alice')
      expect([...new URL(result.authorizeUrl!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri'])
      const session = sessionOf(agent, stage)
      expect(session.tokens.tokenType).toBe('Bearer')
      expect((await fapi.provider.AccessToken.find(session.tokens.accessToken))?.['x5t#S256']).toBe(thumbprint(new X509Certificate(pkiCert.cert)))
      expect((await agent.request(`${stage.url}/api/userinfo`, { headers: API })).status).toBe(200)
    } finally {
      await fapi.close()
    }
  })

  it('accepts tls_client_auth and self_signed_tls_client_auth, and a client certificate in place of DPoP; neither DPoP nor a certificate is refused', () => {
    const base = { issuer: 'https://id.example.com', clientId: 'app', baseUrl: 'https://app.example.com', cookieSecret: SECRET_A, logger: captureLogs() }
    for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'] as const) {
      const { config } = createCodegrant({ ...base, clientAuthMethod: method, clientCert: pkiCert.cert, clientCertKey: pkiCert.key }, { OAUTH_PROFILE: 'fapi2' })
      expect(config.providers[0]).toMatchObject({ clientAuthMethod: method, par: true, dpop: false })
    }
    // private_key_jwt with certificate-bound tokens in place of DPoP
    expect(startupProblems({ ...base, privateKey: selfCert.key, clientCert: pkiCert.cert, clientCertKey: pkiCert.key, dpop: false }, { OAUTH_PROFILE: 'fapi2' })).toBe('')
    const weaker = startupProblems({ ...base, clientSecret: 's', clientAuthMethod: 'client_secret_basic', dpop: false }, { OAUTH_PROFILE: 'fapi2' })
    expect(weaker).toContain('requires sender-constrained tokens')
    expect(weaker).toContain('OAUTH_CLIENT_CERT')
    expect(weaker).toContain('requires OAUTH_CLIENT_AUTH_METHOD=private_key_jwt, tls_client_auth or self_signed_tls_client_auth')
  })
})

describe('the client certificate at start-up', () => {
  const base = { issuer: 'https://id.example.com', clientId: 'app', baseUrl: 'https://app.example.com', cookieSecret: SECRET_A, logger: captureLogs() }

  it('reads the certificate and key as PEM text (with \\n escapes) or from files, with its thumbprint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtls-suite-'))
    try {
      writeFileSync(join(dir, 'cert.pem'), pkiCert.cert)
      writeFileSync(join(dir, 'key.pem'), pkiCert.key, { mode: 0o600 })
      const fromFiles = createCodegrant(base, { OAUTH_CLIENT_AUTH_METHOD: 'tls_client_auth', OAUTH_CLIENT_CERT: join(dir, 'cert.pem'), OAUTH_CLIENT_CERT_KEY: join(dir, 'key.pem') })
      const fromText = createCodegrant(base, { OAUTH_CLIENT_AUTH_METHOD: 'tls_client_auth', OAUTH_CLIENT_CERT: pkiCert.cert.replace(/\n/g, '\\n'), OAUTH_CLIENT_CERT_KEY: pkiCert.key })
      for (const { config } of [fromFiles, fromText]) {
        expect(config.providers[0]!.clientCertificate?.thumbprint).toBe(thumbprint(new X509Certificate(pkiCert.cert)))
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a missing, half-given, garbled, unreadable or mismatched certificate, all at once and without echoing key material', () => {
    expect(startupProblems({ ...base, clientAuthMethod: 'tls_client_auth' })).toContain('OAUTH_CLIENT_CERT and OAUTH_CLIENT_CERT_KEY are required for tls_client_auth')
    expect(startupProblems({ ...base, clientAuthMethod: 'self_signed_tls_client_auth', clientCert: selfCert.cert })).toContain('required for self_signed_tls_client_auth')
    expect(startupProblems({ ...base, clientSecret: 's', clientCert: selfCert.cert })).toContain('OAUTH_CLIENT_CERT needs OAUTH_CLIENT_CERT_KEY')
    // a Buffer from readFileSync, as JavaScript callers pass TLS material to node:https
    expect(startupProblems({ ...base, clientAuthMethod: 'tls_client_auth', clientCert: Buffer.from(pkiCert.cert) as unknown as string, clientCertKey: pkiCert.key })).toContain('OAUTH_CLIENT_CERT must be a string: PEM text or the path of a PEM file (got object)')

    const mismatched = startupProblems({ ...base, clientAuthMethod: 'tls_client_auth', clientCert: pkiCert.cert, clientCertKey: selfCert.key })
    expect(mismatched).toContain('OAUTH_CLIENT_CERT_KEY is not the private key of the certificate in OAUTH_CLIENT_CERT')
    expect(mismatched).not.toContain(selfCert.key.split('\n')[1])

    const garbledKey = `-----BEGIN PRIVATE KEY-----\n${selfCert.key.split('\n')[1]!.slice(0, 20)}\n-----END PRIVATE KEY-----`
    const garbled = startupProblems({ ...base, clientAuthMethod: 'tls_client_auth', clientCert: 'not a certificate', clientCertKey: garbledKey, clientCertCa: '/nonexistent/ca.pem' })
    expect(garbled).toContain('OAUTH_CLIENT_CERT must be PEM text or the path of a readable PEM file (reading the path failed: ENOENT)')
    expect(garbled).toContain('OAUTH_CLIENT_CERT_KEY must be a private key in PEM form')
    expect(garbled).toContain('OAUTH_CLIENT_CERT_CA must be PEM text or the path of a readable PEM file')
    expect(garbled).not.toContain(selfCert.key.split('\n')[1]!.slice(0, 20))
    expect(garbled).not.toContain('not a certificate')
  })
})

describe('the mTLS demo', () => {
  it.each(['tls_client_auth', 'self_signed_tls_client_auth'])('OAUTH_CLIENT_AUTH_METHOD=%s pnpm --dir examples/express start: alice signs in and userinfo takes her certificate-bound token', async (method) => {
    const example = await startExample('express', { OAUTH_CLIENT_AUTH_METHOD: method })
    try {
      expect(example.output()).toContain(`mutual TLS (${method}, certificate-bound tokens) mode`)
      const agent = createAgent()
      await login(agent, example.url, 'alice')
      const me = await agent.request(`${example.url}/me`, { headers: API })
      expect(JSON.parse(me.body)).toMatchObject({ user: { sub: 'alice' } })
      const userinfo = await agent.request(`${example.url}/api/userinfo`, { headers: API })
      expect(userinfo.status).toBe(200)
      expect(JSON.parse(userinfo.body)).toMatchObject({ sub: 'alice' })
      // neither the certificate nor its key is ever printed
      expect(example.output()).not.toContain('-----BEGIN')
    } finally {
      await example.stop()
    }
  }, 60_000)
})
