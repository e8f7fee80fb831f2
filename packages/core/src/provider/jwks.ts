import type { JsonWebKey } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import type { FetchOptions } from './http.js'

/** Fetched keys are used this long, then fetched again (oauth4webapi's own cache lifetime). */
const JWKS_TTL_S = 300
/**
 * An unknown `kid` refetches the keys at once, but at most once in this window per provider:
 * the provider may have rotated its keys (OpenID Connect Core §10.1.1), and a flood of forged
 * `kid`s must not make codegrant hammer its JWKS endpoint.
 */
export const JWKS_REFETCH_WINDOW_MS = 5_000

/**
 * One provider's signing keys, shared by its ID tokens (verified by oauth4webapi, which reads
 * and fills `cache`) and its logout tokens (provider/jwt.ts): one cache, one refetch budget.
 */
export interface JwksKeeper {
  /** oauth4webapi's cache input (`[oauth.jwksCache]` of every call to the provider). */
  readonly cache: oauth.JWKSCacheInput
  /** The keys: the cached ones while fresh, else fetched (one fetch in flight at a time). */
  keys(jwksUri: string, http: FetchOptions): Promise<readonly JsonWebKey[]>
  /**
   * Fetches the keys now, for a token whose `kid` is not among them. At most once per
   * {@link JWKS_REFETCH_WINDOW_MS}: within the window, the promise of that window's refetch
   * (a token arriving mid-refetch waits for it; one arriving later retries with what it got).
   */
  refetch(jwksUri: string, http: FetchOptions): Promise<readonly JsonWebKey[]>
}

/**
 * `keys` and `refetch` reject with the transport's or the response's own error when the keys
 * cannot be fetched: each caller says what that means to its client (a login's 502/504, a logout
 * token's 503).
 */
export function createJwksKeeper(): JwksKeeper {
  // filled here and by oauth4webapi (which also empties it when its copy is older than a minute)
  const cache: { jwks?: { keys: JsonWebKey[] }; uat?: number } = {}
  let cachedUri: string | undefined
  let inflight: Promise<readonly JsonWebKey[]> | undefined
  let forced: { at: number; keys: Promise<readonly JsonWebKey[]> } | undefined

  const download = (uri: string, http: FetchOptions): Promise<readonly JsonWebKey[]> =>
    (inflight ??= (async () => {
      try {
        const response = await http[oauth.customFetch](uri, { headers: { accept: 'application/json, application/jwk-set+json' }, signal: http.signal(), redirect: 'manual' })
        if (!response.ok) throw new Error(`the provider's jwks_uri answered HTTP ${response.status}`)
        const body = (await response.json()) as { keys?: unknown }
        if (!Array.isArray(body?.keys)) throw new Error('the provider\'s jwks_uri answered no "keys" array')
        const keys = body.keys.filter((key): key is JsonWebKey => typeof key === 'object' && key !== null && !Array.isArray(key))
        Object.assign(cache, { jwks: { keys }, uat: Math.floor(Date.now() / 1000) })
        cachedUri = uri
        return keys
      } finally {
        inflight = undefined
      }
    })())

  return {
    cache: cache as oauth.JWKSCacheInput,
    keys(uri, http) {
      // oauth4webapi fills the cache too (for this provider's one jwks_uri)
      const fresh = (cachedUri === undefined || cachedUri === uri) && cache.jwks && cache.uat !== undefined && Date.now() / 1000 - cache.uat < JWKS_TTL_S
      return fresh ? Promise.resolve(cache.jwks!.keys) : download(uri, http)
    },
    refetch(uri, http) {
      const at = Date.now()
      if (forced && at - forced.at < JWKS_REFETCH_WINDOW_MS) return forced.keys
      const keys = download(uri, http)
      forced = { at, keys }
      return keys
    },
  }
}

/** True for oauth4webapi's refusal of a JWS whose `kid` (and algorithm) no key of the provider fits. */
export function isUnknownKey(error: unknown): boolean {
  return error instanceof oauth.OperationProcessingError && error.code === oauth.KEY_SELECTION && /no applicable keys/.test(error.message)
}
