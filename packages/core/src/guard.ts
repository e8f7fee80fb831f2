/**
 * The guard (`requireAuth()` in every adapter): whether a request may go on, and the response
 * when it may not. `guard` reads the request's session (refreshing it when due); `decide` is the
 * decision on plain data.
 */
import type { OAuthConfig } from './config/resolved.js'
import { now } from './clock.js'
import { cookiesOf, sessionOf, type Context } from './context.js'
import { notMounted } from './diagnostics.js'
import { isCodegrantError } from './errors.js'
import { unexpected } from './failures.js'
import type { AuthorizationParams } from './config/authorization-params.js'
import { beginLogin } from './routes/login.js'
import { refreshDue } from './flow/refresh.js'
import { silentAttemptCookie, silentAttempted } from './flow/silent-login.js'
import { meetsRequirement, requirementOf, stepUpChallenge, stepUpOf, stepUpParams, type AuthenticationRequirement } from './flow/step-up.js'
import type { StepUp } from './flow/transaction.js'
import { appPath, errorResponse, forbidden, json, redirect, wantsHtml, type CoreRequest, type CoreResponse } from './http.js'
import { contextOf, refreshSession, type OAuthRequestState } from './request-state.js'
import type { RequestCookies } from './session/cookie-jar.js'
import { userClaims } from './session/claims.js'
import { identityOf } from './session/identity.js'
import type { MaybePromise, SessionData, UserClaims } from './session/store.js'

/** Options of `requireAuth()`, the same in every adapter. */
export interface RequireAuthOptions {
  /** Scopes the access token must have been granted, all of them. */
  scopes?: readonly string[]
  /**
   * Claims the user must have: a predicate, or required values. For an array claim (such as
   * `groups`) the value must be among its items; `{ groups: 'admin' }`.
   */
  claims?: ((user: Readonly<UserClaims>) => boolean) | Readonly<Record<string, unknown>>
  /**
   * Step-up (RFC 9470): the user must have authenticated at the provider at most this many
   * seconds ago (the ID token's `auth_time`). Browsers go through login again with `max_age`;
   * API clients get 401 `insufficient_user_authentication`.
   */
  maxAge?: number
  /** Step-up (RFC 9470): the ID token's `acr` must be this value (or one of these). */
  acr?: string | readonly string[]
  /** Try `prompt=none` before the login page (default: the `silentLogin` setting). */
  silentLogin?: boolean
}

/**
 * Checks a guard's options when the guard is made, so that a mistake (`maxAge: '5m'`, an `acr`
 * with a space, `scopes: 'read'`) stops the app at start-up instead of failing its first request.
 *
 * @throws {TypeError} naming the option.
 */
export function guardOptions<T extends RequireAuthOptions | undefined>(options: T): T {
  if (options === undefined) return options
  const { scopes, claims, silentLogin } = options
  if (scopes !== undefined && !(Array.isArray(scopes) && scopes.every((scope) => typeof scope === 'string'))) throw new TypeError('codegrant: requireAuth({ scopes }) must be an array of scope names')
  if (claims !== undefined && typeof claims !== 'function' && (typeof claims !== 'object' || claims === null)) throw new TypeError('codegrant: requireAuth({ claims }) must be an object of required values or a predicate')
  if (silentLogin !== undefined && typeof silentLogin !== 'boolean') throw new TypeError('codegrant: requireAuth({ silentLogin }) must be true or false')
  requirementOf(options)
  return options
}

const NO_REQUIREMENTS: RequireAuthOptions = Object.freeze({})

/**
 * The guard: undefined lets the request through; otherwise the response to send (302 to login,
 * 401, 403, or 502/504 when a due refresh cannot be done). Refreshes first when the access
 * token is due, so guarded handlers see fresh tokens. `request` defaults to the one the state
 * was attached with. When the session store could not be read for this request: 503 with
 * Retry-After (never 401 or a login: the user's session may well exist). Without a state
 * (`oauth()` did not see the request): 500, and a log line that says to mount it first.
 */
export function guard(state: OAuthRequestState | undefined, request?: CoreRequest, options: RequireAuthOptions = NO_REQUIREMENTS): MaybePromise<CoreResponse | undefined> {
  const context = contextOf(state)
  if (!context) return notMounted(request)
  const { config } = context.engine
  if (context.unavailable) return errorResponse(config, request ?? context.request, context.unavailable)
  // one clock reading for the whole decision
  const at = now()
  const session = sessionOf(context, at)
  const asked = request ?? context.request
  // a Shared Signals event asked for a fresh sign-in (credential or assurance change)
  if (session && context.signal === 'reauthenticate') return settle(context, reauthentication(asked, session))
  // ... or for the claims refreshed (token-claims-change): as when the token is due
  if (session && session.tokens.refreshToken && (refreshDue(config, session, at) || context.signal === 'refresh')) {
    return refreshSession(context, session).then(
      (fresh) => settle(context, decide(config, asked, fresh, options, cookiesOf(context), now())),
      (error: unknown) =>
        isCodegrantError(error, 'codegrant/session_ended')
          ? settle(context, decide(config, asked, undefined, options, cookiesOf(context), now()))
          : errorResponse(config, asked, isCodegrantError(error) ? error : unexpected(config, error)),
    )
  }
  return settle(context, decide(config, asked, session, options, cookiesOf(context), at))
}

