/**
 * What an API says it needs (RFC 9728): when an API answers 401 naming its protected resource
 * metadata (`WWW-Authenticate: Bearer resource_metadata="…"`), the document is read — from the
 * API's own origin only — through oauth4webapi, which checks that it is the metadata of the
 * resource it names; the resource must hold the URL called, and one of its authorization servers
 * must be the session's provider: a token is never asked for at a server the app does not use.
 */
import * as oauth from 'oauth4webapi'
import type { ApiSettings, OAuthConfig } from '../config/resolved.js'
import { isLoopback } from '../config/checks.js'
import { CodegrantError } from '../errors.js'
import { describe } from '../failures.js'
import type { Provider } from '../provider/metadata.js'

/** The well-known path RFC 9728 §3.1 inserts between a resource's host and its path. */
const WELL_KNOWN = '/.well-known/oauth-protected-resource'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'

/** The `resource_metadata` URL of an answer's Bearer (or DPoP) challenge, if it names one. */
export function resourceMetadataOf(challenges: readonly oauth.WWWAuthenticateChallenge[]): string | undefined {
  for (const challenge of challenges) {
    if ((challenge.scheme === 'bearer' || challenge.scheme === 'dpop') && typeof challenge.parameters.resource_metadata === 'string') return challenge.parameters.resource_metadata
  }
  return undefined
}

/**
 * `api`'s settings as its metadata gives them: its resource, the scopes it supports (unless the
 * app configured some), and a token by exchange when the provider offers token exchange (a
 * resource the login did not name cannot come from the refresh token), else by a resource grant.
 *
 * @throws {CodegrantError} `codegrant/resource_metadata_invalid` when the document is on another
 *   origin, unreadable, for another resource or one that does not hold `called`, or names none
 *   of the provider's issuer among its authorization servers.
 */
export async function discoverApi(config: OAuthConfig, provider: Provider, api: ApiSettings, called: URL, metadataUrl: string): Promise<ApiSettings> {
  const refuse = (why: string, cause?: unknown) => {
    config.logger.error(`the API ${api.name} named protected resource metadata that was refused: ${why}${cause === undefined ? '' : ` (${describe(cause)})`}`)
    return new CodegrantError('codegrant/resource_metadata_invalid', `The API ${api.name} asks for a token this app cannot get for it: ${why}.`, cause === undefined ? undefined : { cause })
  }
  const location = URL.parse(metadataUrl)
  if (!location || location.origin !== api.url.origin) throw refuse('its metadata is not on its own origin')
  if (!location.pathname.startsWith(WELL_KNOWN)) throw refuse('its metadata is not at a well-known location (RFC 9728 §3.1)')
  const resource = new URL(`${location.origin}${location.pathname.slice(WELL_KNOWN.length)}`)
  let metadata: oauth.ResourceServer
  try {
    const insecure = resource.protocol === 'http:' && isLoopback(resource) ? { [oauth.allowInsecureRequests]: true } : {}
    const response = await oauth.resourceDiscoveryRequest(resource, { signal: AbortSignal.timeout(config.httpTimeout), ...insecure })
    // oauth4webapi: the document must name exactly the resource its location was made from
    metadata = await oauth.processResourceDiscoveryResponse(resource, response)
  } catch (error) {
    throw refuse('its metadata could not be read or names another resource', error)
  }
  if (!holds(metadata.resource, called)) throw refuse(`its metadata is for ${metadata.resource}, which does not hold ${called.origin}${called.pathname}`)
  const servers = metadata.authorization_servers ?? []
  if (!servers.includes(provider.as.issuer)) {
    throw refuse(`it names authorization servers this app does not use (${servers.join(', ') || 'none'}; the session's provider is ${provider.as.issuer})`)
  }
  const scope = api.scope || (metadata.scopes_supported ?? []).join(' ')
  const token = provider.as.grant_types_supported?.includes(TOKEN_EXCHANGE) ? 'exchange' : 'resource'
  config.logger.debug(`api ${api.name}: its metadata names the resource ${metadata.resource}; asking for its token by ${token === 'exchange' ? 'token exchange' : 'a resource grant'}`)
  return Object.freeze({ ...api, resource: metadata.resource, scope, token })
}

/** Whether `url` is the resource or under it (a path boundary, not a prefix of a name). */
function holds(resource: string, url: URL): boolean {
  const called = `${url.origin}${url.pathname}`
  return called === resource || called.startsWith(resource.endsWith('/') ? resource : `${resource}/`)
}
