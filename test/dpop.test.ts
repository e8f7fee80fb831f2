/**
 * DPoP (RFC 9449) end to end against the dev provider (oidc-provider with DPoP nonces required
 * at its token and userinfo endpoints), on every framework version: sender-constrained tokens,
 * a key pair per session that never leaves it in clear, nonce challenges answered, the binding
 * kept across refreshes, and the key gone at logout.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createCookieCodec, memoryStore, type SessionData, type SessionStore } from '@codegrant/core'
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import { SignJWT, exportJWK, importJWK } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { API, createAgent, HTML, login, type Agent, type Hop } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A } from './support/provider.js'

const ACCESS_TOKEN_TTL = 300
const SESSION = 'codegrant.session'

let provider: DevProvider
let resource: ResourceServer
const stages = {} as Record<Framework, Stage>

beforeAll(async () => {
  for (const framework of FRAMEWORKS) stages[framework] = await openStage()
  provider = await startDevProvider({
    quiet: true,
    accessTokenTtl: ACCESS_TOKEN_TTL,
    dpopNonce: true,
    clients: FRAMEWORKS.map((framework) => ({
      client_id: `${CLIENT_ID}-${framework}`,
      client_secret: CLIENT_SECRET,
      // the provider refuses this client's tokens without DPoP
      dpop_bound_access_tokens: true,
      redirect_uris: [`${stages[framework].url}/auth/callback`],
      post_logout_redirect_uris: [`${stages[framework].url}/`],
    })),
  })
  resource = await startResourceServer()
})
afterAll(async () => {
  await Promise.all(Object.values(stages).map((stage) => stage.close()))
  await provider.close()
  await resource.close()
})
afterEach(() => {
  vi.useRealTimers()
})

const userinfoUrl = () => `${provider.issuer}/me`
const expire = () => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(Date.now() + (ACCESS_TOKEN_TTL + 5) * 1000)
}
const events = (name: string, clientId: string) => provider.events.filter((e) => e.name === name && e.clientId === clientId)
/** What oidc-provider bound an access token to: the JWK thumbprint of the session's key (`cnf.jkt`). */
const jktOf = async (accessToken: string) => (await provider.provider.AccessToken.find(accessToken))?.jkt
const thumbprint = (jwk: JsonWebKey) =>
  createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url')

/** Everything the browser ever saw from the app, and everything logged: the private key must be in none. */
function exposure(hops: Hop[], logs: string[]): string {
  return [...hops.map((hop) => { const headers: string[] = []; hop.headers.forEach((value, name) => headers.push(`${name}: ${value}`)); return `${hop.status} ${headers.join('\n')}\n${hop.body}` }), ...logs].join('\n')
}

describe.each(FRAMEWORKS)('%s with OAUTH_DPOP', (framework) => {
  const clientId = `${CLIENT_ID}-${framework}`

  it('logs in with DPoP-bound tokens, answers nonce challenges, keeps the binding through 20 concurrent refreshes, and logout revokes and forgets the key', async () => {
    const stage = stages[framework]
    const logs = captureLogs()
    // debug lines too: they must not carry the key either
    const logger = { ...logs, debug: (line: string) => void logs.lines.push(line), info: (line: string) => void logs.lines.push(line) }
    stage.mount(await buildHandler(framework, {
      issuer: provider.issuer, clientId, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger, dpop: true, debug: true,
    }, userinfoUrl()))
    const agent = createAgent()
    const nonceErrors = events('grant.error', clientId).filter((e) => e.error === 'use_dpop_nonce').length

    const result = await login(agent, stage.url, 'alice')
    expect(result.last.body).toBe('signed in as alice')
    // this app had never seen the provider's nonce: the code exchange was challenged, and answered
    expect(events('grant.error', clientId).filter((e) => e.error === 'use_dpop_nonce').length).toBe(nonceErrors + 1)
    expect(events('grant.success', clientId)).toHaveLength(1)

    const session = readCookieSession(agent, stage.url)
    expect(session.tokens.tokenType).toBe('DPoP')
    expect(session.dpop).toMatchObject({ alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } })
    const jkt = thumbprint(session.dpop!.jwk)
    expect(await jktOf(session.tokens.accessToken)).toBe(jkt)
    // without PAR the code itself was bound to the key (RFC 9449 §10)
    expect(new URL(result.authorizeUrl!).searchParams.get('dpop_jkt')).toBe(jkt)

    const me = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
    expect(me.status).toBe(200)
    expect(JSON.parse(me.body)).toMatchObject({ sub: 'alice' })

    expire()
    const refreshes = provider.count('grant.success', 'refresh_token')
    const answers = await Promise.all(Array.from({ length: 20 }, () => agent.request(`${stage.url}/api/userinfo`, { headers: API })))
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200))
    expect(provider.count('grant.success', 'refresh_token')).toBe(refreshes + 1)
    const refreshed = readCookieSession(agent, stage.url)
    expect(refreshed.tokens.accessToken).not.toBe(session.tokens.accessToken)
    expect(refreshed.tokens.tokenType).toBe('DPoP')
    expect(await jktOf(refreshed.tokens.accessToken)).toBe(jkt)
    vi.useRealTimers()

    const revoked = events('revocation.success', clientId).length
    const logout = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, origin: stage.url } })
    expect(logout.status).toBe(302)
    expect(events('revocation.success', clientId).length).toBe(revoked + 1)
    expect([...agent.cookies(stage.url).keys()].filter((name) => name.startsWith(SESSION))).toEqual([])

    // the private key was in the encrypted cookie only: never in a response, a header or a log line
    expect(logs.lines.some((line) => line.includes('DPoP ES256 key bound by dpop_jkt'))).toBe(true)
    const seen = exposure([...result.hops, me, ...answers, logout], logs.lines)
    expect(seen).not.toContain(session.dpop!.jwk.d)
    expect(seen).not.toContain(session.tokens.accessToken)
  })

  it('answers a resource server\'s nonce challenge once and remembers the nonce for its origin', async () => {
    const stage = stages[framework]
    stage.mount(await buildHandler(framework, {
      // the resource server is not the provider: oauth.fetch sends tokens only to origins named here
      issuer: provider.issuer, clientId, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs(), dpop: true, apiOrigins: [resource.url],
    }, `${resource.url}/orders?page=2`))
    const agent = createAgent()
    await login(agent, stage.url, 'bob')
    const { accessToken } = readCookieSession(agent, stage.url).tokens
    const before = resource.hits.length
    const first = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
    expect(first.status).toBe(200)
    expect(JSON.parse(first.body)).toEqual({ ok: true })
    const second = await agent.request(`${stage.url}/api/userinfo`, { headers: API })
    expect(second.status).toBe(200)
    const hits = resource.hits.slice(before)
    // challenged once (no nonce), answered (nonce), then the nonce is sent from the start
    expect(hits.map((hit) => hit.nonce)).toEqual([undefined, resource.nonce, resource.nonce])
    for (const hit of hits) {
      expect(hit.authorization).toBe(`DPoP ${accessToken}`)
      expect(hit.proof).toMatchObject({ htm: 'GET', htu: `${resource.url}/orders`, ath: createHash('sha256').update(accessToken).digest('base64url') })
      expect(hit.signatureValid).toBe(true)
    }
  })
})

