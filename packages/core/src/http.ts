import type { Readable } from 'node:stream'
import type { ErrorPageInfo } from './config/hooks.js'
import type { OAuthConfig } from './config/resolved.js'
import { CodegrantError } from './errors.js'
import { isLocalPath } from './return-to.js'

/** The little of a request the core needs. Adapters build it without copying headers. */
export interface CoreRequest {
  method: string
  /** Path and query as the app received them, e.g. `/auth/callback?code=…&state=…`. */
  url: string
  /** Lower-case header names, as Node.js gives them. */
  headers: Readonly<Record<string, string | string[] | undefined>>
  /** A form body (form_post callback, logout POST): the raw text, or what a body parser made of it. */
  body?: string | URLSearchParams | Readonly<Record<string, unknown>> | undefined
  /** Whether the connection to this server is TLS (the socket's, not a proxy's); for diagnostics. */
  encrypted?: boolean
  /**
   * The connection the request came on (the socket), used only as a key: requests on one
   * keep-alive connection that carry the very same Cookie header are parsed and opened once.
   */
  connection?: object
  /** The request body as it arrives, unread: only for the backend-for-frontend's proxy (`/bff/<api>/*`). */
  stream?: Readable
}

/** What an adapter writes back: status, headers, `Set-Cookie` values, and an optional body. */
export interface CoreResponse {
  status: number
  headers: Record<string, string>
  cookies: string[]
  body?: string
  /** A body streamed as it arrives (the backend-for-frontend's proxied answers), instead of `body`. */
  stream?: Readable
}

export function header(request: CoreRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

export function wantsHtml(request: CoreRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && (header(request, 'accept') ?? '').includes('text/html')
}

/**
 * The app-local path for a Location header (or a link), under the base URL's path when it has
 * one. Every local redirect is built here, so this is where the final value is checked: it must
 * be a path that a browser resolves on the app's own origin, else the app's root is used.
 */
export function appPath(config: OAuthConfig, localPath: string): string {
  const base = config.baseUrl.pathname.replace(/\/$/, '')
  const path = base + localPath
  return isLocalPath(path) ? path : `${base}/`
}

export function redirect(location: string, cookies: string[] = [], headers: Record<string, string> = {}): CoreResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store', ...headers }, cookies }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): CoreResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    cookies: [],
    body: JSON.stringify(body),
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * What every page codegrant renders is sent with: no script, no base URL (`base-uri`), forms only
 * to this origin, and never inside a frame (`frame-ancestors`, and `X-Frame-Options` for browsers
 * without CSP 2): a framed logout confirmation or provider chooser could be clickjacked.
 */
const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
})

/** One of codegrant's own HTML pages (`headers` adds to {@link PAGE_HEADERS}, never replaces them). */
export function html(status: number, title: string, paragraphs: string[], headers: Record<string, string> = {}): CoreResponse {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${paragraphs.join('')}</main></body></html>`
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
      ...PAGE_HEADERS,
    },
    cookies: [],
    body,
  }
}

/** The headers of a page the app rendered: its own styles, images and fonts, no script, never framed. */
const APP_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
})

/**
 * An error page for a browser: the app's (`errorPage`) when it renders one, else `ours()`. A
 * renderer that throws is logged and codegrant's own page is sent: an error page must not fail.
 */
export function errorPage(config: OAuthConfig, info: ErrorPageInfo, ours: () => CoreResponse, headers: Record<string, string> = {}): CoreResponse {
  let page: string | undefined
  try {
    page = config.errorPage?.(info)
  } catch (error) {
    config.logger.error(`errorPage threw for ${info.code} (${error instanceof Error ? error.message : String(error)}): codegrant's own page was sent`)
  }
  if (typeof page !== 'string') return ours()
  return {
    status: info.status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers, ...APP_PAGE_HEADERS },
    cookies: [],
    body: page,
  }
}

