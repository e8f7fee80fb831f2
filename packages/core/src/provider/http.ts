import * as oauth from 'oauth4webapi'
import type { ProviderSettings } from '../config/resolved.js'
import { isLoopback } from '../config/checks.js'
import { ResponseTooLarge } from '../failures.js'
import { withTraceContext } from '../telemetry.js'
import { transportOf, type Transport } from './mtls.js'

/** Responses from the provider larger than this are refused (oauth4webapi reads bodies whole). */
export const MAX_RESPONSE_BYTES = 1024 * 1024

export type FetchOptions = {
  signal: () => AbortSignal
  [oauth.customFetch]: (url: string, init: RequestInit) => Promise<Response>
  [oauth.allowInsecureRequests]?: boolean
  /** With a multi-tenant issuer: the provider's keys, read back to check each key's own issuer. */
  [oauth.jwksCache]?: oauth.JWKSCacheInput
}

/**
 * Options for every oauth4webapi call: a fresh timeout per request, a response-size cap, the
 * client certificate when one is configured, and plain http only when every configured provider
 * URL is on loopback (the dev provider).
 */
export function fetchOptions(provider: ProviderSettings, timeout: number): FetchOptions {
  const urls = [provider.issuer, ...Object.values(provider.endpoints)].filter((url): url is string => url !== undefined)
  const loopbackHttp = urls.some((url) => url.startsWith('http:')) && urls.every((url) => isLoopback(new URL(url)))
  return {
    signal: () => AbortSignal.timeout(timeout),
    [oauth.customFetch]: cappedFetch(transportOf(provider)),
    ...(loopbackHttp ? { [oauth.allowInsecureRequests]: true } : {}),
  }
}

/** Every call to the provider: the trace context goes along (`traceparent`), the answer is capped. */
function cappedFetch(transport: Transport): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => readCapped(await transport(url, withTraceContext(init)))
}

async function readCapped(response: Response): Promise<Response> {
  const declared = Number(response.headers.get('content-length'))
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel()
    throw new ResponseTooLarge(MAX_RESPONSE_BYTES)
  }
  if (response.body === null || response.status === 204 || response.status === 304) return response
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > MAX_RESPONSE_BYTES) throw new ResponseTooLarge(MAX_RESPONSE_BYTES)
    chunks.push(chunk)
  }
  return new Response(Buffer.concat(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  })
}
