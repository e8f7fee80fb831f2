/**
 * Failures summarised for people: what went wrong with a call to the provider (transport, the
 * provider's refusal, the underlying cause) as a short line without secrets for the log, and as
 * the `CodegrantError` the user sees. The base layer: it imports nothing of codegrant's but errors.
 */
import * as oauth from 'oauth4webapi'
import { CodegrantError, redactSecrets } from './errors.js'

/** A provider's answer larger than codegrant reads (`provider/http.ts` caps every response). */
export class ResponseTooLarge extends Error {
  constructor(limit: number) {
    super(`the provider's response exceeded ${limit} bytes`)
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

const TRANSPORT_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens at that address)',
  ENOTFOUND: 'unknown host (DNS lookup failed)',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the provider',
}

/**
 * The underlying cause of a failed call to the provider, in words: connection refused, unknown
 * host, TLS, timeout; or the HTTP status of an answer that was not what it should be.
 */
export function underlyingCause(error: unknown): string | undefined {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined
    if (cause.name === 'TimeoutError') return 'no answer in time (OAUTH_HTTP_TIMEOUT)'
    if (cause.message === 'bad port') return 'fetch refuses this port (one of the ports browsers block)'
    if (code && TRANSPORT_CAUSES[code]) return `${TRANSPORT_CAUSES[code]}, ${code}`
    if (code && (/CERT|TLS|SSL/.test(code) || /certificate/i.test(cause.message))) return `TLS error (${code}): the provider's certificate is not trusted; for a private CA set NODE_EXTRA_CA_CERTS (or OAUTH_CLIENT_CERT_CA with a client certificate)`
    if (cause instanceof oauth.OperationProcessingError && cause.cause instanceof Response) return `HTTP ${cause.cause.status}`
  }
  return undefined
}

/**
 * The provider's own words for a refused token request (`error`, `error_description`, also from a
 * `WWW-Authenticate` challenge) and the likely fix; undefined when it said nothing usable.
 */
export function providerRefusal(error: unknown): { code: string; text: string; fix: string } | undefined {
  let code: string | undefined
  let description: string | undefined
  if (error instanceof oauth.ResponseBodyError) {
    code = error.error
    description = error.error_description
  } else if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = error.cause.find((c) => c.parameters.error) ?? error.cause[0]
    code = challenge?.parameters.error ?? (error.status === 401 ? 'invalid_client' : undefined)
    description = challenge?.parameters.error_description ?? (challenge ? `WWW-Authenticate: ${challenge.scheme}` : undefined)
  }
  if (!code) return undefined
  const clean = (text: string, max: number) => text.replace(/[^\x20-\x7e]/g, '').slice(0, max)
  code = clean(code, 64).replace(/[^\w.-]/g, '')
  const text = `${code}${description ? `: ${clean(description, 200)}` : ''}`
  return { code, text, fix: REFUSAL_FIXES[code] ?? '' }
}

const REFUSAL_FIXES: Record<string, string> = {
  invalid_client: ' Check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_CLIENT_AUTH_METHOD against the client registered at the provider.',
  unauthorized_client: ' The client is not allowed this grant at the provider: enable the authorization code (and refresh token) grant for it.',
  invalid_request: ' Check that OAUTH_REDIRECT_URI (or OAUTH_BASE_URL + the callback route) is exactly the redirect URI registered at the provider.',
  invalid_scope: ' Check OAUTH_SCOPE against the scopes the client may request.',
}

/** An error that is not codegrant's own, logged, as the 500-class answer the user sees. */
export function unexpected(config: { readonly logger: { error(line: string): void } }, error: unknown): CodegrantError {
  config.logger.error(`unexpected failure: ${error instanceof Error ? `${error.name}: ` : ''}${describe(error)}`)
  return new CodegrantError('codegrant/provider_error', 'Sign-in failed unexpectedly. Try again.', { cause: error })
}