/** A fresh sign-in, whatever the guard's own requirement: `max_age=0` (the provider authenticates the user again). */
const FRESH_SIGN_IN: AuthenticationRequirement = Object.freeze({ maxAge: 0 })

/**
 * The guard's answer to a session whose user must sign in again (a Shared Signals
 * `credential-change` or `assurance-level-change`): step-up's, as for a `maxAge` the session does
 * not meet (a browser goes through login with `max_age=0`; an API client gets the RFC 9470 challenge).
 */
function reauthentication(request: CoreRequest, session: SessionData): CoreResponse | GuardLogin {
  if (!wantsHtml(request)) return stepUpChallenge(FRESH_SIGN_IN)
  return { login: true, returnTo: request.url, params: stepUpParams(FRESH_SIGN_IN), stepUp: stepUpOf(FRESH_SIGN_IN, identityOf(session)?.sub), cookies: [] }
}

/** A guard decision as a response: a login the guard asked for (step-up, silent) is started here. */
function settle(context: Context, decision: CoreResponse | GuardLogin | undefined): MaybePromise<CoreResponse | undefined> {
  if (!isGuardLogin(decision)) return decision
  const { config, providers } = context.engine
  // the session's provider (step-up), else the default; with neither, the user chooses first
  const runtime = providers.preferred(sessionOf(context))
  if (!runtime) return redirect(`${appPath(config, config.routes.login)}?${new URLSearchParams({ returnTo: decision.returnTo })}`)
  return beginLogin(context, runtime, decision.returnTo, decision.params, { ...(decision.stepUp ? { stepUp: decision.stepUp } : {}), ...(decision.silent ? { silent: true } : {}) }).then(
    (response) => ({ ...response, cookies: [...response.cookies, ...decision.cookies] }),
    (error: unknown) => errorResponse(config, context.request, isCodegrantError(error) ? error : unexpected(config, error)),
  )
}

/** The guard decided to start a login itself (step-up, silent login): what to ask for. */
export interface GuardLogin {
  readonly login: true
  returnTo: string
  params: AuthorizationParams
  stepUp?: StepUp
  silent?: boolean
  /** Set with the redirect (the silent attempt's marker). */
  cookies: string[]
}

function isGuardLogin(decision: CoreResponse | GuardLogin | undefined): decision is GuardLogin {
  return decision !== undefined && 'login' in decision
}

/**
 * The guard's decision, undefined to let the request through. Unauthenticated browsers (GET
 * with `Accept: text/html`) are sent to login with `returnTo`; anything else gets 401 JSON.
 * A browser whose session does not meet `maxAge`/`acr`, or one due for a silent attempt, gets
 * a login started by the guard ({@link GuardLogin}); an API client a 401 challenge.
 * Lacking scopes or claims: 403, JSON or (for a browser) a page.
 */
export function decide(
  config: OAuthConfig,
  request: CoreRequest,
  session: SessionData | undefined,
  options: RequireAuthOptions,
  cookies: RequestCookies = {},
  at = now(),
): CoreResponse | GuardLogin | undefined {
  const requirement = options.maxAge === undefined && options.acr === undefined ? undefined : requirementOf(options)
  if (!session) {
    if (wantsHtml(request)) {
      // a requirement is asked for in the first login already: one trip, not two
      if (requirement) return { login: true, returnTo: request.url, params: stepUpParams(requirement), stepUp: stepUpOf(requirement, undefined), cookies: [] }
      if ((options.silentLogin ?? config.silentLogin) && !silentAttempted(config, cookies)) {
        return { login: true, returnTo: request.url, params: { prompt: ['none'] }, silent: true, cookies: [silentAttemptCookie(config)] }
      }
      return redirect(`${appPath(config, config.routes.login)}?${new URLSearchParams({ returnTo: request.url })}`)
    }
    return json(401, { error: 'unauthenticated' }, { 'www-authenticate': `Bearer realm="${config.baseUrl.origin}"` })
  }
  if (requirement) {
    // the provider's identity, never the app's user: a hook that drops auth_time must not loop
    const identity = identityOf(session)
    if (!identity || !meetsRequirement(identity, requirement, at, config.clockTolerance)) {
      if (!wantsHtml(request)) return stepUpChallenge(requirement)
      return { login: true, returnTo: request.url, params: stepUpParams(requirement), stepUp: stepUpOf(requirement, identity?.sub), cookies: [] }
    }
  }
  if (options.scopes?.length) {
    const granted = new Set(session.tokens.scope.split(' '))
    if (!options.scopes.every((s) => granted.has(s))) return forbidden(config, request)
  }
  // the user's claims are decoded only when a claim is required
  if (options.claims && !claimsMatch(userClaims(session, config.keepProtocolClaims), options.claims)) return forbidden(config, request)
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

