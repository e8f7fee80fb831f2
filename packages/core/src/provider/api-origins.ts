import type { ProviderSettings } from '../config/resolved.js'
import { isLoopback } from '../config/checks.js'
import { CodegrantError } from '../errors.js'
import type { Provider } from './metadata.js'

/** Throws unless `oauth.fetch` may send the access token to `target`. */
export type OriginCheck = (target: string | URL) => Promise<URL>

/**
 * Where `oauth.fetch` may send the user's access token: the provider's own origins (its issuer
 * and every endpoint, configured or discovered, and their mutual-TLS aliases) and the origins the app names
 * (`OAUTH_API_ORIGINS`); never plain http except on loopback. A bearer token is a key to the
 * user's account: a typo, an open redirect in the app or a URL taken from input must not send it
 * elsewhere.
 *
 * @throws {CodegrantError} `codegrant/origin_not_allowed`, naming the origin and the setting.
 */
export function createOriginCheck(settings: ProviderSettings, provider: () => Promise<Provider>): OriginCheck {
  const configured = new Set([settings.issuer, ...Object.values(settings.endpoints)].filter((url): url is string => url !== undefined).map((url) => new URL(url).origin))
  for (const origin of settings.apiOrigins) configured.add(origin)
  let discovered: { of: Provider; origins: Set<string> } | undefined

  const refuse = (url: URL | undefined, why: string) =>
    new CodegrantError('codegrant/origin_not_allowed', `oauth.fetch refused to send the access token to ${url ? url.origin : 'that URL'}: ${why}`)

  return async (target) => {
    let url: URL
    try {
      url = new URL(target)
    } catch {
      throw refuse(undefined, 'it is not an absolute URL')
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
      throw refuse(url, 'only https (or http on loopback) may carry it')
    }
    if (configured.has(url.origin)) return url
    const resolved = await provider().catch(() => undefined)
    if (resolved) {
      if (discovered?.of !== resolved) discovered = { of: resolved, origins: metadataOrigins(resolved) }
      if (discovered.origins.has(url.origin)) return url
    }
    throw refuse(url, 'it is neither the provider nor listed in OAUTH_API_ORIGINS (option apiOrigins)')
  }
}

/** The origins of the provider's metadata: its issuer, every endpoint, and their mutual-TLS aliases (RFC 8705 §5). */
function metadataOrigins(provider: Provider): Set<string> {
  const origins = new Set<string>()
  const aliases = provider.as.mtls_endpoint_aliases
  const entries = [...Object.entries(provider.as), ...(aliases && typeof aliases === 'object' ? Object.entries(aliases) : [])]
  for (const [name, value] of entries) {
    if ((name === 'issuer' || name.endsWith('_endpoint') || name === 'jwks_uri') && typeof value === 'string') {
      try {
        origins.add(new URL(value).origin)
      } catch {
        // not a URL: nothing to allow
      }
    }
  }
  return origins
}
