/**
 * The logout route: CSRF-checked, the local session ended, then the provider's end-session
 * redirect; and the route the provider returns to after it (`/auth/logout/done`).
 */
import * as oauth from 'oauth4webapi'
import { now } from '../clock.js'
import type { OAuthConfig } from '../config/resolved.js'
import { cookiesOf, sessionOf, type Context } from '../context.js'
import { CodegrantError } from '../errors.js'
import { appPath, escapeHtml, header, html, methodNotAllowed, queryOf, redirect, type CoreResponse } from '../http.js'
import { safeReturnTo } from '../return-to.js'
import { finishLogout, sendsLogoutState } from '../flow/logout.js'
import { ATTR, instruments, traced } from '../telemetry.js'

export async function logout(context: Context): Promise<CoreResponse> {
  const { config, backend, providers, logoutStates } = context.engine
  const { request } = context
  if (request.method !== 'GET' && request.method !== 'POST') return methodNotAllowed('GET, POST')
  // RFC 9700 leaves RP logout CSRF open: only a request known to come from this origin (or
  // typed by the user) may log out on GET; anything else is asked to confirm with a POST
  const site = header(request, 'sec-fetch-site')
  const fromHere = site === 'same-origin' || site === 'none'
  if (request.method === 'GET' && !fromHere) return confirmLogout(config)
  // a POST: the browser's fetch metadata decides when it sends it (it is never opaque: a
  // sandboxed frame's request is cross-site); without it, the Origin must be this one or absent
  // (`null`, an opaque origin, is refused). A same-origin page with Referrer-Policy: no-referrer
  // posts `Origin: null` with `Sec-Fetch-Site: same-origin`, so Origin alone cannot decide.
  const origin = header(request, 'origin')
  const foreign = site !== undefined ? !fromHere : origin !== undefined && origin !== config.baseUrl.origin
  if (request.method === 'POST' && foreign) {
    throw new CodegrantError('codegrant/cross_site_request', 'Sign-out requests must come from this site.')
  }
  // the store could not be read: the session cannot be ended there, so the cookie is kept (503);
  // clearing only the cookie would leave a record behind that the user believes gone
  if (context.unavailable) throw context.unavailable
  const session = sessionOf(context)
  const apiTokens = session ? context.engine.wallet.tokensOf(session) : []
  if (session) context.engine.wallet.forget(session)
  const cleared = backend.clear(cookiesOf(context), session)
  const cookies = cleared instanceof Promise ? await cleared : cleared
  context.session = undefined
  const requested = queryOf(request).get('returnTo')
  const returnTo = requested === null ? undefined : safeReturnTo(requested)
  // the session's provider ends its session; signed out, the default one (if any) is told too
  const runtime = providers.preferred(session)
  const resolved = await runtime?.resolve().catch(() => undefined)
  const state = sendsLogoutState(config, runtime?.settings) ? oauth.generateRandomState() : undefined
  const { location, stateSent } = await finishLogout(config, runtime?.settings, resolved, session, returnTo && appPath(config, returnTo), apiTokens, state)
  // the browser keeps the state it was sent away with: only its own return is acted on
  if (stateSent) cookies.push(logoutStates.write({ state: state!, returnTo: returnTo ?? '/', iat: now() }))
  return redirect(location, cookies)
}

/**
 * `GET /auth/logout/done`: the provider's return after an RP-initiated logout that sent a
 * `state` (RP-Initiated Logout 1.0 §3). The browser's own state goes on to the page it asked
 * for (`returnTo`, else the app's base URL); another or no state (a return this browser did not
 * start, or forged) is acted on in no way: the page only says the user is signed out.
 */
export function logoutDone(context: Context): CoreResponse {
  const { config, logoutStates } = context.engine
  const { request } = context
  if (request.method !== 'GET') return methodNotAllowed('GET')
  // exactly one state: a repeated parameter is not this browser's return
  const states = queryOf(request).getAll('state')
  const pending = logoutStates.read(cookiesOf(context), states.length === 1 ? states[0]! : null, now())
  if (pending) return redirect(appPath(config, pending.returnTo), [logoutStates.remove()])
  config.logger.warn('a return from the provider\'s logout carried another state than this browser\'s logout (or none): not acted on')
  const home = escapeHtml(config.baseUrl.href)
  return html(200, 'Signed out', ['<p>You are signed out of this app.</p>', `<p><a href="${home}">Continue</a></p>`])
}

function confirmLogout(config: OAuthConfig): CoreResponse {
  const action = escapeHtml(appPath(config, config.routes.logout))
  return html(200, 'Sign out?', [`<form method="post" action="${action}"><button type="submit">Sign out</button></form>`])
}

/**
 * The logout route in its span (`codegrant.logout`; the revocation its child), counted when it
 * ended a session, by the session's provider.
 */
export function tracedLogout(context: Context): Promise<CoreResponse> {
  return traced('codegrant.logout', { [ATTR.storeKind]: context.engine.backend.kind }, async (span) => {
    const session = context.unavailable ? undefined : sessionOf(context)
    const response = await logout(context)
    const provider = session && context.engine.providers.of(session)?.name
    if (provider !== undefined) {
      span.setAttribute(ATTR.provider, provider)
      if (context.session === undefined) instruments().logouts.add(1, { [ATTR.provider]: provider })
    }
    return response
  })
}
