/**
 * The real things issue 20 is tested against: the dev provider's per-API JWT access tokens and
 * token exchange, the test APIs (support/apis.ts) and the MCP server of the official SDK
 * (support/mcp-server.ts). Tokens are obtained by hand, as a client would, not through codegrant.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'

import { ACCESS_TOKEN_TYPE, startDevProvider, TOKEN_EXCHANGE, type DevProvider } from '@codegrant/dev-provider'
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { CLIENT, dpopProof, exchangeCode, signIn, tokenRequest, type Discovery } from '../packages/dev-provider/test/flow.js'
import { startTestApi, type TestApi } from './support/apis.js'
import { MCP_SCOPE, startMcpServer, type TestMcpServer } from './support/mcp-server.js'

interface Tokens {
  access_token: string
  refresh_token: string
  token_type: string
}

let dev: DevProvider
let discovery: Discovery
let orders: TestApi
let billing: TestApi
let secure: TestApi
let mcp: TestMcpServer

beforeAll(async () => {
  dev = await startDevProvider({ quiet: true, clients: [{ ...CLIENT, grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] }] })
  discovery = (await (await fetch(`${dev.issuer}/.well-known/openid-configuration`)).json()) as Discovery
  ;[orders, billing, secure, mcp] = await Promise.all([
    startTestApi({ provider: dev, name: 'orders', scopes: { read: 'orders:read', write: 'orders:write' } }),
    startTestApi({ provider: dev, name: 'billing', scopes: { read: 'billing:read', write: 'billing:write' }, audience: 'billing-api' }),
    startTestApi({ provider: dev, name: 'secure', scopes: { read: 'secure:read', write: 'secure:write' }, dpop: true }),
    startMcpServer(dev),
  ])
})

afterAll(async () => {
  await Promise.all([orders?.close(), billing?.close(), secure?.close(), mcp?.close()])
  await dev?.close()
})

/**
 * A signed-in user's tokens: a login naming `resources` with `scope` (RFC 8707), then one token
 * per API by refresh with `resource`, following the rotated refresh token; with `keys`, all bound.
 */
async function signedIn(resources: string[], scope: string, keys?: { publicKey: KeyObject; privateKey: KeyObject }) {
  const proof = (): Record<string, string> => (keys ? { dpop: dpopProof(keys, 'POST', discovery.token_endpoint) } : {})
  const grant = await signIn(discovery, 'alice', { extra: { resource: resources, scope: `openid offline_access ${scope}`.trim() } })
  const login = (await (await exchangeCode(discovery, grant, proof())).json()) as Tokens
  let refreshToken = login.refresh_token
  return {
    login,
    async tokenFor(resource: string): Promise<Tokens> {
      const response = await tokenRequest(discovery, { grant_type: 'refresh_token', refresh_token: refreshToken, resource }, { headers: proof() })
      expect(response.status, await response.clone().text()).toBe(200)
      const tokens = (await response.json()) as Tokens
      refreshToken = tokens.refresh_token
      return tokens
    },
  }
}

