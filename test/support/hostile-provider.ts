/**
 * A deliberately misbehaving OpenID provider on loopback (plain http, allowed there): just
 * enough of OpenID Connect for codegrant's flow (discovery, JWKS, an authorization endpoint
 * without a login page, token with PKCE and refresh, userinfo, revocation), where every
 * endpoint can be told to misbehave, per test, with {@link HostileProvider.set}:
 *
 *   hostile.set({ token: 'hang' })                          // the token endpoint never answers
 *   hostile.set({ tokenResponse: { id_token: undefined } }) // a token response without an ID token
 *   hostile.set({ idToken: { alg: 'none' } })               // an unsigned ID token
 *   hostile.set({ idToken: { claims: { aud: 'other' } } })  // one claim changed (undefined deletes)
 *   hostile.set({ authorize: { iss: undefined } })          // the `iss` response parameter removed
 *   hostile.set({ jarm: { claims: { aud: 'other' } } })     // a JARM response (response_mode=jwt) with one claim changed
 *   hostile.set({ discovery: 'issuer-mismatch' })
 *   hostile.set({ userinfo: { sub: 'mallory' } })
 *   hostile.set({ tokenRaw: { status: 200, contentType: 'application/json', body: '[[[' } })
 *   hostile.set({ rotateRefreshTokens: false })             // refresh tokens stay valid, none issued on refresh
 *   hostile.set({ challenge: 'error=invalid_request' })     // userinfo's 401 without a Bearer challenge
 *   hostile.set({ delay: { token: 1000 } })                 // the token endpoint answers after a second
 *
 * It counts requests per endpoint (`hostile.count('token')`), remembers every code and token it
 * issued (`hostile.secrets()`) so that tests can assert none reaches a response, and holds
 * nothing forever: `close()` destroys every socket, hanging ones included.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CompactSign, exportJWK, generateKeyPair } from 'jose'

/** How an endpoint answers instead of properly. */
export type Fault =
  | 'hang' // reads the request and never answers
  | 'stall-body' // 200 and headers (with Content-Length), half the body, then nothing
  | 'trickle' // 200 and headers, then one byte of JSON whitespace every 50 ms, never ending
  | 'reset' // drops the connection without an answer
  | 'status-500' // 500 with a plain-text page
  | 'status-503' // 503 {"error":"temporarily_unavailable"} with Retry-After
  | 'not-json' // 200 text/html (carrying the real answer)
  | 'array' // 200 JSON array holding the real answer
  | 'redirect' // 307 to the same path on another host (see `evil`)
  | 'huge' // 200 JSON of 2 MB, Content-Length declared
  | 'huge-chunked' // 200 JSON of 2 MB, chunked, no Content-Length
  | 'error-200' // 200 {"error":"server_error"}
  | 'invalid_client' // 401 {"error":"invalid_client"}
  | 'invalid_client-challenge' // the same with WWW-Authenticate: Basic
  | 'invalid_grant' // 400 {"error":"invalid_grant"}

/** Overrides merged over what the provider would send; a value of `undefined` deletes the member. */
export type Overrides = Record<string, unknown>

export type IdTokenAlg =
  | 'RS256' // the published RSA key (the default)
  | 'ES256' // the published P-256 key: valid, but not the pinned algorithm
  | 'HS256' // HMAC with the client secret
  | 'none' // unsigned
  | 'wrong-key' // RS256 with a key that is not published, under the published key's kid (bad signature)
  | 'unknown-kid' // RS256 with a key that is not published, under a kid that is not either

/** How a JWT the provider issues is made: its algorithm/key, claim and header overrides, or a raw replacement string. */
export interface JwtSpec {
  alg?: IdTokenAlg
  claims?: Overrides
  header?: Overrides
  raw?: string
}

