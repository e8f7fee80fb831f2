/**
 * A single-page app's silent login (`GET /bff/silent-login`, with `OAUTH_BFF`): a `prompt=none`
 * round trip the SPA runs in a popup (or a hidden iframe, when the provider's cookies reach it)
 * without leaving its own page. The callback ends it on a small page of codegrant's that posts
 * `{ type: 'codegrant:silent-login', ok, error? }` to the window that opened it, to this origin
 * only, and closes itself when it is a popup. The provider's "not without the user"
 * (`login_required`, …) is `ok: false` with that code: no session is made, nothing is retried.
 *
 * @see [OpenID Connect Core 1.0 §3.1.2.1 — `prompt=none`](https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest)
 */
import { createHash } from 'node:crypto'
import { sessionOf, type Context } from '../context.js'
import { isCodegrantError } from '../errors.js'
import { header, json, methodNotAllowed, queryOf, type CoreResponse } from '../http.js'
import { browserLogin } from './login.js'

export const BFF_SILENT_LOGIN = '/bff/silent-login'

/** What the page posts to the SPA (`type: 'codegrant:silent-login'`): signed in, or why not. */
export interface SilentLoginResult {
  ok: boolean
  /** The provider's answer (`login_required`, `interaction_required`, …) or codegrant's error code (`codegrant/…`). */
  error?: string
}

/**
 * `GET /bff/silent-login[?provider=<name>]`: starts a `prompt=none` login whose callback answers
 * the result page instead of a redirect. Opened by another origin (fetch metadata says so):
 * 403, nothing started. A failure before the provider is asked (no provider to ask, the session
 * store down) is answered on the result page too, so the SPA always hears back.
 */
export async function bffSilentLogin(context: Context): Promise<CoreResponse> {
  const { config, providers } = context.engine
  const { request } = context
  if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET, HEAD')
  // the SPA's own page opens it (a popup, a frame): a page of another origin starts nothing
  const site = header(request, 'sec-fetch-site')
  if (site !== undefined && site !== 'same-origin') {
    return json(403, { error: 'forbidden', error_description: 'a silent login must be opened by a page of this origin' })
  }
  const name = queryOf(request).get('provider')
  const runtime = name !== null ? providers.byName(name) : providers.preferred(sessionOf(context)) ?? (config.named ? undefined : providers.first)
  // several providers and none chosen (or an unknown name): as the login route's provider_required
  if (!runtime) return silentLoginPage({ ok: false, error: 'provider_required' })
  try {
    return await browserLogin(context, runtime, null, { prompt: ['none'] }, { silent: true, spa: true })
  } catch (error) {
    if (isCodegrantError(error)) return silentLoginPage({ ok: false, error: error.code })
    throw error
  }
}

/**
 * The page's one script: reads the result from its JSON data block and posts it to the window
 * that opened the page (`opener`, else the parent of a frame) with this origin as the target,
 * so no other origin can receive it; a popup then closes. Constant, so the CSP allows it by hash.
 */
const SCRIPT =
  "(()=>{const result=JSON.parse(document.getElementById('codegrant-result').textContent);" +
  'const target=window.opener||(window.parent!==window?window.parent:null);' +
  'if(target)target.postMessage(result,window.location.origin);' +
  'if(window.opener)window.close()})()'

/** No other script or resource, no form; framed only by this origin (a SPA's hidden iframe). */
const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': `default-src 'none'; script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`,
  'x-frame-options': 'SAMEORIGIN',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
})

/** The page that ends a SPA's silent login: the result as JSON data (never a token), posted by {@link SCRIPT}. */
export function silentLoginPage(result: SilentLoginResult): CoreResponse {
  const message = { type: 'codegrant:silent-login', ok: result.ok, ...(result.error !== undefined ? { error: result.error } : {}) }
  // `<` escaped: the data block cannot be closed by what it holds
  const data = JSON.stringify(message).replace(/</g, '\\u003c')
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in</title></head><body><p>${result.ok ? 'Signed in.' : 'Not signed in.'} This window can be closed.</p><script type="application/json" id="codegrant-result">${data}</script><script>${SCRIPT}</script></body></html>`
  return { status: 200, headers: { ...PAGE_HEADERS }, cookies: [], body }
}
