/**
 * Run-time diagnostics: what codegrant says when it is set up wrong, in words that name the
 * cause and the fix. Nothing here changes a decision of the flows except `loginOrigin`, which
 * redirects (or refuses) a login that cannot succeed (a loopback host other than OAUTH_BASE_URL's).
 * No line ever carries a secret, a token, a code or a cookie.
 */
import type { OAuthConfig, ProviderSettings } from './config/resolved.js'
import { isLoopback } from './config/checks.js'
import { CodegrantError } from './errors.js'
import { appPath, header, html, json, redirect, wantsHtml, type CoreRequest, type CoreResponse } from './http.js'

export interface Diagnostics {
  /** Looks at requests until one shows an https OAUTH_BASE_URL served over plain http, or the reverse; warns once. */
  observe(request: CoreRequest): void
  /**
   * At the login route, when the request is on another loopback host than OAUTH_BASE_URL (the
   * login cookie would be set for the wrong host): a browser is redirected to the same path on
   * OAUTH_BASE_URL's origin, an API client gets a 400. A warning (once per host) for other
   * mismatches, which a proxy may explain.
   */
  loginOrigin(request: CoreRequest): CoreResponse | undefined
  /** One log line per rejected callback: the code, the status and the likely cause. */
  rejected(error: CodegrantError): void
}

/** Start-up, once: what to register at the provider. */
export function announce(config: OAuthConfig, provider: ProviderSettings): void {
  const postLogout = provider.postLogoutRedirectUri === provider.redirectUri ? '' : `; post-logout redirect URI: ${provider.postLogoutRedirectUri}`
  const at = config.named ? ` ${provider.name}` : ''
  config.logger.info(`redirect URI to register at the provider${at} for client ${provider.clientId}: ${provider.redirectUri}${postLogout}`)
}

export function createDiagnostics(config: OAuthConfig): Diagnostics {
  const base = config.baseUrl
  const warned = new Set<string>()
  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return
    warned.add(key)
    config.logger.warn(message)
  }
  let schemeSeen = false

  return {
    observe(request) {
      if (schemeSeen) return
      const forwarded = first(header(request, 'x-forwarded-proto'))?.toLowerCase()
      if (base.protocol === 'https:' && forwarded === undefined && !proxied(request) && request.encrypted === false) {
        schemeSeen = true
        config.logger.warn(
          `OAUTH_BASE_URL is ${base.origin} (https), but this app is served over plain http (${header(request, 'host') ?? 'no Host'}) with no TLS proxy in front: ` +
            'browsers sent to the https callback get an SSL or empty-response error. Serve the app over https, put it behind a TLS-terminating proxy that sends X-Forwarded-Proto, ' +
            `or in development set OAUTH_BASE_URL=http://${base.host}.`,
        )
      } else if (base.protocol === 'http:' && (forwarded === 'https' || request.encrypted === true)) {
        schemeSeen = true
        config.logger.warn(
          `OAUTH_BASE_URL is ${base.origin} (plain http), but this request arrived over https${forwarded ? ' (X-Forwarded-Proto)' : ''}: ` +
            `set OAUTH_BASE_URL=https://${base.host}${base.pathname === '/' ? '' : base.pathname} so that cookies are Secure and the redirect URI is https.`,
        )
      }
    },

    loginOrigin(request) {
      const forwardedHost = first(header(request, 'x-forwarded-host'))
      if (proxied(request) && !config.trustProxy) {
        if (forwardedHost && forwardedHost.toLowerCase() !== base.host) {
          warnOnce(`proxy ${forwardedHost}`, `a login came through a proxy for ${forwardedHost}, but OAUTH_BASE_URL is ${base.origin}: set OAUTH_BASE_URL to the address users open, and OAUTH_TRUST_PROXY=true if the proxy is yours.`)
        }
        return undefined
      }
      const host = (config.trustProxy ? forwardedHost : undefined) ?? header(request, 'host')
      if (!host) return undefined
      let seen: URL
      try {
        const scheme = (config.trustProxy ? first(header(request, 'x-forwarded-proto')) : undefined) ?? (request.encrypted ? 'https' : base.protocol.slice(0, -1))
        seen = new URL(`${scheme}://${host}`)
      } catch {
        return undefined
      }
      if (seen.host === base.host && seen.protocol === base.protocol) return undefined
      const callbacks = config.providers.map((provider) => `${seen.origin}${config.baseUrl.pathname.replace(/\/$/, '')}${provider.paths.callback[0]}`)
      const fix = `Open ${base.origin}${pathOf(config)} instead, or set OAUTH_BASE_URL=${seen.origin} (and register ${callbacks.join(', ')} as ${callbacks.length > 1 ? 'the redirect URIs at the providers' : 'a redirect URI at the provider'}).`
      if (seen.hostname !== base.hostname && isLoopback(seen) && isLoopback(base)) {
        // browsers keep cookies per host name: the login cookie set for 127.0.0.1 never comes back
        // to localhost. Both are this machine: a browser is sent to the same path at the configured one
        if (wantsHtml(request)) {
          warnOnce(`loopback ${seen.origin}`, `a login opened at ${seen.origin} was redirected to ${base.origin} (OAUTH_BASE_URL): browsers keep cookies per host name, so the sign-in must start there.`)
          return redirect(`${base.origin}${appPath(config, request.url)}`)
        }
        const message = `This app's address is ${base.origin} (OAUTH_BASE_URL), but it was opened at ${seen.origin}: the sign-in cookie would be set for ${seen.hostname} and the provider sends the browser back to ${base.hostname}, so the sign-in cannot complete.`
        config.logger.warn(`login refused: codegrant/base_url_mismatch: ${message} ${fix}`)
        return json(400, { error: 'base_url_mismatch', code: 'codegrant/base_url_mismatch', message: `${message} ${fix}` })
      }
      warnOnce(`host ${seen.origin}`, `a login started at ${seen.origin}, but OAUTH_BASE_URL is ${base.origin}: unless a proxy rewrites the Host header, the sign-in will fail with codegrant/transaction_missing. ${fix}`)
      return undefined
    },

    rejected(error) {
      const line = `callback rejected (${error.status} ${error.code}): ${error.message}${likelyCause(error)}`
      if (error.status >= 500) config.logger.error(line)
      else config.logger.warn(line)
    },
  }
}

