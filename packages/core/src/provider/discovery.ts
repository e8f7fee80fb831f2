/**
 * OpenID Connect Discovery 1.0 / RFC 8414, with what real providers and real users do:
 * the discovery URL pasted as OAUTH_ISSUER (fetched as it is; the document's issuer must be
 * that URL minus the well-known path), one same-origin redirect followed (Django OAuth Toolkit
 * redirects to a trailing slash), and an issuer mismatch named with both values.
 */
import * as oauth from 'oauth4webapi'
import type { FullLogger } from '../config/options.js'
import type { ProviderSettings } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import { describe, transportError } from '../failures.js'
import { discoveredIssuer, isTenantIssuer } from './tenant-issuer.js'
import { type FetchOptions } from './http.js'
import { memberOf } from '../json.js'

const WELL_KNOWN = /\/\.well-known\/(openid-configuration|oauth-authorization-server)\/?$/

const warned = new WeakSet<ProviderSettings>()

/** OAUTH_ISSUER, where discovery starts (the configuration requires it unless the endpoints are explicit). */
function issuerOf(settings: ProviderSettings): string {
  if (settings.issuer === undefined) throw new CodegrantError('codegrant/config_invalid', 'OAUTH_ISSUER is required for discovery (or give the endpoints explicitly)')
  return settings.issuer
}

/** Where discovery is fetched from, and whether OAUTH_ISSUER is itself the discovery URL. */
export function discoveryUrl(settings: ProviderSettings): { url: URL; pasted: boolean } {
  const issuer = new URL(issuerOf(settings))
  if (WELL_KNOWN.test(issuer.pathname)) return { url: issuer, pasted: true }
  const url = new URL(issuer.href)
  if (settings.openid) url.pathname = `${url.pathname.replace(/\/$/, '')}/.well-known/openid-configuration`
  else url.pathname = url.pathname === '/' ? '/.well-known/oauth-authorization-server' : `/.well-known/oauth-authorization-server${url.pathname.replace(/\/$/, '')}`
  return { url, pasted: false }
}

/** The issuer of a provider given by explicit endpoints: OAUTH_ISSUER, else the authorization endpoint's origin. */
export function explicitIssuer(settings: ProviderSettings): string {
  return settings.issuer ?? new URL(settings.endpoints.authorization!).origin
}

/**
 * Whether `iss` is this provider's issuer, as the configuration says it without loading the
 * metadata (discovery checks the document's issuer against the same): for attributing a
 * session to its provider by the issuer that vouched for its user. OAUTH_ISSUER (a trailing
 * slash aside), the issuer of a pasted discovery URL, a tenant's issuer of a multi-tenant
 * template, or for explicit endpoints {@link explicitIssuer}.
 */
export function issuerCheck(settings: ProviderSettings): (iss: string) => boolean {
  if (settings.explicitEndpoints) {
    const issuer = explicitIssuer(settings)
    return (iss) => iss === issuer
  }
  const tenant = settings.preset?.tenantIssuer
  if (tenant) return (iss) => isTenantIssuer(tenant, iss)
  const { url, pasted } = discoveryUrl(settings)
  if (pasted) {
    // a pasted discovery URL is the issuer's, in either of the two places issuerOfPasted accepts
    const kind = WELL_KNOWN.exec(url.pathname)![1]!
    return (iss) => {
      const parsed = parsedUrl(iss)
      const path = parsed?.pathname.replace(/\/$/, '')
      return parsed?.origin === url.origin && [`${path}/.well-known/${kind}`, `/.well-known/${kind}${path}`].includes(url.pathname.replace(/\/$/, ''))
    }
  }
  // as oauth4webapi compares the discovered issuer: by URL; the usual spellings without parsing
  const issuer = new URL(issuerOf(settings))
  const expected = issuer.href
  const bare = issuer.pathname === '/' ? issuer.origin : expected
  return (iss) => iss === expected || iss === bare || parsedUrl(iss)?.href === expected
}

function parsedUrl(value: string): URL | undefined {
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}

/**
 * Fetches and validates the provider's metadata.
 *
 * @throws {CodegrantError} `codegrant/issuer_mismatch` (502, a configuration error) or
 *   `codegrant/provider_unavailable` (503); each logged once with the URL and the cause.
 */
