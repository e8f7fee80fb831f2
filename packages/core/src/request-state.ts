import type { TokenSet, UserClaims } from './session/store.js'

/**
 * What every adapter puts on the request (`req.oauth`, `ctx.state.oauth`, `request.oauth`).
 * The session is decrypted on first use, not before.
 */
export interface OAuthRequestState {
  /** True when the request carries a live session. */
  readonly isAuthenticated: boolean
  /** ID token claims (merged with userinfo when configured); undefined when signed out. */
  readonly user: Readonly<UserClaims> | undefined
  /** The session's tokens; undefined when signed out. */
  readonly tokens: Readonly<TokenSet> | undefined
  /**
   * A valid access token, refreshed first when less than `OAUTH_REFRESH_SKEW` seconds remain.
   * Concurrent calls for one session share one refresh.
   *
   * @throws CodegrantError `codegrant/unauthenticated` when signed out;
   *   `codegrant/session_ended` when the provider ended the session (it is cleared);
   *   `codegrant/token_expired` when the token expired and there is no refresh token (the
   *   session is kept: only a new login gives a new token);
   *   `codegrant/provider_error` / `codegrant/provider_timeout` on transient failures (the session is kept).
   */
  accessToken(): Promise<string>
  /**
   * `fetch` to a protected resource with the access token in the `Authorization` header,
   * refreshing and retrying once when the resource answers 401.
   */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>
}