function pathOf(config: OAuthConfig): string {
  return config.baseUrl.pathname.replace(/\/$/, '') + config.routes.login
}

/** What most often causes each rejection, for the server log. */
function likelyCause(error: CodegrantError): string {
  switch (error.code) {
    case 'codegrant/transaction_missing':
      return ' Likely cause: the browser is not on OAUTH_BASE_URL\'s host, cookies are blocked, or the sign-in took more than 10 minutes.'
    case 'codegrant/transaction_invalid':
      return ' Likely cause: OAUTH_COOKIE_SECRET changed since the sign-in started (or differs between instances).'
    case 'codegrant/state_mismatch':
      return ' Likely cause: an old or replayed sign-in response, or two sign-ins in one tab.'
    case 'codegrant/invalid_grant':
      return ' Likely cause: the code was used twice (a reload of the callback), expired, or the redirect URI differs from the registered one.'
    case 'codegrant/id_token_invalid':
      return ' Likely cause: the client id, the ID token signing algorithm (OAUTH_ID_TOKEN_SIGNING_ALG) or the clocks (OAUTH_CLOCK_TOLERANCE) differ from the provider\'s.'
    case 'codegrant/invalid_callback':
      return ' Likely cause: the response does not come from the configured provider (check OAUTH_ISSUER), or it was tampered with.'
    default:
      return ''
  }
}

/** Any sign that a proxy stands between the browser and the app. */
function proxied(request: CoreRequest): boolean {
  return request.headers['x-forwarded-host'] !== undefined || request.headers['x-forwarded-proto'] !== undefined || request.headers.forwarded !== undefined
}

function first(value: string | undefined): string | undefined {
  const item = value?.split(',', 1)[0]?.trim()
  return item === '' ? undefined : item
}

/**
 * requireAuth() ran on a request oauth() never saw: a 500 with a generic body, and a log line
 * that says how to fix it. (The framework gives no way to see this at start-up.)
 */
export function notMounted(request: CoreRequest | undefined): CoreResponse {
  console.error(
    `[codegrant] requireAuth() ran on ${request ? `${request.method} ${request.url.split('?', 1)[0]}` : 'a request'}, which oauth() did not see: mount oauth() before requireAuth() — ` +
      'Express: app.use(oauth()) before the routes; Koa: app.use(oauth()) before the router; Fastify: await app.register(oauth) before the routes, in the same or a parent scope.',
  )
  if (!request || !(header(request, 'accept') ?? '').includes('text/html')) return json(500, { error: 'server_error' })
  return html(500, 'Server error', ['<p>The server is misconfigured. Its log says how to fix it.</p>'])
}
