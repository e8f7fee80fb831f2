/**
 * Real resource servers for the tests: small APIs on loopback that check access tokens as a real
 * API does (RFC 6750, RFC 9068, RFC 9449, RFC 9728), against the dev provider's published keys:
 *
 *   const orders = await startTestApi({ provider: dev, name: 'orders', scopes: { read: 'orders:read', write: 'orders:write' } })
 *   orders.url, orders.resource       // 'http://127.0.0.1:<port>', registered with the provider (addResource)
 *   orders.received                   // every token it was sent, accepted or not
 *
 * Routes: `GET /` and `GET /items` (read scope), `POST /items` and `GET /write` (write scope:
 * `insufficient_scope` for a page's call), `GET /recent` (read scope, and an authentication no
 * older than `recentAuth` seconds by the token's `auth_time`, else RFC 9470
 * `insufficient_user_authentication` with `max_age`), `GET /events`
 * (read scope; server-sent events, `?count=3&interval=50`), and, unless `resourceMetadata` is
 * false, `GET /.well-known/oauth-protected-resource` (RFC 9728), named in every challenge.
 * A token is accepted when its signature verifies against the issuer's JWKS, `typ` is `at+jwt`,
 * `iss` is the issuer, `aud` is this API's, it has not expired and carries the route's scope;
 * a DPoP-bound one (`cnf.jkt`) only with a DPoP proof of that key for this request (`htm`, `htu`,
 * `iat`, `ath`, unique `jti`), and with `dpop: true` only a bound one.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, EmbeddedJWK, jwtVerify, type JWK, type JWTPayload } from 'jose'

import type { DevProvider } from '@codegrant/dev-provider'

/** A DPoP proof is accepted this many seconds around the API's clock (RFC 9449 §11.1). */
const PROOF_WINDOW = 60
const DPOP_ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA']

export interface TestApiOptions {
  /** The dev provider whose tokens it accepts; the API registers itself there unless `register` is false. */
  provider: Pick<DevProvider, 'issuer' | 'addResource'>
  /** For its answers and messages, e.g. 'orders'. */
  name: string
  scopes: { read: string; write: string }
  /** Its resource indicator (RFC 8707) and so the `aud` it requires; default: its own origin `http://127.0.0.1:<port>`. */
  resource?: string
  /** Registered with the provider as the resource's `audience`: the `aud` it requires instead of `resource` (Auth0-style APIs). */
  audience?: string
  /** Access token lifetime the provider gives its tokens, seconds. */
  accessTokenTtl?: number
  /** True: refuses tokens that are not DPoP-bound (RFC 9449 §7.1). */
  dpop?: boolean
  /** False: no RFC 9728 document and no `resource_metadata` in challenges. Default true. */
  resourceMetadata?: boolean
  /** Members that replace the metadata document's own, e.g. another `resource` or unknown `authorization_servers` (negative tests). */
  metadata?: Record<string, unknown>
  /** False: not registered with the provider (an API the provider does not know). Default true. */
  register?: boolean
  /** `GET /recent`: the `max_age` it asks for (RFC 9470), seconds. Default 60. */
  recentAuth?: number
}

/** One request's token, as the API saw it. */
export interface ReceivedToken {
  method: string
  path: string
  /** 'Bearer' or 'DPoP' as sent. */
  scheme: string
  token: string
  /** Its claims, decoded without any check (undefined when it is not a JWT). */
  claims: JWTPayload | undefined
  /** The status the API answered. */
  status: number
}

export interface TestApi {
  readonly name: string
  /** Base URL, e.g. 'http://127.0.0.1:41234' (no trailing slash). */
  readonly url: string
  /** Its resource indicator. */
  readonly resource: string
  /** The `aud` its tokens must carry. */
  readonly audience: string
  /** The URL of its RFC 9728 document. */
  readonly metadataUrl: string
  readonly received: readonly ReceivedToken[]
  /** Replaces members of the metadata document from now on (`{}`: its own again). */
  setMetadata(metadata: Record<string, unknown>): void
  close(): Promise<void>
}

/** Why a token or proof was refused, as the challenge will say. */
class Refusal extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly error: 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'insufficient_user_authentication' | undefined,
    description: string,
    readonly scope?: string,
    readonly maxAge?: number,
  ) {
    super(description)
  }
}

interface Route {
  method: string
  path: string
  scope: 'read' | 'write'
  answer: (req: IncomingMessage, res: ServerResponse, claims: JWTPayload, url: URL) => void
}

