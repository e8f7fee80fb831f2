import { memberOf } from './json.js'

/**
 * Every code a {@link CodegrantError} carries, with the HTTP status an adapter answers it with
 * (the member's type) and when it happens (its doc comment). The package READMEs' error tables
 * are generated from this interface (`pnpm docs:gen`).
 */
export interface CodegrantErrorCodes {
  /**
   * At start-up (`oauth()`, `createCodegrant()`, `codegrant doctor`): the configuration is
   * invalid; the message lists every problem.
   */
  'codegrant/config_invalid': 500
  /**
   * The callback came without its sign-in cookie: the browser is on another host than
   * `OAUTH_BASE_URL`, cookies are blocked, or the sign-in took more than 10 minutes.
   */
  'codegrant/transaction_missing': 400
  /**
   * The sign-in cookie cannot be opened: `OAUTH_COOKIE_SECRET` changed since the sign-in started,
   * or differs between instances.
   */
  'codegrant/transaction_invalid': 400
  /**
   * The response's `state` is not the sign-in's: an old or replayed response, or two sign-ins in
   * one tab.
   */
  'codegrant/state_mismatch': 400
  /**
   * The provider answered the sign-in with an error (`access_denied`, `login_required`, …; its
   * `error` is in the message).
   */
  'codegrant/authorization_error': 400
  /**
   * The callback is malformed or not from the provider: no or several `state`, no code, a wrong
   * `iss`, a JWT-secured response (JARM) missing or failing a check (signature, algorithm, `iss`,
   * `aud`, `exp`), or a response already being completed elsewhere.
   */
  'codegrant/invalid_callback': 400
  /**
   * The provider refused the authorization code: expired, used twice (a reload of the callback),
   * or the redirect URI differs from the registered one.
   */
  'codegrant/invalid_grant': 400
  /**
   * The ID token failed a check: signature, algorithm, `aud`, `nonce`, times
   * (`OAUTH_CLOCK_TOLERANCE`), tenant, or `auth_time` for a step-up.
   */
  'codegrant/id_token_invalid': 400
  /**
   * The userinfo endpoint (or a preset's user API) answered an error, no JSON object, no `sub`, or
   * another user's `sub`.
   */
  'codegrant/userinfo_invalid': 502
  /**
   * The provider failed or refused a call: unreachable, `invalid_client` (the message names the
   * client settings), an unexpected or too large answer, a Bearer token where DPoP was required.
   */
  'codegrant/provider_error': 502
  /** The provider did not answer within `OAUTH_HTTP_TIMEOUT`. */
  'codegrant/provider_timeout': 504
  /**
   * The provider's metadata or signing keys could not be loaded, or an endpoint it needs is
   * missing or not https.
   */
  'codegrant/provider_unavailable': 503
  /**
   * The provider refused the refresh token or returned another user, or the session was ended
   * elsewhere: the session is cleared, sign in again.
   */
  'codegrant/session_ended': 401
  /** The access token expired and the provider gave no refresh token (the session is kept). */
  'codegrant/token_expired': 401
  /**
   * `accessToken()`, `fetch()`, `refresh()` or `userinfo()` while signed out; the guard answers
   * API clients `{"error":"unauthenticated"}`.
   */
  'codegrant/unauthenticated': 401
  /**
   * `requireAuth()` refused a signed-in user: a required scope or claim is missing
   * (`{"error":"forbidden"}`).
   */
  'codegrant/forbidden': 403
  /**
   * A step-up (`requireAuth({ maxAge, acr })`) could not be met: another user signed in, or the
   * provider gave no fresh `auth_time` or not the `acr`.
   */
  'codegrant/step_up_failed': 403
  /** A POST to the logout route from another site. */
  'codegrant/cross_site_request': 403
  /** A form POST to codegrant's routes over 64 KiB. */
  'codegrant/body_too_large': 413
  /**
   * The login route was opened on another origin than `OAUTH_BASE_URL` (e.g. `127.0.0.1` for
   * `localhost`); the answer links to the configured address.
   */
  'codegrant/base_url_mismatch': 400
  /**
   * The provider's discovery document names another issuer than `OAUTH_ISSUER` (the log says what
   * to set).
   */
  'codegrant/issuer_mismatch': 502
  /**
   * The session store (Redis) failed or timed out, or its circuit breaker is open: `Retry-After`,
   * the session cookie is kept.
   */
  'codegrant/store_unavailable': 503
  /**
   * `oauth.fetch` was asked to send the access token to an origin that is neither the provider's
   * nor in `OAUTH_API_ORIGINS`, or `fetch(api, path)` to a path that leaves the API's base URL:
   * the app's own mistake, hence a 500.
   */
  'codegrant/origin_not_allowed': 500
  /**
   * A cookie session would pass 13 KB sealed: request fewer scopes or claims, or use a server-side
   * store.
   */
  'codegrant/session_too_large': 502
  /** The `onLogin` hook returned `false`. */
  'codegrant/login_denied': 403
  /**
   * The `onLogin` hook threw (anything but a `CodegrantError`) or returned a user without a string
   * `sub`.
   */
  'codegrant/login_hook_failed': 500
  /**
   * With several providers: a response came to another provider's callback than the one its login
   * went to, or an API of `OAUTH_APIS` takes another provider's tokens than the session's
   * (`OAUTH_<API>_PROVIDER`).
   */
  'codegrant/provider_mismatch': 400
  /**
   * A back-channel logout token failed a check: the provider is answered 400 `invalid_request`
   * (Back-Channel Logout 1.0 §2.8).
   */
  'codegrant/logout_token_invalid': 400
  /**
   * An API of `OAUTH_APIS` answered 401 naming its protected resource metadata (RFC 9728), which
   * was refused: on another origin, for another resource, or naming no authorization server the
   * session's provider is (codegrant never signs in at an unknown one).
   */
  'codegrant/resource_metadata_invalid': 502
  /**
   * A third-party-initiated login (`/auth/login?iss=…`, OpenID Connect Core §4) named an issuer of
   * no provider of the app: nothing started, no redirect.
   */
  'codegrant/unknown_issuer': 400
  /**
   * `oauth.fetch` to an API that answered `insufficient_scope` (RFC 6750 §3.1): the error's `scope`
   * is what it asked for, its `loginUrl` a login that asks for it and comes back to the page
   * (absent when the app configures no such scope, or this session's login already asked for it).
   */
  'codegrant/insufficient_scope': 403
  /**
   * `oauth.fetch` to an API that answered `insufficient_user_authentication` (RFC 9470): its
   * `loginUrl` is a step-up login with the API's `max_age` / `acr_values` that comes back to the
   * page (absent when the session already meets them: the API's answer stands).
   */
  'codegrant/step_up_required': 401
}

