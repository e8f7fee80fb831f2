import { webcrypto, type JsonWebKey } from 'node:crypto'
import * as oauth from 'oauth4webapi'
import type { OAuthConfig, ProviderSettings } from '../config/resolved.js'
import { isLoopback } from '../config/checks.js'
import { CodegrantError } from '../errors.js'
import { isFapi2 } from '../config/enums.js'
import { FAPI2_ALGORITHMS } from '../config/profile.js'
import type { DpopKey } from '../session/store.js'
import { withTraceContext } from '../telemetry.js'
import type { Transport } from './mtls.js'

/** DPoP for one codegrant instance: proof handles per key, and server nonces per origin. */
export interface DpopRuntime {
  /** The proof algorithm for new keys, chosen from the provider's metadata (undefined: none usable). */
  readonly algorithm: string | undefined
  /** A new key pair for a login. */
  generate(): Promise<DpopKey>
  /** oauth4webapi's DPoP handle for a key (cached; proofs carry the nonces last seen per origin). */
  handle(key: DpopKey): Promise<oauth.DPoPHandle>
  /** Drops a key's handle (logout). */
  forget(key: DpopKey): void
  /** Remembers a `DPoP-Nonce` a server sent, for its origin. */
  remember(url: string, response: Response): void
}

type KeyParams = { generate: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm; import: RsaHashedImportParams | EcKeyImportParams | Algorithm }

const RSA_EXPONENT = new Uint8Array([1, 0, 1])
const KEY_PARAMS: Readonly<Record<string, KeyParams>> = {
  ES256: { generate: { name: 'ECDSA', namedCurve: 'P-256' }, import: { name: 'ECDSA', namedCurve: 'P-256' } },
  EdDSA: { generate: { name: 'Ed25519' }, import: { name: 'Ed25519' } },
  Ed25519: { generate: { name: 'Ed25519' }, import: { name: 'Ed25519' } },
  PS256: {
    generate: { name: 'RSA-PSS', hash: 'SHA-256', modulusLength: 2048, publicExponent: RSA_EXPONENT },
    import: { name: 'RSA-PSS', hash: 'SHA-256' },
  },
  RS256: {
    generate: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: RSA_EXPONENT },
    import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  },
}
/** ES256 first: the smallest keys (the session cookie carries one) and the most widely supported. */
const PREFERENCE = ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256']
const MAX_ENTRIES = 1000

/**
 * The proof algorithm: ES256 unless the provider's `dpop_signing_alg_values_supported` says
 * otherwise; under FAPI 2.0 only PS256, ES256 or EdDSA.
 */
export function dpopAlgorithm(config: OAuthConfig, as: oauth.AuthorizationServer): string | undefined {
  const allowed = isFapi2(config.profile) ? PREFERENCE.filter((alg) => FAPI2_ALGORITHMS.includes(alg) || alg === 'Ed25519') : PREFERENCE
  const supported = as.dpop_signing_alg_values_supported
  if (!Array.isArray(supported) || supported.length === 0) return 'ES256'
  return allowed.find((alg) => supported.includes(alg))
}

/** The runtime state shared by every provider metadata load of one codegrant instance. */
export function createDpopState(): { nonces: Map<string, string>; handles: Map<string, Promise<oauth.DPoPHandle>> } {
  return { nonces: new Map(), handles: new Map() }
}

