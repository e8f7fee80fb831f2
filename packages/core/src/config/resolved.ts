/**
 * The validated, frozen settings every part of codegrant reads: the app's ({@link OAuthConfig})
 * and each provider's ({@link ProviderSettings}), and what opens a Redis store when the app
 * chose one ({@link RedisOpener}). Types only; resolve.ts (with session-store.ts) builds them.
 */
import type { JsonWebKey } from 'node:crypto'
import type { AuthorizationParams } from './authorization-params.js'
import type { ClientCertificate } from './client-cert.js'
import type { ApiTokenMode, ClientAssertionAud, ClientAuthMethod, Profile, ResponseMode, SessionStoreName } from './enums.js'
import type { ErrorPage, LoginHook } from './hooks.js'
import type { FullLogger, Logger } from './options.js'
import type { ResolvedPreset } from './presets.js'
import type { SessionStore } from '../session-types.js'

/** One provider's validated settings. */
export interface ProviderSettings {
  /** `default` for the one provider of an app configured without `providers`. */
  readonly name: string
  readonly issuer: string | undefined
  readonly endpoints: Readonly<{
    authorization?: string
    token?: string
    userinfo?: string
    revocation?: string
    endSession?: string
    jwks?: string
  }>
  /** True when the authorization and token endpoints are both given: discovery is not attempted. */
  readonly explicitEndpoints: boolean
  readonly clientId: string
  readonly clientSecret: string | undefined
  readonly clientAuthMethod: ClientAuthMethod
  /** The `private_key_jwt` key as a private JWK, parsed at start-up. */
  readonly privateKey: Readonly<JsonWebKey & { kid?: string }> | undefined
  readonly clientAssertionAud: ClientAssertionAud
  /**
   * The mutual-TLS client certificate (RFC 8705), checked at start-up: presented on every
   * connection to the provider and to the APIs `oauth.fetch` calls, when the server asks.
   */
  readonly clientCertificate: ClientCertificate | undefined
  readonly redirectUri: string
  readonly scope: string
  readonly openid: boolean
  readonly postLogoutRedirectUri: string
  readonly par: boolean
  readonly dpop: boolean
  readonly dpopAllowBearer: boolean
  /** `OAUTH_SSF`: receive the provider's Shared Signals events at `routes.ssf`. */
  readonly ssf: boolean
  /** Configured pin; undefined: chosen from the provider's metadata (RS256 first). */
  readonly idTokenSigningAlg: string | undefined
  readonly userinfoSigningAlg: string | undefined
  /** Authorization requests as request objects signed with {@link privateKey} (JAR, RFC 9101). */
  readonly requestObject: boolean
  /** With a JWT response mode (JARM): configured pin; undefined: chosen from the provider's metadata. */
  readonly authorizationSigningAlg: string | undefined
  readonly fetchUserinfo: boolean
  /** Origins (`https://api.example.com`) `oauth.fetch` may send the token to, besides the provider's. */
  readonly apiOrigins: readonly string[]
  /**
   * Extra parameters sent with every authorization request, validated; with APIs whose token is a
   * `resource` grant, their resource indicators too (RFC 8707 §2.1: the grant must name them).
   */
  readonly authorizationParams: AuthorizationParams
  /** The scope of the authorization request: `scope` and the scopes of its `resource`-grant APIs (the grant must include them). */
  readonly loginScope: string
  /** The paths of this provider's login and callback routes: the first is canonical, the others aliases. */
  readonly paths: Readonly<{ login: readonly string[]; callback: readonly string[] }>
  /** What the preset adds beyond the settings it filled: the user source, token quirks, a multi-tenant issuer. */
  readonly preset: ResolvedPreset | undefined
}

/**
 * The app's validated, frozen settings, with each provider's in `providers`. What needs one
 * provider's settings takes them beside this (`(config, provider)`, as oauth4webapi passes the
 * authorization server and the client), so that nothing is "the first provider's" and what
 * talks to a provider does not see the app's secrets.
 */
