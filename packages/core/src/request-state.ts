import type { LoginOptions } from './config/authorization-params.js'
import type { TokenSet, UserClaims } from './session/store.js'

/** When a session began and when it ends, in seconds since the epoch. */
export interface SessionTimes {
  /** When the user logged in. */
  issuedAt: number
  /** The absolute end (`OAUTH_SESSION_MAX_AGE` after login); no activity extends it. */
  expiresAt: number
  /**
   * The idle end (`OAUTH_SESSION_IDLE_TIMEOUT` after the last renewal). Requests that read the
   * session move it forward, at most every idle timeout / 20. The session ends at the earlier of
   * `expiresAt` and `idleExpiresAt`.
   */
  idleExpiresAt: number
}

/**
 * What every adapter puts on the request (`req.oauth`, `ctx.state.oauth`, `request.oauth`).
 * The session is decrypted on first use, not before.
 *
 * When a server-side session store (Redis) cannot be read for the request, the request still
 * goes on, signed out: `isAuthenticated` is false and `user`, `tokens`, `session`, `provider`
 * and `data` are undefined, so public pages render as for a visitor. What needs the session
 * refuses with `codegrant/store_unavailable` (503 with Retry-After) rather than "signed out":
 * the guard, `accessToken()`, `fetch()`, `refresh()`, `userinfo()` and `login()`. The session
 * cookie is kept, and works again once the store answers.
 */
export interface OAuthRequestState {
  /** True when the request carries a live session. */
  readonly isAuthenticated: boolean
  /**
   * The name of the provider the session came from (`github`, `corp`: the keys of `providers`,
   * or the names in `OAUTH_PROVIDERS`); `default` in an app with one provider; undefined when
   * signed out. Refresh, revocation, logout, step-up and `fetch` go to this provider.
   */
  readonly provider: string | undefined
  /** ID token claims (merged with userinfo when configured); undefined when signed out. */
  readonly user: Readonly<UserClaims> | undefined
  /** The session's tokens; undefined when signed out. */
  readonly tokens: Readonly<TokenSet> | undefined
  /** The session's start and its absolute and idle ends; undefined when signed out. */
  readonly session: Readonly<SessionTimes> | undefined
  /**
   * A valid access token, refreshed first when less than `OAUTH_REFRESH_SKEW` seconds remain.
   * Concurrent calls for one session share one refresh.
   *
   * @throws CodegrantError `codegrant/unauthenticated` when signed out;
   *   `codegrant/store_unavailable` when the session store could not be read (503; the session is kept);
   *   `codegrant/session_ended` when the provider ended the session (it is cleared);
   *   `codegrant/token_expired` when the token expired and there is no refresh token (the
   *   session is kept: only a new login gives a new token);
   *   `codegrant/provider_error` / `codegrant/provider_timeout` on transient failures (the session is kept).
   */
  accessToken(): Promise<string>
  /**
   * `fetch` to a protected resource with the access token in the `Authorization` header,
   * refreshing and retrying once when the resource answers 401.
   *
   * @throws CodegrantError the `accessToken()` errors (`codegrant/store_unavailable` included).
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>
  /**
   * Refreshes the tokens now, however long the access token has left (RFC 6749 §6), and saves
   * them in the session. For an app that knows the token is stale before it expires (the
   * user's permissions changed, a resource refused it) or that shows refresh working. Joins a
   * refresh already in flight for the session rather than starting a second one.
   *
   * @returns the session's new tokens.
   * @throws CodegrantError `codegrant/unauthenticated` when signed out;
   *   `codegrant/store_unavailable` when the session store could not be read (503; the session is kept);
   *   `codegrant/token_expired` when the provider gave no refresh token (the session is kept);
   *   `codegrant/session_ended` when the provider refuses the refresh token (the session is
   *   cleared); `codegrant/provider_error` / `codegrant/provider_timeout` on transient failures.
   * @example
   * app.post('/settings/roles', requireAuth(), async (req, res) => {
   *   await req.oauth.refresh() // the new token carries the new roles
   *   res.redirect('/')
   * })
   */
  refresh(): Promise<Readonly<TokenSet>>
  /**
   * Starts a login from the app's own handler, with parameters for this login only
   * (`loginHint`, `uiLocales`, `prompt`, `maxAge`, `acrValues`, or any other through `params`;
   * the protocol's own are refused). The transaction cookie is set on the response; redirect the
   * browser to the URL returned. With `maxAge`, the ID token's `auth_time` is checked.
   *
   * @returns the authorization endpoint URL (or the PAR `request_uri` URL) to redirect to.
   * @throws TypeError for a protected or malformed parameter; CodegrantError when the provider
   *   cannot be reached (`codegrant/provider_unavailable`, `codegrant/provider_error`, …), or
   *   `codegrant/store_unavailable` when the session store could not be read for this request
   *   (the sign-in could not be stored at its end).
   * @example
   * app.get('/signup', async (req, res) => res.redirect(await req.oauth.login({ prompt: 'create', returnTo: '/welcome' })))
   */
  login(options?: LoginOptions): Promise<string>
  /** What the app's `onLogin` hook kept in the session (`{ data }`); undefined otherwise. */
  readonly data: Readonly<Record<string, unknown>> | undefined
  /**
   * The provider's userinfo for the signed-in user (OpenID Connect Core §5.3), fetched once per
   * request with a valid access token; its `sub` must be the session's. Like `fetch`, a token the
   * provider refuses (401) is refreshed once and the call retried.
   *
   * @throws CodegrantError `codegrant/unauthenticated` when signed out (`codegrant/store_unavailable`
   *   when the session store could not be read); `codegrant/userinfo_invalid`
   *   when the provider's answer is refused; the `accessToken()` errors.
   * @example
   * const { email } = await req.oauth.userinfo()
   */
  userinfo(): Promise<Readonly<UserClaims>>
}