export async function discover(settings: ProviderSettings, logger: FullLogger, http: FetchOptions): Promise<oauth.AuthorizationServer> {
  const { url, pasted } = discoveryUrl(settings)
  let fetched = url
  logger.debug(`discovery: fetching ${url.href}${pasted ? ' (OAUTH_ISSUER is a discovery URL)' : ''}`)
  try {
    let response = await get(fetched, http)
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, fetched)
      if (next.origin !== fetched.origin) {
        throw new DiscoveryProblem(`${fetched.href} answered HTTP ${response.status} with Location ${next.href}, another origin: not followed. Set OAUTH_ISSUER to the provider's issuer.`)
      }
      if (!warned.has(settings)) {
        warned.add(settings)
        logger.warn(`provider discovery at ${fetched.href} redirects (HTTP ${response.status}) to ${next.href}: followed (once per request). Set OAUTH_ISSUER so that no redirect is needed, if the provider allows.`)
      }
      await response.body?.cancel()
      fetched = next
      response = await get(fetched, http)
    }
    if (response.status !== 200) {
      const redirect = response.headers.get('location')
      await response.body?.cancel()
      throw new DiscoveryProblem(`${fetched.href} answered HTTP ${response.status}${redirect ? ` with Location ${redirect} (only one same-origin redirect is followed)` : ''}`)
    }
    const tenant = settings.preset?.tenantIssuer
    const expected = pasted ? await issuerOfPasted(settings, logger, url, response) : tenant ? discoveredIssuer(tenant) : new URL(issuerOf(settings))
    try {
      const as = await oauth.processDiscoveryResponse(expected, response)
      logger.debug(`discovery: loaded the metadata of issuer ${as.issuer}`)
      return as
    } catch (error) {
      if (error instanceof oauth.OperationProcessingError && error.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
        const received = memberOf(memberOf(error.cause, 'body'), 'issuer')
        throw issuerMismatch(settings, logger, String(received))
      }
      throw error
    }
  } catch (error) {
    if (error instanceof CodegrantError) throw error
    const cause = transportError(error, 'discovery') ?? error
    const why = error instanceof DiscoveryProblem ? error.message : `${fetched.href}: ${describe(cause)}`
    logger.error(`provider metadata could not be loaded: ${why}`)
    throw new CodegrantError(
      'codegrant/provider_unavailable',
      'The sign-in provider is unavailable right now (its metadata could not be loaded). Try again in a moment.',
      { cause },
    )
  }
}

class DiscoveryProblem extends Error {}

function get(url: URL, http: FetchOptions): Promise<Response> {
  return http[oauth.customFetch](url.href, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual', signal: http.signal() })
}

/**
 * OAUTH_ISSUER is a discovery URL: the issuer is the document's, and the URL must be where that
 * issuer's discovery lives (trailing slash tolerated), else anyone's document would do.
 */
async function issuerOfPasted(settings: ProviderSettings, logger: FullLogger, url: URL, response: Response): Promise<URL> {
  let issuer: unknown
  try {
    issuer = memberOf(await response.clone().json(), 'issuer')
  } catch {
    issuer = undefined
  }
  if (typeof issuer !== 'string') throw new DiscoveryProblem(`${url.href} is not a discovery document (no "issuer")`)
  let parsed: URL
  try {
    parsed = new URL(issuer)
  } catch {
    throw new DiscoveryProblem(`${url.href} names an issuer that is not a URL`)
  }
  const kind = WELL_KNOWN.exec(url.pathname)![1]!
  const path = parsed.pathname.replace(/\/$/, '')
  const allowed = [`${path}/.well-known/${kind}`, `/.well-known/${kind}${path}`]
  if (parsed.origin !== url.origin || !allowed.includes(url.pathname.replace(/\/$/, ''))) {
    throw issuerMismatch(settings, logger, issuer, `OAUTH_ISSUER is the discovery URL ${url.href}, but its document names the issuer ${issuer}, whose discovery URL is ${parsed.origin}${allowed[0]}.`)
  }
  return parsed
}

function issuerMismatch(settings: ProviderSettings, logger: FullLogger, value: string, detail?: string): CodegrantError {
  const received = value.length > 200 ? `${value.slice(0, 200)}…` : value
  const expected = issuerOf(settings)
  const slash = received.replace(/\/$/, '') === expected.replace(/\/$/, '') ? ' (they differ only in the trailing slash, which counts)' : ''
  const line = detail ?? `OAUTH_ISSUER is ${expected}, but the provider's discovery document says its issuer is ${received}${slash}.`
  logger.error(`configuration error: ${line} Set OAUTH_ISSUER=${received}`)
  return new CodegrantError('codegrant/issuer_mismatch', `The sign-in provider does not match this app's configuration (issuer mismatch): set OAUTH_ISSUER=${received}.`)
}
