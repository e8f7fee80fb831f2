import type { OAuthConfig } from './config.js'
import { appPath, json, redirect, wantsHtml, type CoreRequest, type CoreResponse } from './http.js'
import { userClaims } from './session/claims.js'
import type { SessionData, UserClaims } from './session/store.js'

/** Options of `requireAuth()`, the same in every adapter. */
export interface RequireAuthOptions {
  /** Scopes the access token must have been granted, all of them. */
  scopes?: readonly string[]
  /**
   * Claims the user must have: a predicate, or required values. For an array claim (such as
   * `groups`) the value must be among its items; `{ groups: 'admin' }`.
   */
  claims?: ((user: Readonly<UserClaims>) => boolean) | Readonly<Record<string, unknown>>
}

/**
 * The guard's decision, undefined to let the request through. Unauthenticated browsers (GET
 * with `Accept: text/html`) are sent to login with `returnTo`; anything else gets 401 JSON.
 * Lacking scopes or claims: 403 JSON.
 */
export function decide(
  config: OAuthConfig,
  request: CoreRequest,
  session: SessionData | undefined,
  options: RequireAuthOptions,
): CoreResponse | undefined {
  if (!session) {
    if (wantsHtml(request)) {
      return redirect(`${appPath(config, config.routes.login)}?${new URLSearchParams({ returnTo: request.url })}`)
    }
    return json(401, { error: 'unauthenticated' }, { 'www-authenticate': `Bearer realm="${config.baseUrl.origin}"` })
  }
  if (options.scopes?.length) {
    const granted = new Set(session.tokens.scope.split(' '))
    if (!options.scopes.every((s) => granted.has(s))) return json(403, { error: 'forbidden' })
  }
  // the user's claims are decoded only when a claim is required
  if (options.claims && !claimsMatch(userClaims(session), options.claims)) return json(403, { error: 'forbidden' })
  return undefined
}

function claimsMatch(user: Readonly<UserClaims>, required: NonNullable<RequireAuthOptions['claims']>): boolean {
  if (typeof required === 'function') {
    try {
      return required(user) === true
    } catch {
      return false
    }
  }
  return Object.entries(required).every(([name, wanted]) => {
    const actual = user[name]
    const wants = Array.isArray(wanted) ? wanted : [wanted]
    return Array.isArray(actual) ? wants.every((w) => actual.includes(w)) : wants.length === 1 && actual === wants[0]
  })
}

