import { isCodegrantError } from '@codegrant/core'

/**
 * What an example answers for an error that reached its error handler, never a stack trace:
 * a CodegrantError's own status and message (e.g. 401 session_ended, 504 provider_timeout), a framework's
 * 4xx as it is, anything else 500 (and `unexpected` is true: log it).
 */
export function errorAnswer(error: unknown): { status: number; body: Record<string, string>; unexpected: boolean } {
  // the message is codegrant's own, scrubbed of tokens and secrets: the same JSON as its routes answer
  if (isCodegrantError(error)) return { status: error.status, body: { error: error.code.replace('codegrant/', ''), code: error.code, message: error.message }, unexpected: false }
  const { status, statusCode } = (error ?? {}) as { status?: unknown; statusCode?: unknown }
  const given = typeof status === 'number' ? status : statusCode
  if (typeof given === 'number' && given >= 400 && given < 500) return { status: given, body: { error: 'bad_request' }, unexpected: false }
  return { status: 500, body: { error: 'internal_error' }, unexpected: true }
}