function call(api: { url: string }, path: string, token: string, init: { method?: string; scheme?: string; dpop?: string } = {}) {
  return fetch(`${api.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `${init.scheme ?? 'Bearer'} ${token}`, ...(init.dpop ? { dpop: init.dpop } : {}) },
  })
}

const challenge = (response: Response) => response.headers.get('www-authenticate') ?? ''

describe('test APIs (support/apis.ts)', () => {
  it('accept a token of the provider for their own resource with the route scope, and record what they receive', async () => {
    const session = await signedIn([orders.resource, billing.resource], 'orders:read billing:read')
    const forOrders = await session.tokenFor(orders.resource)
    const answer = await call(orders, '/', forOrders.access_token)
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ api: 'orders', sub: 'alice', scope: 'orders:read', client_id: CLIENT.client_id })
    const forBilling = await session.tokenFor(billing.resource)
    expect((await call(billing, '/items', forBilling.access_token)).status).toBe(200)
    expect(orders.received.at(-1)).toMatchObject({ method: 'GET', path: '/', scheme: 'Bearer', status: 200, claims: { aud: orders.resource } })
    expect(billing.received.at(-1)).toMatchObject({ path: '/items', status: 200, claims: { aud: 'billing-api' } })
  })

  it("refuse another API's token (401 invalid_token, resource_metadata), and record it so a leak shows", async () => {
    const session = await signedIn([orders.resource, billing.resource], 'orders:read billing:read')
    const forOrders = await session.tokenFor(orders.resource)
    const refused = await call(billing, '/', forOrders.access_token)
    expect(refused.status).toBe(401)
    expect(challenge(refused)).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"/)
    expect(challenge(refused)).toContain(`resource_metadata="${billing.metadataUrl}"`)
    expect(billing.received.at(-1)).toMatchObject({ status: 401, token: forOrders.access_token, claims: { aud: orders.resource } })
    // the login token (opaque, for userinfo) is no API's either
    expect((await call(orders, '/', session.login.access_token)).status).toBe(401)
  })

  it('answer a missing scope with 403 insufficient_scope naming the scope needed', async () => {
    const session = await signedIn([orders.resource], 'orders:read')
    const token = (await session.tokenFor(orders.resource)).access_token
    const refused = await call(orders, '/items', token, { method: 'POST' })
    expect(refused.status).toBe(403)
    expect(challenge(refused)).toMatch(/error="insufficient_scope"/)
    expect(challenge(refused)).toContain('scope="orders:write"')
    expect(challenge(refused)).toContain(`resource_metadata="${orders.metadataUrl}"`)
  })

  it('answer a request without a token with a bare challenge (RFC 6750 §3.1) and serve their metadata (RFC 9728)', async () => {
    const bare = await fetch(`${orders.url}/`)
    expect(bare.status).toBe(401)
    expect(challenge(bare)).toBe(`Bearer resource_metadata="${orders.metadataUrl}"`)
    expect(await (await fetch(orders.metadataUrl)).json()).toEqual({
      resource: orders.resource,
      authorization_servers: [dev.issuer],
      scopes_supported: ['orders:read', 'orders:write'],
      bearer_methods_supported: ['header'],
    })
    expect(await (await fetch(secure.metadataUrl)).json()).toMatchObject({ dpop_bound_access_tokens_required: true })
  })

  it('check the signature, issuer, type and expiry of a JWT', async () => {
    const other = await startDevProvider({ quiet: true, clients: [] })
    try {
      const now = Math.floor(Date.now() / 1000)
      const claims = { iss: dev.issuer, aud: orders.resource, sub: 'alice', client_id: CLIENT.client_id, scope: 'orders:read', iat: now, exp: now + 60, jti: 'j' }
      expect((await call(orders, '/', dev.signJwt(claims, { typ: 'at+jwt' }))).status).toBe(200)
      for (const forged of [
        other.signJwt(claims, { typ: 'at+jwt' }), // another provider's key
        dev.signJwt({ ...claims, iss: other.issuer }, { typ: 'at+jwt' }),
        dev.signJwt(claims, { typ: 'JWT' }), // an ID token or any JWT is not an access token (RFC 9068 §4)
        dev.signJwt({ ...claims, exp: now - 1 }, { typ: 'at+jwt' }),
        dev.signJwt({ ...claims, aud: [orders.resource, billing.audience] }, { typ: 'at+jwt' }).slice(0, -2), // signature broken
      ]) {
        const refused = await call(orders, '/', forged)
        expect(refused.status).toBe(401)
        expect(challenge(refused)).toContain('error="invalid_token"')
      }
    } finally {
      await other.close()
    }
  })

  it('take a token obtained by token exchange (RFC 8693) for their resource', async () => {
    const { login } = await signedIn([], '')
    const exchanged = await tokenRequest(discovery, { grant_type: TOKEN_EXCHANGE, subject_token: login.access_token, subject_token_type: ACCESS_TOKEN_TYPE, resource: orders.resource, scope: 'orders:write' })
    const { access_token: token } = (await exchanged.json()) as Tokens
    expect((await call(orders, '/items', token, { method: 'POST' })).status).toBe(201)
    expect((await call(orders, '/items', token)).status).toBe(403)
  })

  describe('DPoP (RFC 9449)', () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    let bound: string
    let unbound: string

    beforeAll(async () => {
      bound = (await (await signedIn([secure.resource, orders.resource], 'secure:read orders:read', keys)).tokenFor(secure.resource)).access_token
      unbound = (await (await signedIn([secure.resource], 'secure:read')).tokenFor(secure.resource)).access_token
    })

    const proofFor = (token: string, path = '/', key = keys, method = 'GET') => dpopProof(key, method, `${secure.url}${path}`, token)

    it('accept a bound token with a proof of its key for this request', async () => {
      expect((await call(secure, '/', bound, { scheme: 'DPoP', dpop: proofFor(bound) })).status).toBe(200)
      expect(secure.received.at(-1)).toMatchObject({ scheme: 'DPoP', status: 200 })
    })

    it.each([
      ['an unbound token where DPoP is required', () => call(secure, '/', unbound), 'invalid_token'],
      ['an unbound token under the DPoP scheme', () => call(secure, '/', unbound, { scheme: 'DPoP', dpop: proofFor(unbound) }), 'invalid_token'],
      ['a bound token sent as a bearer token', () => call(secure, '/', bound), 'invalid_token'],
      ['no proof', () => call(secure, '/', bound, { scheme: 'DPoP' }), 'invalid_dpop_proof'],
      ['a proof of another key', () => call(secure, '/', bound, { scheme: 'DPoP', dpop: proofFor(bound, '/', other) }), 'invalid_dpop_proof'],
      ['a proof for another URL', () => call(secure, '/', bound, { scheme: 'DPoP', dpop: proofFor(bound, '/items') }), 'invalid_dpop_proof'],
      ['a proof for another method', () => call(secure, '/', bound, { scheme: 'DPoP', dpop: proofFor(bound, '/', keys, 'POST') }), 'invalid_dpop_proof'],
      ['a proof without the token hash', () => call(secure, '/', bound, { scheme: 'DPoP', dpop: dpopProof(keys, 'GET', `${secure.url}/`) }), 'invalid_dpop_proof'],
    ])('refuse %s', async (_what, send, error) => {
      const refused = await send()
      expect(refused.status).toBe(401)
      expect(challenge(refused)).toMatch(new RegExp(`^DPoP error="${error}"`))
    })

    it('refuse a replayed proof', async () => {
      const proof = proofFor(bound)
      expect((await call(secure, '/', bound, { scheme: 'DPoP', dpop: proof })).status).toBe(200)
      expect((await call(secure, '/', bound, { scheme: 'DPoP', dpop: proof })).status).toBe(401)
    })
  })

  it('stream server-sent events', async () => {
    const token = (await (await signedIn([orders.resource], 'orders:read')).tokenFor(orders.resource)).access_token
    const response = await call(orders, '/events?count=3&interval=10', token)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    const events = (await response.text()).split('\n\n').filter(Boolean)
    expect(events).toEqual([1, 2, 3].map((n) => `id: ${n}\nevent: tick\ndata: {"api":"orders","n":${n}}`))
  })

  it('leave out resource_metadata when told, and serve a changed document for negative tests', async () => {
    const quiet = await startTestApi({ provider: dev, name: 'quiet', scopes: { read: 'q:read', write: 'q:write' }, resourceMetadata: false })
    try {
      expect(challenge(await fetch(`${quiet.url}/`))).toBe('Bearer')
      expect((await fetch(quiet.metadataUrl)).status).toBe(404)
    } finally {
      await quiet.close()
    }
    orders.setMetadata({ authorization_servers: ['https://unknown.example'], resource: 'https://elsewhere.example' })
    try {
      expect(await (await fetch(orders.metadataUrl)).json()).toMatchObject({ authorization_servers: ['https://unknown.example'], resource: 'https://elsewhere.example' })
    } finally {
      orders.setMetadata({})
    }
    expect(await (await fetch(orders.metadataUrl)).json()).toMatchObject({ authorization_servers: [dev.issuer], resource: orders.resource })
  })
})

describe('MCP server (@modelcontextprotocol/sdk)', () => {
  const initialize = (token?: string) =>
    fetch(mcp.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'plain-fetch', version: '1' } } }),
    })

  it('answers an unauthenticated call 401 with resource_metadata, and serves that document with the provider as its server', async () => {
    const refused = await initialize()
    expect(refused.status).toBe(401)
    expect(challenge(refused)).toContain(`resource_metadata="${mcp.metadataUrl}"`)
    expect(await (await fetch(mcp.metadataUrl)).json()).toMatchObject({ resource: mcp.resource, authorization_servers: [dev.issuer], scopes_supported: [MCP_SCOPE] })
  })

  it("accepts the provider's token for its resource, by plain fetch and through the SDK's own client", async () => {
    const token = (await (await signedIn([mcp.resource], MCP_SCOPE)).tokenFor(mcp.resource)).access_token
    const accepted = await initialize(token)
    expect(accepted.status).toBe(200)
    expect(await accepted.json()).toMatchObject({ id: 1, result: { serverInfo: { name: 'codegrant-test-mcp' } } })

    const client = new McpClient({ name: 'apis-infra', version: '1' })
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    try {
      const result = await client.callTool({ name: 'whoami' })
      expect(JSON.parse((result.content as { text: string }[])[0]!.text)).toEqual({ sub: 'alice', scopes: [MCP_SCOPE] })
    } finally {
      await client.close()
    }
  })

  it("refuses another API's token, the login token and a token without its scope", async () => {
    const session = await signedIn([mcp.resource, orders.resource], 'orders:read')
    const noScope = await session.tokenFor(mcp.resource)
    const forOrders = await session.tokenFor(orders.resource)
    for (const token of [forOrders.access_token, session.login.access_token]) {
      const refused = await initialize(token)
      expect(refused.status).toBe(401)
      expect(challenge(refused)).toContain('error="invalid_token"')
    }
    const unscoped = await initialize(noScope.access_token)
    expect(unscoped.status).toBe(403)
    expect(challenge(unscoped)).toContain('error="insufficient_scope"')
    expect(mcp.received).toContain(forOrders.access_token)
  })
})