describe('the binding is real (the provider refuses the token without the session\'s key)', () => {
  let records: Map<string, SessionData>
  let store: SessionStore
  const framework: Framework = 'express5'
  const clientId = `${CLIENT_ID}-${framework}`

  beforeAll(() => {
    const inner = memoryStore()
    records = new Map()
    store = {
      get: (sid) => inner.get(sid),
      set: (sid, data, ttl) => { records.set(sid, data); return inner.set(sid, data, ttl) },
      destroy: (sid) => { records.delete(sid); return inner.destroy(sid) },
    }
  })

  it('keeps the key in the server-side record, and a replayed token without a proof, as Bearer, or with another key\'s proof is refused', async () => {
    const stage = stages[framework]
    const logs = captureLogs()
    stage.mount(await buildHandler(framework, {
      issuer: provider.issuer, clientId, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs, dpop: true, sessionStore: store,
    }, userinfoUrl()))
    const agent = createAgent()
    const result = await login(agent, stage.url, 'alice')
    expect(result.last.body).toBe('signed in as alice')
    const [session] = [...records.values()]
    expect(session?.dpop?.jwk.d).toEqual(expect.any(String))
    const { accessToken } = session!.tokens
    const url = new URL(userinfoUrl())
    /** The userinfo call as a client makes it: a proof signed with `key` (the provider's nonce when it asks). */
    const call = async (key: JsonWebKey | undefined, scheme = 'DPoP') => {
      const send = async (nonce?: string) => {
        const headers: Record<string, string> = { authorization: `${scheme} ${accessToken}` }
        if (key) headers.dpop = await proof(key, 'GET', url.href, accessToken, nonce)
        return fetch(url, { headers })
      }
      let response = await send()
      const nonce = response.headers.get('dpop-nonce')
      if (key && response.status === 401 && nonce) response = await send(nonce)
      return response.status
    }
    const own = session!.dpop!.jwk
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })

    // no proof: 400 invalid_request (DPoP scheme) or 401 invalid_token (Bearer scheme)
    expect(await call(undefined, 'DPoP')).toBe(400)
    expect(await call(undefined, 'Bearer')).toBe(401)
    expect(await call(stranger)).toBe(401)
    // the same request with the session's own key passes: the refusals above are the binding
    expect(await call(own)).toBe(200)

    // the cookie carries only the encrypted session id
    const cookie = agent.cookies(stage.url).get(SESSION)!
    expect(cookie.length).toBeLessThan(100)
    expect(exposure(result.hops, logs.lines)).not.toContain(session!.dpop!.jwk.d)

    await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, origin: stage.url } })
    expect(records.size).toBe(0)
    expect(events('revocation.success', clientId).at(-1)?.tokenType).toBe('refresh_token')
  })
})

