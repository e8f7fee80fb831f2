/** The logout route: CSRF-checked, the local session ended, then the provider's end-session redirect. */
import type { OAuthConfig } from '../config/resolved.js'
import { cookiesOf, sessionOf, type Context } from '../context.js'
import { CodegrantError } from '../errors.js'
import { appPath, escapeHtml, header, html, methodNotAllowed, queryOf, redirect, type CoreResponse } from '../http.js'
import { safeReturnTo } from '../return-to.js'
import { finishLogout } from '../flow/logout.js'
import { ATTR, instruments, traced } from '../telemetry.js'

export async function logout(context: Context): Promise<CoreResponse> {
  const { config, backend, providers } = context.engine
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
  const localReturnTo = requested === null ? undefined : appPath(config, safeReturnTo(requested))
  // the session's provider ends its session; signed out, the default one (if any) is told too
  const runtime = providers.preferred(session)
  const resolved = await runtime?.resolve().catch(() => undefined)
  return redirect(await finishLogout(config, runtime?.settings, resolved, session, localReturnTo, apiTokens), cookies)
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
