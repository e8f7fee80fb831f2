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
  | 'codegrant/cross_site_request'
  | 'codegrant/body_too_large'
  | 'codegrant/base_url_mismatch'
  | 'codegrant/issuer_mismatch'

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
  'codegrant/cross_site_request': 403,
  'codegrant/body_too_large': 413,
  'codegrant/base_url_mismatch': 400,
  'codegrant/issuer_mismatch': 502,
}

export class CodegrantError extends Error {
  override name = 'CodegrantError'
  readonly code: CodegrantErrorCode
  /** Same as `statusCode`; both are set so every framework's error handler finds one. */
  readonly status: number
  readonly statusCode: number
  /** Messages never carry secrets, so frameworks (Koa) may show them. */
  readonly expose = true

  constructor(code: CodegrantErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.status = this.statusCode = STATUS[code]
  }
}

export function isCodegrantError(error: unknown, code?: CodegrantErrorCode): error is CodegrantError {
  return error instanceof CodegrantError && (code === undefined || error.code === code)
}