export function createDpopRuntime(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  config: OAuthConfig,
  state: ReturnType<typeof createDpopState>,
): DpopRuntime {
  const algorithm = dpopAlgorithm(config, as)
  const { nonces, handles } = state
  // proofs from a handle that has not yet seen a server's nonce use the one last seen for that
  // origin by any session (RFC 9449 §8: nonces are per server, not per key)
  const proofOptions = (key: DpopKey): oauth.ModifyAssertionOptions => ({
    [oauth.modifyAssertion]: (header, payload) => {
      // oauth4webapi names Ed25519 signatures `Ed25519` (RFC 9864); a provider that lists only `EdDSA` gets that name
      if (key.alg === 'EdDSA' && header.alg === 'Ed25519') header.alg = 'EdDSA'
      if (payload.nonce !== undefined || typeof payload.htu !== 'string') return
      const nonce = nonces.get(new URL(payload.htu).origin)
      if (nonce) payload.nonce = nonce
    },
  })
  const id = (key: DpopKey) => `${key.alg}:${key.jwk.x ?? key.jwk.n}`
  return {
    algorithm,
    async generate() {
      const params = algorithm === undefined ? undefined : KEY_PARAMS[algorithm]
      if (!algorithm || !params) {
        throw new CodegrantError(
          'codegrant/provider_error',
          `The provider supports none of the DPoP algorithms codegrant can use (${isFapi2(config.profile) ? 'ES256, EdDSA, PS256 under FAPI 2.0' : PREFERENCE.join(', ')}).`,
        )
      }
      const pair = await webcrypto.subtle.generateKey(params.generate, true, ['sign', 'verify'])
      if (!('privateKey' in pair)) throw new TypeError(`codegrant: ${algorithm} made no key pair`)
      const { kty, crv, x, y, n, e, d, p, q, dp, dq, qi } = await webcrypto.subtle.exportKey('jwk', pair.privateKey)
      // only the key's own members: no key_ops/ext/alg, every byte of the cookie counts
      const jwk: JsonWebKey = JSON.parse(JSON.stringify({ kty, crv, x, y, n, e, d, p, q, dp, dq, qi }))
      return { alg: algorithm, jwk }
    },
    handle(key) {
      const cacheKey = id(key)
      let handle = handles.get(cacheKey)
      if (handle) {
        handles.delete(cacheKey)
      } else {
        handle = importHandle(client, key, proofOptions(key))
        handle.catch(() => handles.delete(cacheKey))
        if (handles.size >= MAX_ENTRIES) handles.delete(handles.keys().next().value!)
      }
      handles.set(cacheKey, handle)
      return handle
    },
    forget(key) {
      handles.delete(id(key))
    },
    remember(url, response) {
      const nonce = response.headers.get('dpop-nonce')
      if (!nonce) return
      const origin = new URL(url).origin
      nonces.delete(origin)
      if (nonces.size >= MAX_ENTRIES) nonces.delete(nonces.keys().next().value!)
      nonces.set(origin, nonce)
    },
  }
}

/** A JWK's public members only, without `undefined` ones (the JSON round trip drops them). */
function publicJwk(members: JsonWebKey): JsonWebKey {
  const jwk: JsonWebKey = JSON.parse(JSON.stringify(members))
  return jwk
}

async function importHandle(client: oauth.Client, key: DpopKey, options: oauth.ModifyAssertionOptions): Promise<oauth.DPoPHandle> {
  const params = KEY_PARAMS[key.alg]
  if (!params) throw new CodegrantError('codegrant/session_ended', 'The session\'s DPoP key is not usable. Sign in again.')
  const { kty, crv, x, y, n, e } = key.jwk
  const [privateKey, publicKey] = await Promise.all([
    webcrypto.subtle.importKey('jwk', key.jwk, params.import, false, ['sign']),
    webcrypto.subtle.importKey('jwk', publicJwk({ kty, crv, x, y, n, e }), params.import, true, ['verify']),
  ])
  return oauth.DPoP(client, { privateKey, publicKey }, options)
}

/**
 * The DPoP part of an oauth4webapi request's options: a proof of `key` (RFC 9449 §4) when there
 * is a key and the provider has DPoP, nothing otherwise. Spread over the request's other options.
 */
export async function dpopHeaders(runtime: DpopRuntime | undefined, key: DpopKey | undefined): Promise<{ DPoP?: oauth.DPoPHandle }> {
  return runtime && key ? { DPoP: await runtime.handle(key) } : {}
}

/**
 * Runs a request to the provider, and once more when the provider asks for a DPoP nonce
 * (`use_dpop_nonce`, RFC 9449 §8): the handle has cached the nonce from the refusal by then.
 * A refused proof means the request was not processed, so even the code exchange may be repeated.
 */
export async function withNonceRetry<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt()
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error
    return attempt()
  }
}

/**
 * A token response to a DPoP request must be `token_type: DPoP` (RFC 9449 §5): a provider that
 * silently issued a Bearer token left it unprotected, which is an error unless the user chose
 * to accept it (`OAUTH_DPOP_ALLOW_BEARER`).
 */