export interface OAuthConfig {
  readonly baseUrl: URL
  readonly cookieSecrets: readonly string[]
  readonly secure: boolean
  /**
   * Where sessions live: a store named (`redis`: `@codegrant/redis`, opened by {@link redis} where
   * the session backend is created; configuration opens no connection), or `custom`: the
   * {@link customStore} the app passed.
   */
  readonly sessionStore: SessionStoreName | 'custom'
  /**
   * With `sessionStore: 'redis'`: where the store connects to, and how to open it. With `cookie`
   * and `OAUTH_REDIS_URL`: the Redis that keeps the "ended before" records of cookie sessions.
   */
  readonly redis?: RedisOpener
  /** With `sessionStore: 'custom'`: the store the app passed as `sessionStore`; with `memory`, the `memoryStore()` it passed, if any. */
  readonly customStore?: SessionStore
  readonly sessionMaxAge: number
  readonly sessionIdleTimeout: number
  readonly sessionCacheSize: number
  readonly profile: Profile | undefined
  readonly responseMode: ResponseMode
  readonly httpTimeout: number
  readonly refreshSkew: number
  readonly trustProxy: boolean
  readonly clockTolerance: number
  readonly backchannelLogout: boolean
  readonly frontchannelLogout: boolean
  readonly routes: Readonly<{ login: string; callback: string; logout: string; logoutDone: string; backchannelLogout: string; frontchannelLogout: string; ssf: string }>
  readonly logger: FullLogger
  readonly debug: boolean
  /** Query parameters of the login route forwarded to the provider. */
  readonly loginQueryParams: readonly string[]
  readonly silentLogin: boolean
  /** `OAUTH_BFF`: the backend-for-frontend's routes, and its anti-forgery header (lower-case name, exact value). */
  readonly bff: false | Readonly<{ header: string; value: string }>
  /** `user` keeps the ID token's protocol claims (`OAUTH_KEEP_PROTOCOL_CLAIMS`); by default they are left out. */
  readonly keepProtocolClaims: boolean
  readonly onLogin: LoginHook | undefined
  /** The app's renderer of error pages (the `errorPage` option). */
  readonly errorPage: ErrorPage | undefined
  /** Every provider, in configuration order; one (named `default`) unless `providers` is set. */
  readonly providers: readonly ProviderSettings[]
  /** True when the app is configured with `providers` (routes per provider, a chooser page). */
  readonly named: boolean
  /** The provider `/auth/login` goes to without asking (the only one, or `OAUTH_DEFAULT_PROVIDER`). */
  readonly defaultProvider: string | undefined
  /** The APIs of `OAUTH_APIS`, in configuration order; none without it. */
  readonly apis: readonly ApiSettings[]
}

/** One API's validated settings (`OAUTH_APIS`). */
export interface ApiSettings {
  readonly name: string
  /** Its base URL, ending with `/`: paths are joined under it and may not leave it. */
  readonly url: URL
  readonly resource: string | undefined
  readonly audience: string | undefined
  /** Space-separated; `''` when none is configured. */
  readonly scope: string
  readonly token: ApiTokenMode
  /** The provider whose sessions may call it; undefined: any session's own. */
  readonly provider: string | undefined
}

/** What `@codegrant/redis`'s store adds to a {@link SessionStore}. */
export interface RedisConnection extends SessionStore {
  /** One PING, failing after the store's timeout. */
  ping(): Promise<void>
  /** Ends the connection. */
  close(): Promise<void>
}

/** `OAUTH_SESSION_STORE=redis`, checked but not connected. */
export interface RedisOpener {
  /** Where it connects, e.g. `127.0.0.1:6379` or `Sentinel 10.0.0.1:26379 (master mymaster)`; never credentials. */
  readonly address: string
  /** Milliseconds after which a Redis call fails (`OAUTH_REDIS_TIMEOUT`). */
  readonly timeout: number
  /** Opens the store (and its connection); its warnings go to `logger` (default: the configuration's). */
  open(logger?: Logger): RedisConnection
}
