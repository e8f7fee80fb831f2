/**
 * `/auth/login` with several providers: a page that lets the user choose one (one link per
 * provider, `returnTo` kept), or straight on to the default provider's login. Plain data in,
 * a response out; no script, so the page's CSP allows none.
 */
import type { OAuthConfig, ProviderSettings } from '../config/resolved.js'
import { appPath, escapeHtml, html, json, queryOf, wantsHtml, type CoreRequest, type CoreResponse } from '../http.js'
import { safeReturnTo } from '../return-to.js'

/** A provider's login URL (app-local), with `returnTo` and the query parameters passed through. */
export function providerLoginPath(config: OAuthConfig, provider: ProviderSettings, query: URLSearchParams): string {
  const path = appPath(config, provider.paths.login[0]!)
  const search = query.toString()
  return search ? `${path}?${search}` : path
}

/**
 * Answers `/auth/login` when the app has several providers and no default: an HTML page with a
 * link per provider for browsers; for anything else 400 `provider_required` JSON listing each
 * provider's login URL (an API client cannot choose on a page). The query (`returnTo`, allowed
 * login parameters) is carried to the provider's login route, where it is checked as usual.
 */
export function chooseProvider(config: OAuthConfig, request: CoreRequest): CoreResponse {
  const query = queryOf(request)
  // a returnTo that would be refused is dropped here already, so the links carry only safe paths
  if (query.has('returnTo')) query.set('returnTo', safeReturnTo(query.get('returnTo')))
  const choices = config.providers.map((provider) => ({ name: provider.name, login: providerLoginPath(config, provider, query) }))
  if (!wantsHtml(request)) return json(400, { error: 'provider_required', message: 'Choose a provider: start the sign-in at one of these URLs.', providers: choices })
  const links = choices.map(({ name, login }) => `<li><a href="${escapeHtml(login)}">Sign in with ${escapeHtml(name)}</a></li>`)
  return html(200, 'Sign in', [`<nav aria-label="Sign-in providers"><ul>${links.join('')}</ul></nav>`])
}
