import * as oauth from 'oauth4webapi'
import type { ProviderSettings } from '../config/resolved.js'
import { isLoopback } from '../config/checks.js'
import { providerRefusal, underlyingCause } from '../diagnostics.js'
import { CodegrantError, redactSecrets } from '../errors.js'

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
 * Options for every oauth4webapi call: a fresh timeout per request, a response-size cap, and
 * plain http only when every configured provider URL is on loopback (the dev provider).
 */
export function fetchOptions(provider: ProviderSettings, timeout: number): FetchOptions {
  const urls = [provider.issuer, ...Object.values(provider.endpoints)].filter((url): url is string => url !== undefined)
  const loopbackHttp = urls.some((url) => url.startsWith('http:')) && urls.every((url) => isLoopback(new URL(url)))
  return {
    signal: () => AbortSignal.timeout(timeout),
    [oauth.customFetch]: cappedFetch,
    ...(loopbackHttp ? { [oauth.allowInsecureRequests]: true } : {}),
  }
}

async function cappedFetch(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init)
  const declared = Number(response.headers.get('content-length'))
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel()
    throw new ResponseTooLarge()
  }
  if (response.body === null || response.status === 204 || response.status === 304) return response
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > MAX_RESPONSE_BYTES) throw new ResponseTooLarge()
    chunks.push(chunk)
  }
  return new Response(Buffer.concat(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  })
}

class ResponseTooLarge extends Error {
  constructor() {
    super(`the provider's response exceeded ${MAX_RESPONSE_BYTES} bytes`)
  }
}

function isTimeout(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause.name === 'TimeoutError' || cause.name === 'AbortError') return true
  }
  return false
}

/** Transport failures: the provider could not be reached, or answered too slowly or too much. */
export function transportError(error: unknown, what: string): CodegrantError | undefined {
  if (isTimeout(error)) {
    return new CodegrantError('codegrant/provider_timeout', `the provider did not answer the ${what} in time (OAUTH_HTTP_TIMEOUT)`, { cause: error })
  }
  if (error instanceof ResponseTooLarge) {
    return new CodegrantError('codegrant/provider_error', `the provider's ${what} response was too large`, { cause: error })
  }
  if (error instanceof TypeError && !('code' in error && typeof error.code === 'string' && error.code.startsWith('ERR_'))) {
    // fetch() rejects with a TypeError when the connection fails (refused, reset, DNS, TLS)
    const cause = underlyingCause(error)
    return new CodegrantError('codegrant/provider_error', `the provider could not be reached for the ${what}${cause ? ` (${cause})` : ''}`, { cause: error })
  }
  return undefined
}

/** A short, secret-free description of an error for logs: token-like strings are redacted. */
export function describe(error: unknown): string {
  const refusal = providerRefusal(error)
  if (refusal && (error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError)) return redactSecrets(`${refusal.text} (HTTP ${error.status})`)
  if (error instanceof Error) {
    const code = 'code' in error && typeof error.code === 'string' ? `${error.code}: ` : ''
    // a message that already names its cause (transportError's do) does not name it twice
    const cause = underlyingCause(error)
    return redactSecrets(`${code}${error.message}${cause && !error.message.includes(cause) ? ` (${cause})` : ''}`).slice(0, 500)
  }
  return redactSecrets(String(error)).slice(0, 500)
}
