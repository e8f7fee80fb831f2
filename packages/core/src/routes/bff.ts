/**
 * The backend-for-frontend (`OAUTH_BFF`, issue 21): a single-page app talks to its own origin
 * with the session cookie, and codegrant holds the tokens. `GET /bff/session` tells the SPA who
 * is signed in (never a token); `/bff/<api>/*` is proxied to the API of `OAUTH_APIS` with its
 * token (the wallet's `apiFetch`), streaming both ways.
 *
 * Every `/bff/` request but `GET /bff/session` (and the navigation to `/bff/silent-login`, checked
 * by fetch metadata alone: bff-silent-login.ts) must carry the anti-forgery header and, when the
 * browser sends fetch metadata, come from the same origin: a cross-site form or `fetch` cannot
 * set a custom header without a CORS preflight this server never grants, so the session cookie
 * alone never makes the proxy act (the cookie is SameSite=Lax too, but same-site is not same-origin).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { ApiSettings, OAuthConfig } from '../config/resolved.js'
import { sessionOf, type Context } from '../context.js'
import { userClaims } from '../session/claims.js'
import { appPath, header, json, methodNotAllowed, type CoreRequest, type CoreResponse } from '../http.js'
import { apiUrl } from '../wallet.js'
import { refusalOf } from '../api-challenge.js'
import { streamWire, type StreamedAnswer, type Wire } from '../provider/resource-wire.js'

/**
 * A call over a wire to a URL under `api`'s base URL with the API's token, retried after a 401
 * only with `retry` (request-state.ts's `apiCall`: the hub passes it in, routes sit below it).
 */
export type ApiSender = (context: Context, api: ApiSettings, url: URL, wire: Wire<StreamedAnswer>, retry: boolean) => Promise<StreamedAnswer>

/** Where the backend-for-frontend's routes live. */
export const BFF_PREFIX = '/bff/'
export const BFF_SESSION = '/bff/session'

/** Never passed on, either way (RFC 9110 §7.6.1), with the headers `Connection` names. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection']

/**
 * Not sent to the API: the browser's credentials for this origin (the API gets its own token),
 * the framing the connection to the API sets itself (host, length), `expect`, the encodings the
 * browser accepts (the API is asked for none; one it uses anyway is passed on with its
 * `Content-Encoding`), and the anti-forgery header.
 */
const NOT_FORWARDED = ['cookie', 'authorization', 'dpop', 'host', 'content-length', 'expect', 'accept-encoding']

/**
 * Not returned to the browser: the API's cookies (they would be this origin's), and the length
 * (the browser's connection frames the answer itself).
 */
const NOT_RETURNED = ['set-cookie', 'set-cookie2', 'content-length']

/** What every BFF answer carries: for one user, never cached. */
const NO_STORE = { 'cache-control': 'no-store' }

/**
 * `GET /bff/session`: the session for the SPA, reading it renews its idle window as any request
 * does. The user's claims, the provider, when the session ends, where to log in and out, and
 * which header to send; never a token.
 */
export function bffSession(context: Context): CoreResponse {
  const { config } = context.engine
  const { request } = context
  if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET, HEAD')
  const session = sessionOf(context)
  const csrf = config.bff ? csrfHeader(config.bff) : undefined
  const base = { loginUrl: appPath(config, config.routes.login), logoutUrl: appPath(config, config.routes.logout), csrfHeader: csrf }
  if (!session) return json(200, { isAuthenticated: false, user: null, provider: null, session: null, ...base }, NO_STORE)
  return json(200, {
    isAuthenticated: true,
    user: userClaims(session, config.keepProtocolClaims),
    provider: context.engine.providers.of(session)?.name ?? null,
    session: { expiresAt: session.exp, idleExpiresAt: session.uat + config.sessionIdleTimeout },
    ...base,
  }, NO_STORE)
}

/** The anti-forgery header as the SPA sends it: `{ name: 'X-CSRF', value: '1' }` (names are case-insensitive). */
function csrfHeader(bff: Exclude<OAuthConfig['bff'], false>): { name: string; value: string } {
  return { name: bff.header.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase()), value: bff.value }
}

/**
 * Why a `/bff/` request that acts is refused as a possible forgery, if it is: the anti-forgery
 * header missing or with another value, or fetch metadata that says it came from another origin
 * (`Sec-Fetch-Site` other than `same-origin`; absent from older browsers and non-browser clients).
 */
export function forgery(config: OAuthConfig, request: CoreRequest): CoreResponse | undefined {
  if (!config.bff) return undefined
  const site = header(request, 'sec-fetch-site')
  if (header(request, config.bff.header) === config.bff.value && (site === undefined || site === 'same-origin')) return undefined
  return json(403, { error: 'forbidden', error_description: `a /bff/ request must carry the header ${config.bff.header}: ${config.bff.value} and come from this origin` }, NO_STORE)
}

/**
 * `/bff/<api>/<path>`: checked (anti-forgery, signed in, a configured API, a path that stays under
 * its base URL), then sent to the API with its token and answered with its response, streamed.
 */