export interface HostileSettings {
  /** Discovery: a fault, or a document whose issuer is another's, or whose endpoints are plain http on another host. */
  discovery?: Fault | 'issuer-mismatch' | 'http-endpoints'
  /** Fields of the discovery document to replace. */
  metadata?: Record<string, unknown>
  jwks?: Fault
  /** Publish a second RS256 key (kid `rs-2`) beside `rs-1`: two published keys fit an RS256 ID token that names no `kid`. */
  secondRsaKey?: boolean
  /** Parameters of the redirect back to the client, e.g. `{ iss: undefined }` or `{ error: 'access_denied', code: undefined }`. */
  authorize?: Record<string, string | undefined>
  /** How the token endpoint answers (both grants). */
  token?: Fault
  /** Members of the token response, e.g. `{ expires_in: undefined }`, `{ token_type: 'BEARER' }`. */
  tokenResponse?: Overrides
  /** The token endpoint's whole answer, verbatim (both grants; the grant itself is not processed). */
  tokenRaw?: { status: number; contentType?: string; body: string }
  /** The ID token: its algorithm/key, claim overrides, or a raw replacement string. */
  idToken?: JwtSpec
  /**
   * The JWT-secured authorization response (JARM), sent when the request asks for `response_mode`
   * `jwt`, `query.jwt` or `form_post.jwt`: its algorithm/key, claim overrides (over `iss`, `aud`,
   * `exp`, `iat` and the response's parameters, `authorize` applied), or a raw replacement.
   */
  jarm?: JwtSpec
  /** Userinfo: a fault, or claim overrides. */
  userinfo?: Fault | Overrides
  /** The `WWW-Authenticate` header of userinfo's 401 for an unknown access token (default `Bearer error="invalid_token"`). */
  challenge?: string
  revoke?: Fault
  /** False: a refresh grant issues no new refresh token, and the one presented stays valid (LemonLDAP::NG). */
  rotateRefreshTokens?: boolean
  /** Milliseconds an endpoint waits before it handles a request: a slow provider. */
  delay?: Partial<Record<Endpoint, number>>
}

export type Endpoint = 'discovery' | 'jwks' | 'authorize' | 'token' | 'userinfo' | 'revoke' | 'end-session' | 'unknown'

export interface HostileProvider {
  /** `http://127.0.0.1:<port>` */
  readonly issuer: string
  readonly userinfoUrl: string
  readonly clientId: string
  readonly clientSecret: string
  /** The `sub` of the only user. */
  readonly sub: string
  /** Replaces the given settings (others stay). */
  set(settings: HostileSettings): void
  /** Back to a well-behaved provider (counts and issued tokens are kept). */
  reset(): void
  /** Forgets every access token issued so far (refresh tokens stay): userinfo answers them 401 invalid_token. */
  forgetAccessTokens(): void
  /** Requests received by an endpoint since start; for the token endpoint, optionally per grant type. */
  count(endpoint: Endpoint, grantType?: string): number
  /** The client secret and every code and token issued so far. */
  secrets(): string[]
  /** Another host that a `redirect` fault points to; counts what reaches it. */
  readonly evil: { url: string; count(): number }
  /** Stops listening (connections are refused) until {@link online}. */
  offline(): Promise<void>
  online(): Promise<void>
  close(): Promise<void>
}

const HUGE = 2 * 1024 * 1024
/** Faults whose (mangled) answer carries what a proper answer would have. */
const CARRIES_ANSWER = new Set<Fault>(['stall-body', 'trickle', 'not-json', 'array', 'huge', 'huge-chunked'])
const SCOPE = 'openid profile email'
const ENDPOINTS: Readonly<Record<string, Endpoint>> = {
  '/.well-known/openid-configuration': 'discovery',
  '/.well-known/oauth-authorization-server': 'discovery',
  '/jwks': 'jwks',
  '/authorize': 'authorize',
  '/token': 'token',
  '/userinfo': 'userinfo',
  '/revoke': 'revoke',
  '/end-session': 'end-session',
}

interface Grant {
  clientId: string
  redirectUri: string
  nonce: string | undefined
  challenge: string | undefined
  used: boolean
}

