/**
 * How a call to a protected resource travels (an API of `OAUTH_APIS`, or any URL `oauth.fetch`
 * is given): the token rules (which token, one refresh and one retry after a 401: request-state.ts)
 * are written once over a {@link Wire}, and each caller picks the wire that suits what it hands on.
 *
 * - {@link fetchWire}: WHATWG `fetch`, for `oauth.fetch`, whose contract is a `Response`.
 * - {@link streamWire}: `undici`'s `Dispatcher.request` with Node streams both ways, for the BFF's
 *   proxy: Node's `fetch` (undici's WHATWG layer: `Request`, `Headers`, web streams and their
 *   conversions to and from Node streams) cost the proxy several hundred µs of CPU per call.
 */
import { Readable } from 'node:stream'
import type { IncomingHttpHeaders } from 'node:http'
import type { ProviderSettings } from '../config/resolved.js'
import type { DpopKey } from '../session/store.js'
import { traceHeaders, withTraceContext } from '../telemetry.js'
import { resourceFetch, type DpopRuntime } from './dpop.js'
import { dispatcherOf, transportOf } from './mtls.js'

/** The session's DPoP key and the runtime that makes its proofs: a DPoP-bound token is sent with a fresh proof. */
export interface DpopProof {
  runtime: DpopRuntime
  key: DpopKey
}

/** Where a call goes and over which connections (the provider's client certificate, when it has one: RFC 8705 §3). */
export type WireSettings = Pick<ProviderSettings, 'clientCertificate'>

/** One way of sending a call with an access token, and what the retry rules read of its answer `A`. */
export interface Wire<A> {
  /** Sends the call once: `Authorization: Bearer …`, or with `dpop` `DPoP …` and a fresh proof (RFC 9449 §7). */
  send(url: string | URL, accessToken: string, dpop: DpopProof | undefined, settings: WireSettings): Promise<A>
  status(answer: A): number
  /** The answer's status and headers as a `Response` (no body), whose challenges are read (RFC 6750 §3). */
  head(answer: A): Response
  /** Lets go of an answer that is not passed on (before a retry), so its connection is freed. */
  discard(answer: A): Promise<void>
}

/** `fetch` with `init` (its own `Authorization` replaced): the answer is the `Response` `oauth.fetch` promises. */
export function fetchWire(init: RequestInit): Wire<Response> {
  return {
    send(url, accessToken, dpop, settings) {
      const transport = transportOf(settings)
      if (dpop) return resourceFetch(dpop, accessToken, url, init, transport)
      const headers = new Headers(init.headers)
      headers.set('authorization', `Bearer ${accessToken}`)
      return transport(url, withTraceContext({ ...init, headers }))
    },
    status: (response) => response.status,
    head: (response) => response,
    discard: async (response) => {
      await response.body?.cancel()
    },
  }
}

/** A request the BFF hands on: the browser's headers it may pass, its body as it arrives (none: nothing to send). */
export interface StreamedRequest {
  method: string
  headers: Record<string, string | string[]>
  body: Readable | undefined
  /** Aborts the call (the proxy's timeout until the API's headers arrive). */
  signal: AbortSignal
}

/** The API's answer with its body as a Node stream, read as it arrives. */
export interface StreamedAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Readable
}

/**
 * `undici`'s `Dispatcher.request` on the provider's dispatcher (a keep-alive pool per API origin;
 * the client certificate's when one is configured): no redirect followed, and a connection that
 * cannot be made or breaks before the answer's headers rejected with a `TypeError` whose cause
 * says why, as `fetch` rejects. A DPoP-bound token goes through {@link resourceFetch} (oauth4webapi
 * makes the proof and answers a nonce challenge; it offers no proof without its `fetch`).
 */
export function streamWire(request: StreamedRequest): Wire<StreamedAnswer> {
  return {
    async send(url, accessToken, dpop, settings) {
      const target = new URL(url)
      if (dpop) return streamedOf(await resourceFetch(dpop, accessToken, target, fetchInit(request), transportOf(settings)))
      const dispatcher = await dispatcherOf(settings)
      try {
        const { statusCode, headers, body } = await dispatcher.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: request.method as never,
          headers: { ...request.headers, ...traceHeaders(), authorization: `Bearer ${accessToken}` },
          body: request.body ?? null,
          signal: request.signal,
        })
        return { status: statusCode, headers, body }
      } catch (error) {
        throw new TypeError(`${target.origin} cannot be reached`, { cause: error })
      }
    },
    status: (answer) => answer.status,
    head: (answer) => new Response(null, { status: answer.status, headers: headersOf(answer.headers) }),
    // destroyed rather than read to its end (a refusal's body may be slow or large); undici's
    // body then emits an abort error, which nobody else listens for
    discard: async (answer) => {
      answer.body.on('error', () => {}).destroy()
    },
  }
}

/** The request as `fetch` takes it, its body converted to a web stream (the DPoP path). */
function fetchInit(request: StreamedRequest): RequestInit & { duplex?: 'half' } {
  return {
    method: request.method,
    headers: headersOf(request.headers),
    redirect: 'manual',
    signal: request.signal,
    ...(request.body ? { body: Readable.toWeb(request.body) as ReadableStream, duplex: 'half' } : {}),
  }
}

/** A `fetch` answer as a streamed one, without the encoding `fetch` decoded. */
function streamedOf(response: Response): StreamedAnswer {
  const headers: IncomingHttpHeaders = {}
  response.headers.forEach((value, name) => {
    if (name !== 'content-encoding' && name !== 'content-length') headers[name] = value
  })
  const setCookie = response.headers.getSetCookie()
  if (setCookie.length > 0) headers['set-cookie'] = setCookie
  const body = response.body ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream) : Readable.from([])
  return { status: response.status, headers, body }
}

/** Node's header record (arrays for repeated headers) as a `Headers`. */
function headersOf(record: IncomingHttpHeaders | Record<string, string | string[]>): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(record)) {
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item)
  }
  return headers
}