/**
 * Every failure codegrant reports is a {@link CodegrantError} with a stable `code`, one of
 * {@link CodegrantErrorCodes}. Assert on `code`, never on the message text: messages are for people.
 */
export type CodegrantErrorCode = keyof CodegrantErrorCodes

/** The HTTP status of each code, at run time: held to {@link CodegrantErrorCodes} by its type. */
const STATUS: CodegrantErrorCodes = {
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
  'codegrant/origin_not_allowed': 500,
  'codegrant/session_too_large': 502,
  'codegrant/login_denied': 403,
  'codegrant/login_hook_failed': 500,
  'codegrant/provider_mismatch': 400,
  'codegrant/logout_token_invalid': 400,
  'codegrant/resource_metadata_invalid': 502,
  'codegrant/unknown_issuer': 400,
  'codegrant/insufficient_scope': 403,
  'codegrant/step_up_required': 401,
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
   * `codegrant/insufficient_scope`, `codegrant/step_up_required`: the app's login URL (a path
   * under `OAUTH_BASE_URL`) that would satisfy the API, coming back to the page; send a browser there.
   */
  readonly loginUrl: string | undefined
  /** `codegrant/insufficient_scope`: the scope the API asked for (space-separated). */
  readonly scope: string | undefined

  /**
   * @param options.cause kept for diagnosis, but only as a copy that cannot leak: names, codes,
   *   statuses and messages (token-like strings redacted) along the cause chain; never the
   *   response bodies, claims or requests that library errors carry.
   */
  constructor(code: CodegrantErrorCode, message: string, options?: { cause?: unknown; loginUrl?: string | undefined; scope?: string | undefined }) {
    const cause = options?.cause === undefined ? undefined : safeCause(options.cause, 0)
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    this.status = this.statusCode = STATUS[code]
    this.headers = this.status === 503 ? { 'retry-after': '5' } : undefined
    this.loginUrl = options?.loginUrl
    this.scope = options?.scope
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