export async function bffProxy(context: Context, send: ApiSender): Promise<CoreResponse> {
  const { config } = context.engine
  const { request } = context
  // fetch cannot upgrade a connection: a WebSocket is refused, never sent on as a plain request
  if (header(request, 'upgrade') !== undefined) {
    return json(501, { error: 'upgrade_not_supported', error_description: 'the BFF does not proxy WebSocket or other protocol upgrades' }, NO_STORE)
  }
  const forged = forgery(config, request)
  if (forged) return forged
  const target = targetOf(config, request.url)
  if (!target) return json(404, { error: 'not_found', error_description: 'no API of OAUTH_APIS has this name' }, NO_STORE)
  if (!sessionOf(context)) return json(401, { error: 'unauthenticated' }, { ...NO_STORE, 'www-authenticate': `Bearer realm="${config.baseUrl.origin}"` })
  let url: URL
  try {
    url = apiUrl(target.api, target.path)
  } catch {
    return json(400, { error: 'invalid_path', error_description: "the path may not leave the API's base path" }, NO_STORE)
  }
  return forward(context, send, target.api, url)
}

/** The API a `/bff/<api>/…` URL names and the rest of it (path and query, still percent-encoded). */
function targetOf(config: OAuthConfig, requestUrl: string): { api: ApiSettings; path: string } | undefined {
  const rest = requestUrl.slice(requestUrl.indexOf(BFF_PREFIX) + BFF_PREFIX.length)
  const end = rest.search(/[/?]/)
  const name = end === -1 ? rest : rest.slice(0, end)
  const api = config.apis.find((candidate) => candidate.name === name)
  return api && { api, path: end === -1 ? '' : rest.slice(end).replace(/^\//, '') }
}

/**
 * Sends the request on with the API's token: its method, its other headers and its body as it
 * arrives (retried after a 401 only without a body: a stream cannot be sent twice); answers 502
 * when the API cannot be reached and 504 when it has not answered within `OAUTH_HTTP_TIMEOUT`.
 */
async function forward(context: Context, send: ApiSender, api: ApiSettings, url: URL): Promise<CoreResponse> {
  const { config } = context.engine
  const { request } = context
  const body = hasBody(request) ? request.stream : undefined
  // a body parser mounted before oauth() read it: sending the rest would send an empty body
  if (body && (body.readableEnded || body.readableDidRead)) {
    config.logger.error(`the BFF cannot forward ${request.method} /bff/${api.name}/…: a body parser read its body before oauth() saw it; mount oauth() before body parsers`)
    return json(500, { error: 'body_already_read', error_description: 'the request body was read before the proxy could forward it' }, NO_STORE)
  }
  const timeout = new AbortController()
  // until the API's headers arrive: a stream (server-sent events) may then last as long as it does
  const timer = setTimeout(() => timeout.abort(), config.httpTimeout)
  const wire = streamWire({ method: request.method, headers: forwardedHeaders(config, request), body, signal: timeout.signal })
  let answer: StreamedAnswer
  try {
    answer = await send(context, api, url, wire, body === undefined)
  } catch (error) {
    if (timeout.signal.aborted) return json(504, { error: 'upstream_timeout', error_description: `the API ${api.name} did not answer in time` }, NO_STORE)
    if (isFetchFailure(error)) return json(502, { error: 'upstream_unavailable', error_description: `the API ${api.name} cannot be reached` }, NO_STORE)
    throw error
  } finally {
    clearTimeout(timer)
  }
  // an API asking for more scope or a stronger sign-in: the JSON error with the login that would
  // satisfy it (api-challenge.ts), which the SPA opens; any other answer passes through as it is
  const refusal = (answer.status === 401 || answer.status === 403) && (await refusalOf(context, wire.head(answer)))
  if (refusal) {
    await wire.discard(answer)
    throw refusal
  }
  if (request.method === 'HEAD') answer.body.resume()
  return {
    status: answer.status,
    headers: returnedHeaders(answer.headers),
    cookies: [],
    ...(request.method !== 'HEAD' ? { stream: answer.body } : { body: '' }),
  }
}

/** A request with a body to stream: any but GET and HEAD that says it has one. */
function hasBody(request: CoreRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || !request.stream) return false
  const length = header(request, 'content-length')
  return header(request, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0')
}

/** What the wire rejects with when it cannot connect or the connection breaks (a TypeError, its cause the socket's error, as fetch does). */
function isFetchFailure(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof Error && error.name === 'AbortError')
}

/** The browser's headers the API may see: not hop-by-hop ones, not its credentials for this origin, not the anti-forgery header. */
function forwardedHeaders(config: OAuthConfig, request: CoreRequest): Record<string, string | string[]> {
  const dropped = new Set([...HOP_BY_HOP, ...NOT_FORWARDED, ...listedIn(header(request, 'connection'))])
  if (config.bff) dropped.add(config.bff.header)
  return passed(request.headers, dropped)
}

/** The API's headers the browser may see: not hop-by-hop ones, never its cookies; a repeated one joined (RFC 9110 §5.3). */
function returnedHeaders(upstream: IncomingHttpHeaders): Record<string, string> {
  const connection = upstream.connection
  const dropped = new Set([...HOP_BY_HOP, ...NOT_RETURNED, ...listedIn(Array.isArray(connection) ? connection.join(', ') : connection)])
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(passed(upstream, dropped))) headers[name] = Array.isArray(value) ? value.join(', ') : value
  return headers
}

/** Node's header record (lower-case names) without the `dropped` and `proxy-` ones. */
function passed(record: IncomingHttpHeaders, dropped: ReadonlySet<string>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined && !dropped.has(name) && !name.startsWith('proxy-')) headers[name] = value
  }
  return headers
}

/** The header names a `Connection` header lists (they are hop-by-hop too). */
function listedIn(connection: string | undefined): string[] {
  return connection ? connection.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean) : []
}
