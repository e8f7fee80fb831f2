/**
 * One provider, everything codegrant keeps per provider in one object: its settings, its
 * metadata resolver (with client authentication and DPoP keys), its refresher and its
 * `oauth.fetch` origin allow-list. The core holds a list of these; an app with one provider
 * holds a list of one.
 */
import { createOriginCheck, type OriginCheck } from './provider/api-origins.js'
import type { OAuthConfig, ProviderSettings } from './config/resolved.js'
import { createRefresher, type Refresh } from './flow/refresh.js'
import { identityOf } from './session/identity.js'
import type { SessionData, SessionStore } from './session/store.js'
import { issuerCheck } from './provider/discovery.js'
import { createProviderResolver, type Provider } from './provider/metadata.js'

export interface ProviderRuntime {
  readonly name: string
  /** This provider's settings (the app's are beside them, in the configuration). */
  readonly settings: ProviderSettings
  /** Metadata, client authentication and DPoP runtime, resolved once and cached. */
  readonly resolve: () => Promise<Provider>
  readonly refresh: Refresh
  readonly allowOrigin: OriginCheck
  /** Whether `iss` is this provider's issuer (by its configuration, without loading metadata). */
  readonly issues: (iss: string) => boolean
}

/** The providers of an app by name, in configuration order. */
export interface ProviderRuntimes {
  readonly list: readonly ProviderRuntime[]
  readonly first: ProviderRuntime
  byName(name: string): ProviderRuntime | undefined
  /**
   * The provider a session came from, by its identity: the provider it recorded, if that one is
   * still configured with the issuer that vouched for the user; else the one provider whose
   * issuer that is. Undefined (signed out) otherwise: never "the first", whose endpoints would
   * receive another provider's tokens.
   */
  of(session: SessionData): ProviderRuntime | undefined
  /** Where a login goes without a choice: the session's provider, else the default, else none. */
  preferred(session: SessionData | undefined): ProviderRuntime | undefined
}

export function createProviderRuntimes(config: OAuthConfig, store: SessionStore | undefined, ttl: (fresh: SessionData) => number): ProviderRuntimes {
  const list = config.providers.map((settings) => createProviderRuntime(config, settings, store, ttl))
  const byName = new Map(list.map((runtime) => [runtime.name, runtime]))
  const first = list[0]!
  const preferred = config.defaultProvider === undefined ? undefined : byName.get(config.defaultProvider)
  const providerOf = (session: SessionData) => {
    const identity = identityOf(session)
    if (!identity) return undefined
    const recorded = identity.provider === undefined ? undefined : byName.get(identity.provider)
    if (recorded?.issues(identity.iss)) return recorded
    // a session from before its provider was recorded, or from before the app named its providers
    const issuing = list.filter((runtime) => runtime.issues(identity.iss))
    return issuing.length === 1 ? issuing[0] : undefined
  }
  // every read of a session asks for its provider (and the `provider` getter again): looked up
  // once per session object, which a cached cookie or record is on every request that carries
  // it (an issuer check may parse a URL); sessions are never changed in place
  const found = new WeakMap<SessionData, ProviderRuntime | null>()
  const of = (session: SessionData) => {
    let runtime = found.get(session)
    if (runtime === undefined) found.set(session, (runtime = providerOf(session) ?? null))
    return runtime ?? undefined
  }
  return {
    list,
    first,
    byName: (name) => byName.get(name),
    of,
    preferred: (session) => (session ? of(session) : preferred),
  }
}

function createProviderRuntime(config: OAuthConfig, settings: ProviderSettings, store: SessionStore | undefined, ttl: (fresh: SessionData) => number): ProviderRuntime {
  const resolve = createProviderResolver(config, settings)
  return {
    name: settings.name,
    settings,
    resolve,
    refresh: createRefresher(config, resolve, store, ttl, settings.name),
    allowOrigin: createOriginCheck(settings, resolve),
    issues: issuerCheck(settings),
  }
}