/** An error as the browser (HTML) or an API client (JSON) should see it: never a stack trace. */
export function errorResponse(config: OAuthConfig, request: CoreRequest, error: CodegrantError): CoreResponse {
  // a 503 (provider metadata or session store unavailable) says when to come back
  const headers: Record<string, string> = { ...error.headers }
  if (!(header(request, 'accept') ?? '').includes('text/html')) {
    // an API's refusal that a new login would satisfy (insufficient_scope, a step-up) says which:
    // the SPA behind the BFF opens `loginUrl` (an app URL), `scope` is what the API asked for
    const next = { ...(error.loginUrl !== undefined ? { loginUrl: error.loginUrl } : {}), ...(error.scope !== undefined ? { scope: error.scope } : {}) }
    return json(error.status, { error: error.code.replace('codegrant/', ''), code: error.code, message: error.message, ...next }, headers)
  }
  const retry = appPath(config, config.routes.login)
  // a plain object: the app sees no cause, no headers
  return errorPage(config, { status: error.status, code: error.code, message: error.message }, () => html(
    error.status,
    error.status >= 500 ? 'Sign-in is unavailable' : 'Sign-in failed',
    [`<p>${escapeHtml(error.message)}</p>`, `<p><a href="${escapeHtml(retry)}">Sign in again</a></p>`, `<p><small>${escapeHtml(error.code)}</small></p>`],
    headers,
  ), headers)
}

/**
 * The guard's 403 (a signed-in user lacking a scope or claim): `{"error":"forbidden"}` for API
 * clients (DESIGN), a page for a browser's navigation.
 */
export function forbidden(config: OAuthConfig, request: CoreRequest): CoreResponse {
  if (!wantsHtml(request)) return json(403, { error: 'forbidden' })
  const info = { status: 403, code: 'codegrant/forbidden', message: 'You are signed in, but your account does not have the access this page requires.' }
  return errorPage(config, info, () => html(403, 'Access denied', [`<p>${escapeHtml(info.message)}</p>`, `<p><small>${info.code}</small></p>`]))
}

/** A request body: Node.js's readable (an IncomingMessage), or any async iterable of chunks. */
export type BodyStream = AsyncIterable<Uint8Array | string> & Partial<Pick<NodeJS.ReadableStream, 'on' | 'off' | 'resume'>>

/**
 * Reads a request body (form_post callback, logout POST) with a size limit. Past the limit the
 * rest is discarded, not the stream destroyed: destroying a request destroys its socket, which
 * resets the answer and the next request on that keep-alive connection.
 */
export function readBody(stream: BodyStream, limit = 64 * 1024): Promise<string> {
  const tooLarge = () => new CodegrantError('codegrant/body_too_large', `the request body exceeds ${limit} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  const add = (chunk: Uint8Array | string): boolean => {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    size += buffer.byteLength
    chunks.push(buffer)
    return size <= limit
  }
  const { on, off, resume } = stream
  if (!on || !off || !resume) {
    return (async () => {
      for await (const chunk of stream) if (!add(chunk)) throw tooLarge()
      return Buffer.concat(chunks).toString('utf8')
    })()
  }
  return new Promise((resolve, reject) => {
    const onData = (chunk: Uint8Array | string) => {
      if (add(chunk)) return
      off.call(stream, 'data', onData)
      off.call(stream, 'end', onEnd)
      resume.call(stream) // keeps flowing with no listener: the rest is dropped
      reject(tooLarge())
    }
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'))
    on.call(stream, 'data', onData)
    on.call(stream, 'end', onEnd)
    on.call(stream, 'error', reject)
  })
}

/** URLSearchParams from a form body however it arrived; undefined for shapes no form can have. */
export function formParams(body: CoreRequest['body']): URLSearchParams | undefined {
  if (body === undefined) return new URLSearchParams()
  if (typeof body === 'string') return new URLSearchParams(body)
  if (body instanceof URLSearchParams) return body
  // a JSON `null` body (Fastify parses application/json) is no form
  if (body === null || typeof body !== 'object') return undefined
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(body)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item !== 'string') return undefined
      params.append(key, item)
    }
  }
  return params
}

export function methodNotAllowed(allow: string): CoreResponse {
  return { status: 405, headers: { allow, 'content-type': 'application/json; charset=utf-8' }, cookies: [], body: JSON.stringify({ error: 'method_not_allowed' }) }
}

/** The request's query parameters (`request.url` is a path and query: the base only completes it). */
export function queryOf(request: CoreRequest): URLSearchParams {
  return new URL(request.url, 'http://local.invalid').searchParams
}