/** Starts one API on a free loopback port. */
export async function startTestApi(options: TestApiOptions): Promise<TestApi> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const resource = options.resource ?? url
  const audience = options.audience ?? resource
  const metadataUrl = `${url}/.well-known/oauth-protected-resource`
  const received: ReceivedToken[] = []
  const seenProofs = new Set<string>()
  let metadataChanges = options.metadata ?? {}
  const verifier = tokenVerifier(options.provider.issuer, audience)

  const routes: Route[] = [
    { method: 'GET', path: '/', scope: 'read', answer: (_req, res, claims) => sendJson(res, 200, { api: options.name, sub: claims.sub, scope: claims.scope, client_id: claims.client_id }) },
    { method: 'GET', path: '/items', scope: 'read', answer: (_req, res) => sendJson(res, 200, { api: options.name, items: [{ id: 1 }, { id: 2 }] }) },
    { method: 'POST', path: '/items', scope: 'write', answer: (_req, res, claims) => sendJson(res, 201, { api: options.name, created: { id: 3 }, by: claims.sub }) },
    { method: 'GET', path: '/write', scope: 'write', answer: (_req, res, claims) => sendJson(res, 200, { api: options.name, wrote: true, scope: claims.scope }) },
    { method: 'GET', path: '/recent', scope: 'read', answer: (_req, res, claims) => sendJson(res, 200, { api: options.name, auth_time: claims.auth_time }) },
    { method: 'GET', path: '/events', scope: 'read', answer: (req, res, _claims, requestUrl) => streamEvents(req, res, options.name, requestUrl) },
  ]

  /** RFC 6750 §3 (and RFC 9449 §7.1 for DPoP): no error code when no token came, the needed scope for insufficient_scope. */
  const challengeOf = (refusal: Refusal, dpopScheme: boolean): string => {
    const params = [
      ...(refusal.error ? [`error="${refusal.error}"`, `error_description="${refusal.message.replaceAll('"', "'")}"`] : []),
      ...(refusal.scope ? [`scope="${refusal.scope}"`] : []),
      ...(refusal.maxAge !== undefined ? [`max_age="${refusal.maxAge}"`] : []),
      ...(options.resourceMetadata === false ? [] : [`resource_metadata="${metadataUrl}"`]),
      ...(dpopScheme ? [`algs="${DPOP_ALGS.join(' ')}"`] : []),
    ]
    return `${dpopScheme ? 'DPoP' : 'Bearer'}${params.length ? ` ${params.join(', ')}` : ''}`
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const requestUrl = new URL(req.url ?? '/', url)
    if (req.method === 'GET' && requestUrl.pathname === '/.well-known/oauth-protected-resource' && options.resourceMetadata !== false) {
      sendJson(res, 200, {
        resource,
        authorization_servers: [options.provider.issuer],
        scopes_supported: [options.scopes.read, options.scopes.write],
        bearer_methods_supported: ['header'],
        ...(options.dpop ? { dpop_bound_access_tokens_required: true, dpop_signing_alg_values_supported: DPOP_ALGS } : {}),
        ...metadataChanges,
      })
      return
    }
    const route = routes.find((candidate) => candidate.method === req.method && candidate.path === requestUrl.pathname)
    if (!route) {
      sendJson(res, 404, { error: 'not_found' })
      return
    }
    const [scheme = '', token = ''] = (req.headers.authorization ?? '').split(' ')
    const check = async (): Promise<JWTPayload> => {
      if (!token || !['bearer', 'dpop'].includes(scheme.toLowerCase())) throw new Refusal(401, undefined, 'no access token')
      const claims = await verifier(token)
      await checkBinding(req, requestUrl, scheme, token, claims, options.dpop === true, seenProofs)
      const scope = options.scopes[route.scope]
      if (!String(claims.scope ?? '').split(' ').includes(scope)) throw new Refusal(403, 'insufficient_scope', `this route needs the scope ${scope}`, scope)
      const maxAge = options.recentAuth ?? 60
      if (route.path === '/recent' && !(typeof claims.auth_time === 'number' && Date.now() / 1000 - claims.auth_time <= maxAge)) {
        throw new Refusal(401, 'insufficient_user_authentication', 'this route needs a more recent authentication', undefined, maxAge)
      }
      return claims
    }
    check().then(
      (claims) => {
        if (token) received.push(record(req, requestUrl, scheme, token, 200))
        route.answer(req, res, claims, requestUrl)
      },
      (error: unknown) => {
        const refusal = error instanceof Refusal ? error : new Refusal(401, 'invalid_token', 'the access token is not valid here')
        if (token) received.push(record(req, requestUrl, scheme, token, refusal.status))
        res.setHeader('WWW-Authenticate', challengeOf(refusal, options.dpop === true || scheme.toLowerCase() === 'dpop'))
        sendJson(res, refusal.status, { error: refusal.error ?? 'unauthorized', ...(refusal.error ? { error_description: refusal.message } : {}) })
      },
    )
  })

  if (options.register !== false) {
    options.provider.addResource(resource, {
      scope: `${options.scopes.read} ${options.scopes.write}`,
      ...(options.audience ? { audience: options.audience } : {}),
      ...(options.accessTokenTtl ? { accessTokenTtl: options.accessTokenTtl } : {}),
    })
  }

  return {
    name: options.name,
    url,
    resource,
    audience,
    metadataUrl,
    received,
    setMetadata: (metadata) => void (metadataChanges = { ...metadata }),
    close: () => closeServer(server),
  }
}

