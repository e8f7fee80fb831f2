/**
 * The functions an app passes in its options: `onLogin` and `errorPage`, with what they are
 * given and may answer. Types only; flow/on-login.ts runs the one, http.ts the other.
 */
import type { MaybePromise, TokenSet, UserClaims } from '../session-types.js'

/** What the app's `onLogin` hook is told about a login that passed every check. */
export interface LoginEvent {
  /** The user's claims, as they would be stored. */
  user: Readonly<UserClaims>
  tokens: Readonly<TokenSet>
  /** The provider the login came from: its name (`default` in an app with one provider) and issuer. */
  provider: { name: string; issuer: string }
}

/**
 * What `onLogin` may answer: nothing (the login goes on as is), `false` (refused: 403
 * `codegrant/login_denied`), or the `user` to store instead (e.g. with mapped roles, a local
 * account id as `sub`) and/or `data` to keep in the session (`req.oauth.data`). Both are stored
 * in the session, in the cookie with the default store: keep them small. The `user` is the
 * app's to shape: codegrant keeps the provider's identity of the user apart (back-channel
 * logout, step-up, refresh and userinfo read that), and a refresh leaves this `user` as it is.
 */
export type LoginHookResult = void | undefined | false | { user?: UserClaims; data?: Record<string, unknown> }

export type LoginHook = (event: LoginEvent) => MaybePromise<LoginHookResult>

/** What an app's error page shows: `message` is plain text (escape it); never a secret or a token. */
export interface ErrorPageInfo {
  readonly status: number
  readonly code: string
  readonly message: string
}

/** The app's error page renderer (`errorPage` option): an HTML document, or undefined for codegrant's own. */
export type ErrorPage = (error: ErrorPageInfo) => string | undefined