export async function startHostileProvider(options: { clientId: string; clientSecret: string; redirectUris: string[]; sub?: string }): Promise<HostileProvider> {
  const { clientId, clientSecret, redirectUris } = options
  const sub = options.sub ?? 'alice'
  const rsa = await generateKeyPair('RS256', { extractable: true })
  const ec = await generateKeyPair('ES256', { extractable: true })
  const rogue = await generateKeyPair('RS256')
  const jwks = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' },
    ],
  }

  const secondRsa = { ...(await exportJWK(rogue.publicKey)), kid: 'rs-2', alg: 'RS256', use: 'sig' }

  let settings: HostileSettings = {}
  const requests: { endpoint: Endpoint; grantType?: string }[] = []
  const grants = new Map<string, Grant>()
  const refreshTokens = new Set<string>()
  const accessTokens = new Set<string>()
  const issued: string[] = []
  const token = (prefix: string) => {
    const value = `${prefix}-${randomBytes(24).toString('base64url')}`
    issued.push(value)
    return value
  }

  const evilHits: string[] = []
  const evil = createServer((req, res) => {
    evilHits.push(req.url ?? '')
    req.resume()
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"evil","token_type":"Bearer"}')
  })
  await listen(evil, 0)
  const evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}`

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`hostile provider bug: ${String(error)}`)
    })
  })
  // faults reset sockets on purpose: one quiet error listener per connection, not per request
  server.on('connection', (socket) => socket.on('error', () => {}))
  await listen(server, 0)
  const port = (server.address() as AddressInfo).port
  const issuer = `http://127.0.0.1:${port}`

  function metadata(): Record<string, unknown> {
    const base = settings.discovery === 'http-endpoints' ? 'http://idp.example' : issuer
    return {
      issuer: settings.discovery === 'issuer-mismatch' ? `${issuer}/someone-else` : issuer,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      userinfo_endpoint: `${base}/userinfo`,
      jwks_uri: `${base}/jwks`,
      revocation_endpoint: `${base}/revoke`,
      end_session_endpoint: `${base}/end-session`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      // a hostile provider advertises everything: only the client's own pinning protects it
      id_token_signing_alg_values_supported: ['RS256', 'ES256', 'HS256', 'none'],
      authorization_signing_alg_values_supported: ['RS256', 'ES256', 'HS256', 'none'],
      response_modes_supported: ['query', 'form_post', 'jwt', 'query.jwt', 'form_post.jwt'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
      ...settings.metadata,
    }
  }

  async function idToken(nonce: string | undefined): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    return signed({ iss: issuer, sub, aud: clientId, iat: now, exp: now + 300, auth_time: now, ...(nonce ? { nonce } : {}) }, settings.idToken ?? {})
  }

  /** `base` with the spec's claims applied, signed as the spec says (the provider's RS256 key by default). */
  async function signed(base: Record<string, unknown>, spec: JwtSpec): Promise<string> {
    if (spec.raw !== undefined) return spec.raw
    const claims = merge(base, spec.claims)
    const alg = spec.alg ?? 'RS256'
    const payload = new TextEncoder().encode(JSON.stringify(claims))
    const sign = (base: { alg: string; kid?: string }, key: CryptoKey | Uint8Array) => {
      const header = merge({ ...base, typ: 'JWT' }, spec.header) as { alg: string; crit?: string[] }
      // jose refuses `crit` extensions it was not told about: tell it, the client must still refuse them
      const crit = header.crit ? { crit: Object.fromEntries(header.crit.map((name) => [name, true])) } : undefined
      return new CompactSign(payload).setProtectedHeader(header).sign(key, crit)
    }
    let jwt: string
    switch (alg) {
      case 'none':
        jwt = `${b64u(JSON.stringify(merge({ alg: 'none', typ: 'JWT' }, spec.header)))}.${Buffer.from(payload).toString('base64url')}.`
        break
      case 'HS256':
        jwt = await sign({ alg: 'HS256' }, new TextEncoder().encode(clientSecret))
        break
      case 'ES256':
        jwt = await sign({ alg: 'ES256', kid: 'es-1' }, ec.privateKey)
        break
      case 'wrong-key':
      case 'unknown-kid':
        jwt = await sign({ alg: 'RS256', kid: alg === 'wrong-key' ? 'rs-1' : 'rogue-1' }, rogue.privateKey)
        break
      default:
        jwt = await sign({ alg: 'RS256', kid: 'rs-1' }, rsa.privateKey)
    }
    issued.push(jwt)
    return jwt
  }

  async function tokens(nonce: string | undefined, refreshed = false): Promise<Record<string, unknown>> {
    const accessToken = token('at')
    accessTokens.add(accessToken)
    const rotate = !refreshed || settings.rotateRefreshTokens !== false
    const refreshToken = rotate ? token('rt') : undefined
    if (refreshToken) refreshTokens.add(refreshToken)
    const body = { access_token: accessToken, token_type: 'Bearer', expires_in: 300, scope: SCOPE, ...(refreshToken ? { refresh_token: refreshToken } : {}), id_token: await idToken(nonce) }
    return merge(body, settings.tokenResponse)
  }

  /** RFC 6749 §2.3.1: Basic with form-url-encoded id and secret, or both in the body. */
  function authenticated(req: IncomingMessage, form: URLSearchParams): boolean {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      const decode = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '))
      return colon > 0 && decode(decoded.slice(0, colon)) === clientId && decode(decoded.slice(colon + 1)) === clientSecret
    }
    return form.get('client_id') === clientId && form.get('client_secret') === clientSecret
  }

  async function tokenEndpoint(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const form = new URLSearchParams(await readBody(req))
    requests.push({ endpoint: 'token', grantType: form.get('grant_type') ?? '' })
    if (!authenticated(req, form)) return { status: 401, body: { error: 'invalid_client' } }
    const invalidGrant = { status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } }
    if (form.get('grant_type') === 'authorization_code') {
      const grant = grants.get(form.get('code') ?? '')
      if (!grant || grant.used || grant.clientId !== clientId || grant.redirectUri !== form.get('redirect_uri')) return invalidGrant
      grant.used = true
      const verifier = form.get('code_verifier') ?? ''
      if (grant.challenge && createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return invalidGrant
      return { status: 200, body: await tokens(grant.nonce) }
    }
    if (form.get('grant_type') === 'refresh_token') {
      const presented = form.get('refresh_token') ?? ''
      if (!refreshTokens.has(presented)) return invalidGrant
      if (settings.rotateRefreshTokens !== false) refreshTokens.delete(presented)
      return { status: 200, body: await tokens(undefined, true) }
    }
    return { status: 400, body: { error: 'unsupported_grant_type' } }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => {})
    const url = new URL(req.url ?? '/', issuer)
    const delay = settings.delay?.[ENDPOINTS[url.pathname] ?? 'unknown']
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay))
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /.well-known/openid-configuration':
      case 'GET /.well-known/oauth-authorization-server': {
        requests.push({ endpoint: 'discovery' })
        const fault = settings.discovery === 'issuer-mismatch' || settings.discovery === 'http-endpoints' ? undefined : settings.discovery
        return deliver(req, res, fault, 200, metadata())
      }
      case 'GET /jwks':
        requests.push({ endpoint: 'jwks' })
        return deliver(req, res, settings.jwks, 200, settings.secondRsaKey ? { keys: [...jwks.keys, secondRsa] } : jwks)
      case 'GET /authorize': {
        requests.push({ endpoint: 'authorize' })
        const q = url.searchParams
        const redirectUri = q.get('redirect_uri') ?? ''
        if (q.get('client_id') !== clientId || !redirectUris.includes(redirectUri)) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('unknown client or redirect_uri')
          return
        }
        const code = token('code')
        grants.set(code, { clientId, redirectUri, nonce: q.get('nonce') ?? undefined, challenge: q.get('code_challenge') ?? undefined, used: false })
        const params = merge({ code, state: q.get('state') ?? undefined, iss: issuer }, settings.authorize)
        const mode = q.get('response_mode') ?? 'query'
        // JARM: the parameters as the claims of one signed JWT, `response` (JARM §2.1)
        const now = Math.floor(Date.now() / 1000)
        const response = /jwt$/.test(mode) ? { response: await signed({ ...params, aud: clientId, iat: now, exp: now + 120 }, settings.jarm ?? {}) } : params
        if (mode === 'form_post.jwt') {
          const fields = Object.entries(response).map(([key, value]) => `<input type="hidden" name="${key}" value="${String(value)}">`).join('')
          res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><form method="post" action="${redirectUri}">${fields}</form>`)
          return
        }
        const location = new URL(redirectUri)
        for (const [key, value] of Object.entries(response)) if (value !== undefined) location.searchParams.set(key, String(value))
        res.writeHead(302, { location: location.href }).end()
        return
      }
      case 'POST /token': {
        const raw = settings.tokenRaw
        if (raw) {
          const form = new URLSearchParams(await readBody(req))
          requests.push({ endpoint: 'token', grantType: form.get('grant_type') ?? '' })
          res.writeHead(raw.status, raw.contentType === undefined ? {} : { 'content-type': raw.contentType }).end(raw.body)
          return
        }
        const fault = settings.token
        // a provider that fails outright never got to the grant (the code or refresh token stays
        // unused); one that answers garbage did the work and issued tokens on the way
        if (fault && !CARRIES_ANSWER.has(fault)) {
          const form = new URLSearchParams(await readBody(req))
          requests.push({ endpoint: 'token', grantType: form.get('grant_type') ?? '' })
          return deliver(req, res, fault, 500, {})
        }
        const { status, body } = await tokenEndpoint(req)
        return deliver(req, res, fault, status, body)
      }
      case 'GET /userinfo':
      case 'POST /userinfo': {
        requests.push({ endpoint: 'userinfo' })
        const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]
        if (!bearer || !accessTokens.has(bearer)) {
          res.writeHead(401, { 'www-authenticate': settings.challenge ?? 'Bearer error="invalid_token"' }).end()
          return
        }
        const spec = settings.userinfo
        const claims = merge({ sub, name: 'Alice Hostile', email: 'alice@hostile.example' }, typeof spec === 'object' ? spec : undefined)
        return deliver(req, res, typeof spec === 'string' ? spec : undefined, 200, claims)
      }
      case 'POST /revoke': {
        const form = new URLSearchParams(await readBody(req))
        requests.push({ endpoint: 'revoke' })
        if (!authenticated(req, form)) return deliver(req, res, settings.revoke, 401, { error: 'invalid_client' })
        refreshTokens.delete(form.get('token') ?? '')
        accessTokens.delete(form.get('token') ?? '')
        if (settings.revoke) return deliver(req, res, settings.revoke, 200, {})
        res.writeHead(200).end()
        return
      }
      case 'GET /end-session':
        requests.push({ endpoint: 'end-session' })
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>signed out</p>')
        return
      default:
        requests.push({ endpoint: 'unknown' })
        res.writeHead(404).end()
    }
  }

  /** Sends `body` as JSON with `status`, or misbehaves as `fault` says. */
  function deliver(req: IncomingMessage, res: ServerResponse, fault: Fault | undefined, status: number, body: unknown): void {
    const json = (code: number, value: unknown, headers: Record<string, string> = {}) =>
      void res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(value))
    const text = JSON.stringify(body)
    switch (fault) {
      case undefined:
        return json(status, body)
      case 'hang':
        return // the socket is destroyed by close() at the latest
      case 'stall-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
        res.write(text.slice(0, Math.floor(text.length / 2)))
        return
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/json' })
        const drip = setInterval(() => res.write(' '), 50)
        res.on('close', () => clearInterval(drip))
        return
      }
      case 'reset':
        req.socket.destroy()
        return
      case 'status-500':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error')
        return
      case 'status-503':
        return json(503, { error: 'temporarily_unavailable', error_description: 'try later' }, { 'retry-after': '1' })
      case 'not-json':
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body><pre>${text}</pre></body></html>`)
        return
      case 'array':
        return json(200, [body])
      case 'redirect':
        res.writeHead(307, { location: `${evilUrl}${req.url ?? '/'}` }).end()
        return
      case 'huge': {
        const padded = `${text.slice(0, -1)},"padding":"${'x'.repeat(HUGE)}"}`
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(padded)) }).end(padded)
        return
      }
      case 'huge-chunked': {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(`${text.slice(0, -1)},"padding":"`)
        const chunk = 'x'.repeat(64 * 1024)
        for (let sent = 0; sent < HUGE; sent += chunk.length) res.write(chunk)
        res.end('"}')
        return
      }
      case 'error-200':
        return json(200, { error: 'server_error', error_description: 'something went wrong' })
      case 'invalid_client':
        return json(401, { error: 'invalid_client', error_description: 'client authentication failed' })
      case 'invalid_client-challenge':
        return json(401, { error: 'invalid_client', error_description: 'client authentication failed' }, { 'www-authenticate': 'Basic realm="hostile"' })
      case 'invalid_grant':
        return json(400, { error: 'invalid_grant', error_description: 'grant request is invalid' })
    }
  }

  return {
    issuer,
    userinfoUrl: `${issuer}/userinfo`,
    clientId,
    clientSecret,
    sub,
    set: (next) => void (settings = { ...settings, ...next }),
    reset: () => void (settings = {}),
    forgetAccessTokens: () => accessTokens.clear(),
    count: (endpoint, grantType) => requests.filter((r) => r.endpoint === endpoint && (grantType === undefined || r.grantType === grantType)).length,
    secrets: () => [clientSecret, ...issued],
    evil: { url: evilUrl, count: () => evilHits.length },
    offline: () => closeServer(server),
    online: () => listen(server, port),
    close: async () => {
      await Promise.all([closeServer(server), closeServer(evil)])
    },
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Stops a loopback test server now: stops listening and drops its keep-alive connections. */
export function closeServer(target: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!target.listening) return resolve()
    target.close(() => resolve())
    target.closeAllConnections()
  })
}

/** A request's whole body as text (the loopback providers read small forms). */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** `base` with `overrides` applied; an override of `undefined` deletes the member. */
export function merge(base: Record<string, unknown>, overrides: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value === undefined) delete result[key]
    else result[key] = value
  }
  return result
}

function b64u(text: string): string {
  return Buffer.from(text).toString('base64url')
}