describe('DPoP algorithm from the provider\'s metadata', () => {
  it('uses EdDSA (Ed25519 keys) when the provider lists only EdDSA', async () => {
    const stage = await openStage()
    const eddsa = await startDevProvider({
      quiet: true,
      discovery: { dpop_signing_alg_values_supported: ['EdDSA'] },
      clients: [{ client_id: 'ed', client_secret: CLIENT_SECRET, dpop_bound_access_tokens: true, redirect_uris: [`${stage.url}/auth/callback`] }],
    })
    try {
      stage.mount(await buildHandler('koa3', { issuer: eddsa.issuer, clientId: 'ed', clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs(), dpop: true }, `${eddsa.issuer}/me`))
      const agent = createAgent()
      expect((await login(agent, stage.url, 'alice')).last.body).toBe('signed in as alice')
      const session = readCookieSession(agent, stage.url)
      expect(session.dpop).toMatchObject({ alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } })
      expect((await agent.request(`${stage.url}/api/userinfo`, { headers: API })).status).toBe(200)
    } finally {
      await stage.close()
      await eddsa.close()
    }
  })
})

describe('DPoP refused or not offered', () => {
  it('a Bearer answer to a DPoP request is an error unless OAUTH_DPOP_ALLOW_BEARER', async () => {
    const stage = await openStage()
    // a provider without DPoP support ignores the proofs and answers with Bearer tokens
    const plain = await startDevProvider({
      quiet: true,
      dpop: false,
      clients: [{ client_id: 'plain', client_secret: CLIENT_SECRET, redirect_uris: [`${stage.url}/auth/callback`] }],
    })
    try {
      const logs = captureLogs()
      const options = { issuer: plain.issuer, clientId: 'plain', clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs, dpop: true }
      stage.mount(await buildHandler('express5', options, `${plain.issuer}/me`))
      const refused = await login(createAgent(), stage.url, 'alice')
      expect(refused.callback?.status).toBe(502)
      expect(logs.lines.join('\n')).toContain('OAUTH_DPOP_ALLOW_BEARER')

      stage.mount(await buildHandler('express5', { ...options, dpopAllowBearer: true }, `${plain.issuer}/me`))
      const agent = createAgent()
      expect((await login(agent, stage.url, 'alice')).last.body).toBe('signed in as alice')
      expect((await agent.request(`${stage.url}/api/userinfo`, { headers: API })).status).toBe(200)
    } finally {
      await stage.close()
      await plain.close()
    }
  })
})

function readCookieSession(agent: Agent, url: string): SessionData {
  const cookies = agent.cookies(url)
  const sealed = cookies.get(SESSION) ?? [0, 1, 2, 3, 4, 5].map((i) => cookies.get(`${SESSION}.${i}`) ?? '').join('')
  const json = createCookieCodec([SECRET_A]).open(SESSION, sealed)
  if (!json) throw new Error('no readable session cookie')
  // the raw cookie never holds the key in clear
  const session = JSON.parse(json) as SessionData
  expect(sealed).not.toContain(session.dpop?.jwk.d ?? 'no key')
  return session
}

/** A DPoP proof (RFC 9449 §4.2) signed with a P-256 private JWK. */
async function proof(jwk: JsonWebKey, htm: string, htu: string, accessToken: string, nonce?: string): Promise<string> {
  const { kty, crv, x, y } = jwk
  const key = await importJWK({ kty, crv, x, y, d: jwk.d } as Parameters<typeof importJWK>[0], 'ES256')
  const ath = createHash('sha256').update(accessToken).digest('base64url')
  return new SignJWT({ htm, htu, ath, ...(nonce ? { nonce } : {}), jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(await importJWK({ kty, crv, x, y } as Parameters<typeof importJWK>[0], 'ES256')) })
    .setIssuedAt()
    .sign(key)
}

interface ResourceServer {
  url: string
  nonce: string
  hits: { authorization?: string; nonce?: string; proof: Record<string, unknown>; signatureValid: boolean }[]
  close(): Promise<void>
}

/**
 * A resource server on loopback that demands a DPoP nonce (RFC 9449 §9): it checks the proof's
 * signature with its embedded key and answers 401 `use_dpop_nonce` until the proof carries its nonce.
 */
async function startResourceServer(): Promise<ResourceServer> {
  const nonce = 'rs-nonce-' + Math.random().toString(36).slice(2)
  const hits: ResourceServer['hits'] = []
  const server: Server = createServer((req, res) => {
    const proof = String(req.headers.dpop ?? '')
    const [header, payload, signature] = proof.split('.')
    let claims: Record<string, unknown> = {}
    let signatureValid = false
    try {
      const jwk = JSON.parse(Buffer.from(header!, 'base64url').toString()).jwk as JsonWebKey
      claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>
      signatureValid = verify('sha256', Buffer.from(`${header}.${payload}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(signature!, 'base64url'))
    } catch {
      signatureValid = false
    }
    hits.push({ authorization: req.headers.authorization, nonce: claims.nonce as string | undefined, proof: claims, signatureValid })
    if (claims.nonce !== nonce) {
      res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"', 'dpop-nonce': nonce, 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'use_dpop_nonce' }))
      return
    }
    res.writeHead(signatureValid ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: signatureValid }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    nonce,
    hits,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