export function assertDpopTokenType(config: OAuthConfig, provider: ProviderSettings, result: oauth.TokenEndpointResponse): void {
  if (result.token_type === 'dpop' || provider.dpopAllowBearer) return
  config.logger.error(`the provider answered a DPoP token request with token_type ${JSON.stringify(result.token_type)}: the token is not sender-constrained (set OAUTH_DPOP_ALLOW_BEARER=true to accept that)`)
  throw new CodegrantError('codegrant/provider_error', 'The provider issued an unprotected (Bearer) token where DPoP was required.')
}

/**
 * `oauth.fetch` with a DPoP-bound token: `Authorization: DPoP …` and a fresh proof (`htm`,
 * `htu`, `ath`) for each attempt; a `use_dpop_nonce` challenge is answered once with the
 * server's nonce. Other answers, 401 included, are returned as they are.
 */
export function dpopResourceFetch(
  runtime: DpopRuntime,
  key: DpopKey,
  accessToken: string,
  input: string | URL,
  init: RequestInit,
  transport: Transport = fetch,
): Promise<Response> {
  return resourceFetch({ runtime, key }, accessToken, input, init, transport)
}

/** The authentication challenges (`WWW-Authenticate`) oauth4webapi parsed from answers of {@link resourceFetch}. */
const CHALLENGES = new WeakMap<Response, readonly oauth.WWWAuthenticateChallenge[]>()

/** What a resource's answer from {@link resourceFetch} challenged (RFC 6750 §3, RFC 9728 §5.1), as oauth4webapi parsed it. */
export function challengesOf(response: Response): readonly oauth.WWWAuthenticateChallenge[] {
  return CHALLENGES.get(response) ?? []
}

/**
 * The challenges of any resource's answer: those {@link resourceFetch} kept, or else its
 * `WWW-Authenticate` header parsed by oauth4webapi (handed the answer as its fetch's result: no
 * request is made). For answers of a plain `fetch` (Bearer tokens sent without oauth4webapi).
 */
export async function challengesIn(response: Response): Promise<readonly oauth.WWWAuthenticateChallenge[]> {
  const kept = CHALLENGES.get(response)
  if (kept || !response.headers.has('www-authenticate')) return kept ?? []
  const url = new URL(response.url || 'http://127.0.0.1/')
  // a copy without the body: oauth4webapi reads the headers only, the caller keeps the body
  const copy = new Response(null, { status: response.status, headers: response.headers })
  try {
    await oauth.protectedResourceRequest('-', 'GET', url, new Headers(), null, { [oauth.customFetch]: async () => copy, [oauth.allowInsecureRequests]: true })
  } catch (error) {
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      CHALLENGES.set(response, error.cause)
      return error.cause
    }
  }
  return []
}

/**
 * A protected resource request through oauth4webapi: `Authorization: Bearer …`, or with `dpop`
 * `DPoP …` and a fresh proof for each attempt (a `use_dpop_nonce` challenge is answered once with
 * the server's nonce). Every answer, 401 included, is returned as it is; its challenges are kept
 * for {@link challengesOf}.
 */
export async function resourceFetch(
  dpop: { runtime: DpopRuntime; key: DpopKey } | undefined,
  accessToken: string,
  input: string | URL,
  init: RequestInit,
  transport: Transport = fetch,
): Promise<Response> {
  const request = new Request(input, init)
  const url = new URL(request.url)
  // read once: the body may have to be sent twice (nonce retry, refresh retry)
  const body = request.body === null ? null : new Uint8Array(await request.arrayBuffer())
  const headers = new Headers(request.headers)
  headers.delete('authorization')
  headers.delete('dpop')
  const options: oauth.ProtectedResourceRequestOptions = {
    ...(dpop ? { DPoP: await dpop.runtime.handle(dpop.key) } : {}),
    ...(init.signal ? { signal: init.signal } : {}),
    [oauth.customFetch]: async (target, requestInit) => {
      const response = await transport(target, withTraceContext(requestInit as RequestInit))
      dpop?.runtime.remember(target, response)
      return response
    },
    ...(url.protocol === 'http:' && isLoopback(url) ? { [oauth.allowInsecureRequests]: true } : {}),
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return await oauth.protectedResourceRequest(accessToken, request.method, url, new Headers(headers), body, options)
    } catch (error) {
      if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error
      if (attempt > 0 || !dpop || !oauth.isDPoPNonceError(error)) {
        CHALLENGES.set(error.response, error.cause)
        return error.response
      }
      await error.response.body?.cancel()
    }
  }
}
