import { memberOf } from './json.js'

/**
 * Every failure codegrant reports is a {@link CodegrantError} with a stable `code`.
 * Assert on `code`, never on the message text: messages are for people.
 */
export type CodegrantErrorCode =
  | 'codegrant/config_invalid'
  | 'codegrant/transaction_missing'
  | 'codegrant/transaction_invalid'
  | 'codegrant/state_mismatch'
  | 'codegrant/authorization_error'
  | 'codegrant/invalid_callback'
  | 'codegrant/invalid_grant'
  | 'codegrant/id_token_invalid'
  | 'codegrant/userinfo_invalid'
  | 'codegrant/provider_error'
  | 'codegrant/provider_timeout'
  | 'codegrant/provider_unavailable'
  | 'codegrant/session_ended'
  | 'codegrant/token_expired'
  | 'codegrant/unauthenticated'
  | 'codegrant/forbidden'
  | 'codegrant/step_up_failed'
  | 'codegrant/cross_site_request'
  | 'codegrant/body_too_large'
  | 'codegrant/base_url_mismatch'
  | 'codegrant/issuer_mismatch'
  | 'codegrant/store_unavailable'
  | 'codegrant/origin_not_allowed'
  | 'codegrant/session_too_large'
  | 'codegrant/login_denied'
  | 'codegrant/login_hook_failed'
  | 'codegrant/provider_mismatch'
  | 'codegrant/logout_token_invalid'

/** HTTP status an adapter (or the framework's error handler) should answer with. */
const STATUS: Record<CodegrantErrorCode, number> = {
  'codegrant/config_invalid': 500,
  'codegrant/transaction_missing': 400,
  'codegrant/transaction_invalid': 400,
  'codegrant/state_mismatch': 400,
  'codegrant/authorization_error': 400,
  'codegrant/invalid_callback': 400,
  'codegrant/invalid_grant': 400,
  'codegrant/id_token_invalid': 400,
  'codegrant/userinfo_invalid': 502,
  'codegrant/provider_error': 502,
  'codegrant/provider_timeout': 504,
  'codegrant/provider_unavailable': 503,
  'codegrant/session_ended': 401,
  'codegrant/token_expired': 401,
  'codegrant/unauthenticated': 401,
  'codegrant/forbidden': 403,
  'codegrant/step_up_failed': 403,
  'codegrant/cross_site_request': 403,
  'codegrant/body_too_large': 413,
  'codegrant/base_url_mismatch': 400,
  'codegrant/issuer_mismatch': 502,
  'codegrant/store_unavailable': 503,
  // the app asked to send its user's token somewhere it did not allow: the app's own error
  'codegrant/origin_not_allowed': 500,
  'codegrant/session_too_large': 502,
  'codegrant/login_denied': 403,
  'codegrant/login_hook_failed': 500,
  'codegrant/provider_mismatch': 400,
  // Back-Channel Logout 1.0 §2.8: the provider is answered 400 invalid_request
  'codegrant/logout_token_invalid': 400,
}

export class CodegrantError extends Error {
  override name = 'CodegrantError'
  readonly code: CodegrantErrorCode
  /** Same as `statusCode`; both are set so every framework's error handler finds one. */
  readonly status: number
  readonly statusCode: number
  /** Messages never carry secrets, so frameworks (Koa) may show them. */
  readonly expose = true
  /** Response headers for the framework's error handler: `Retry-After` on a 503. */
  readonly headers: Readonly<Record<string, string>> | undefined

  /**
   * @param options.cause kept for diagnosis, but only as a copy that cannot leak: names, codes,
   *   statuses and messages (token-like strings redacted) along the cause chain; never the
   *   response bodies, claims or requests that library errors carry.
   */
  constructor(code: CodegrantErrorCode, message: string, options?: { cause?: unknown }) {
    const cause = options?.cause === undefined ? undefined : safeCause(options.cause, 0)
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    this.status = this.statusCode = STATUS[code]
    this.headers = this.status === 503 ? { 'retry-after': '5' } : undefined
  }
}

/** A cause recording only the HTTP status an upstream answered with (nothing of its body). */
export function statusCause(status: number): Error {
  return Object.assign(new Error(`HTTP ${status}`), { name: 'HTTPStatus', status })
}

/** Whether `error` is the CodegrantError of an upstream answer with HTTP `status` (its cause's status). */
export function causedByStatus(error: unknown, status: number): boolean {
  return error instanceof CodegrantError && memberOf(error.cause, 'status') === status
}

/** Runs of 32+ base64url characters: how tokens, codes, JWT parts and secrets look. */
const TOKEN_LIKE = /[A-Za-z0-9_-]{32,}/g

/** `text` with every token-like run replaced: for messages and logs that quote a library's words. */
export function redactSecrets(text: string): string {
  return text.replace(TOKEN_LIKE, '[redacted]')
}

/** A copy of an error for `cause`: own name, code, status, OAuth `error` and redacted message only. */
function safeCause(error: unknown, depth: number): Error | undefined {
  if (error instanceof CodegrantError) return error
  if (!(error instanceof Error) || depth > 5) return undefined
  const next = safeCause(error.cause, depth + 1)
  const copy = new Error(redactSecrets(error.message), next === undefined ? undefined : { cause: next })
  copy.name = error.name
  const source = error as Error & { code?: unknown; status?: unknown; error?: unknown }
  const extra = copy as Error & { code?: string; status?: number; error?: string }
  if (typeof source.code === 'string') extra.code = source.code
  if (typeof source.status === 'number') extra.status = source.status
  if (typeof source.error === 'string') extra.error = redactSecrets(source.error)
  copy.stack = `${copy.name}: ${copy.message}${(error.stack ?? '').split('\n').filter((line) => line.startsWith('    at ')).map((line) => `\n${line}`).join('')}`
  return copy
}

export function isCodegrantError(error: unknown, code?: CodegrantErrorCode): error is CodegrantError {
  return error instanceof CodegrantError && (code === undefined || error.code === code)
}