/**
 * A function that returns a token's claims when it is a JWT access token (RFC 9068) of `issuer`
 * for `audience`, signature checked against the issuer's JWKS (found by discovery, cached, and
 * refetched by jose for an unknown `kid`), not expired; throws a Refusal otherwise.
 */
export function tokenVerifier(issuer: string, audience: string): (token: string) => Promise<JWTPayload> {
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined
  const jwks = async () => {
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string }
    return createRemoteJWKSet(new URL(discovery.jwks_uri))
  }
  return async (token) => {
    keys ??= jwks().catch((error: unknown) => {
      keys = undefined
      throw error
    })
    try {
      const { payload } = await jwtVerify(token, await keys, { issuer, audience, typ: 'at+jwt', clockTolerance: 0 })
      return payload
    } catch (error) {
      throw new Refusal(401, 'invalid_token', `the access token is refused: ${(error as { code?: string }).code ?? 'not a JWT'}`)
    }
  }
}

/**
 * RFC 9449 §7: a bound token (`cnf.jkt`) only under the DPoP scheme with a proof of that key for
 * this very request; an unbound one never under DPoP, and not at all when the API requires DPoP.
 */
async function checkBinding(req: IncomingMessage, requestUrl: URL, scheme: string, token: string, claims: JWTPayload, required: boolean, seen: Set<string>): Promise<void> {
  const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt
  const dpopScheme = scheme.toLowerCase() === 'dpop'
  if (typeof jkt !== 'string') {
    if (required) throw new Refusal(401, 'invalid_token', 'this API accepts DPoP-bound tokens only')
    if (dpopScheme) throw new Refusal(401, 'invalid_token', 'the DPoP scheme with a token that is not DPoP-bound')
    return
  }
  if (!dpopScheme) throw new Refusal(401, 'invalid_token', 'a DPoP-bound token sent as a bearer token')
  const proof = req.headers.dpop
  if (typeof proof !== 'string') throw new Refusal(401, 'invalid_dpop_proof', 'no DPoP proof')
  let verified: Awaited<ReturnType<typeof jwtVerify>>
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: DPOP_ALGS })
  } catch {
    throw new Refusal(401, 'invalid_dpop_proof', 'the DPoP proof does not verify')
  }
  const { payload, protectedHeader } = verified
  const problem = await proofProblem(payload, protectedHeader.jwk!, jkt, req.method ?? '', requestUrl, token, seen)
  if (problem) throw new Refusal(401, 'invalid_dpop_proof', problem)
  seen.add(payload.jti as string)
}

/** What is wrong with a verified DPoP proof for this request and token (RFC 9449 §4.3), if anything. */
async function proofProblem(payload: JWTPayload, jwk: JWK, jkt: string, method: string, requestUrl: URL, token: string, seen: Set<string>): Promise<string | undefined> {
  if ((await calculateJwkThumbprint(jwk)) !== jkt) return 'the proof is signed with another key than the token is bound to'
  if (payload.htm !== method) return 'htm is not this request method'
  if (payload.htu !== `${requestUrl.origin}${requestUrl.pathname}`) return 'htu is not this request URL'
  if (typeof payload.iat !== 'number' || Math.abs(Math.floor(Date.now() / 1000) - payload.iat) > PROOF_WINDOW) return 'iat is not recent'
  if (payload.ath !== createHash('sha256').update(token).digest('base64url')) return 'ath is not the hash of this token'
  if (typeof payload.jti !== 'string' || seen.has(payload.jti)) return 'the proof was used before'
  return undefined
}

/** `count` events (at most 100), one every `interval` ms (at most 1000), then the end of the stream. */
function streamEvents(req: IncomingMessage, res: ServerResponse, name: string, requestUrl: URL): void {
  const count = Math.min(Number(requestUrl.searchParams.get('count') ?? 3) || 3, 100)
  const interval = Math.min(Number(requestUrl.searchParams.get('interval') ?? 50) || 50, 1000)
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
  res.flushHeaders()
  let sent = 0
  const timer = setInterval(() => {
    sent += 1
    res.write(`id: ${sent}\nevent: tick\ndata: ${JSON.stringify({ api: name, n: sent })}\n\n`)
    if (sent >= count) {
      clearInterval(timer)
      res.end()
    }
  }, interval)
  req.on('close', () => clearInterval(timer))
}

function record(req: IncomingMessage, requestUrl: URL, scheme: string, token: string, status: number): ReceivedToken {
  let claims: JWTPayload | undefined
  try {
    claims = decodeJwt(token)
  } catch {
    claims = undefined
  }
  return { method: req.method ?? '', path: requestUrl.pathname, scheme, token, claims, status }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
