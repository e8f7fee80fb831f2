/**
 * What a session holds and what a session store is: the shapes an app meets in its own code (a
 * store it passes as `sessionStore`, the user and tokens its `onLogin` hook is given) and the
 * configuration names. Types, and the one predicate the configuration needs of a store; the
 * session layer (session/store.ts) reads and checks sessions with them. Imports nothing of
 * codegrant's: everything above may use it.
 */
import type { JsonWebKey } from 'node:crypto'

/**
 * A session's DPoP key pair (RFC 9449), as kept with the session: the private JWK (which holds
 * the public part too). It lives only inside the encrypted session cookie or the server-side
 * session record (and, between login and callback, the encrypted transaction cookie); it is
 * never logged, never put in an error, never sent anywhere in clear.
 */
export interface DpopKey {
  alg: string
  jwk: JsonWebKey
}

/** The user's tokens, as kept in the session (never sent to the browser in clear). */
export interface TokenSet {
  accessToken: string
  refreshToken?: string
  idToken?: string
  /** `Bearer`, or `DPoP` for a sender-constrained token (RFC 9449): the `Authorization` scheme to send it with. */
  tokenType: string
  scope: string
  /** Access-token expiry, seconds since the epoch; undefined when the provider did not say. */
  expiresAt?: number
  /** Lifetime the provider gave the access token (seconds), used to cap the refresh skew. */
  expiresIn?: number
}

/**
 * One API's token (`OAUTH_APIS`), as kept in the session's wallet: obtained on first use for that
 * API alone (its `aud` and scope), never sent anywhere else.
 */
export type ApiToken = Pick<TokenSet, 'accessToken' | 'tokenType' | 'scope' | 'expiresAt' | 'expiresIn'>

/** The standard OpenID Connect claims (OpenID Connect Core 1.0 §5.1), all optional but `sub`. */
export interface StandardClaims {
  sub: string
  name?: string
  given_name?: string
  family_name?: string
  middle_name?: string
  nickname?: string
  preferred_username?: string
  profile?: string
  picture?: string
  website?: string
  email?: string
  email_verified?: boolean
  gender?: string
  birthdate?: string
  zoneinfo?: string
  locale?: string
  phone_number?: string
  phone_number_verified?: boolean
  address?: { formatted?: string; street_address?: string; locality?: string; region?: string; postal_code?: string; country?: string }
  updated_at?: number
}

/**
 * The user's claims: the ID token's without its protocol claims (`iss`, `aud`, `exp`, `nonce`,
 * …, unless `keepProtocolClaims`), merged with userinfo where configured, or what `onLogin` made
 * of them. Standard claims are typed; add your own by declaration merging:
 *
 * @example
 * declare module '@codegrant/core' {
 *   interface UserClaims { groups?: string[]; roles?: string[] }
 * }
 */
export interface UserClaims extends StandardClaims {
  [claim: string]: unknown
}

export interface SessionData {
  /** Session id: 128+ random bits, new at every login (no fixation). */
  sid: string
  /** Issued, last used, and absolute expiry, seconds since the epoch. */
  iat: number
  uat: number
  exp: number
  /**
   * The user's claims when they are not simply the ID token's (userinfo merged, no ID token, or
   * what the app's `onLogin` hook returned). Otherwise absent, and read from `tokens.idToken`:
   * the claims are not stored twice, which keeps cookie sessions small. Read it with
   * `sessionUser` (session/store.ts). The app's to shape: no protocol decision reads it (they
   * read `identity`).
   */
  user?: UserClaims
  /** True when `user` is what the app's `onLogin` hook returned: a refresh leaves it as the hook made it. */
  userByApp?: true
  /**
   * The provider's validated identity of the user, taken at the callback before the app's hook
   * ran (see `session/identity.ts`). Absent only in sessions from before it was kept: those are
   * read through their stored ID token (`identityOf`).
   */
  identity?: SessionIdentity
  tokens: TokenSet
  /**
   * With DPoP: the session's key pair (private JWK), which its tokens are bound to. Kept only
   * here: inside the encrypted cookie, or in the server-side record. Gone with the session.
   */
  dpop?: DpopKey
  /** What the app's `onLogin` hook added to the session (kept in the cookie with the rest). */
  data?: Record<string, unknown>
  /**
   * The wallet: each API's own token (`OAUTH_APIS` with token mode `resource` or `exchange`), by
   * API name, obtained on first use. A new login starts without; a refresh of the login's tokens
   * keeps them (same grant, same user: each is refreshed on its own when due).
   */
  apis?: Record<string, ApiToken>
  /**
   * The scopes this session's login added because an API asked for them (`insufficient_scope`,
   * through the login route's `scope`): an API that still refuses them is not offered that login
   * again (one attempt, never a loop).
   */
  added?: string
  /**
   * With a server-side store: the browser the session was started in, summarised ("Firefox on
   * Linux"), for the user's list of sessions (`oauth.sessions.list()`).
   */
  device?: string
  /**
   * Sessions from before `identity` was kept: the provider the user signed in with, by name, when
   * the app had several. No longer written (`identity.provider` is).
   */
  provider?: string
}

/**
 * The provider's validated identity of the session's user (see `session/identity.ts`). Stored in
 * every session from the callback on (a few dozen bytes: cookie sessions have a size budget).
 */
export interface SessionIdentity {
  /** The provider the user signed in with, by name (`default` in an app with one provider). */
  readonly provider: string
  /** The issuer that vouched for the user: the ID token's validated `iss`, or the provider's issuer without one. */
  readonly iss: string
  /** The user at that issuer: the ID token's `sub`, or the user source's without one. */
  readonly sub: string
  /** The provider session (`sid`), when the ID token named one: what logout tokens end. */
  readonly sid?: string
  /** When the user last authenticated at the provider (the ID token's `auth_time`): step-up `maxAge`. */
  readonly auth_time?: number
  /** How the user authenticated (the ID token's `acr`): step-up `acr`. */
  readonly acr?: string
}

export type MaybePromise<T> = T | Promise<T>

/**
 * A server-side session store. The browser then carries only an encrypted session id.
 * Implementations must fail loudly (reject) rather than report a session as missing when
 * the store is unreachable, and should bound every call with a timeout.
 *
 * The optional members make a store safe for several instances (and for back-channel logout);
 * the memory store and `@codegrant/redis` implement all of them. A store without them works
 * for one process: refreshes are then coordinated per process only, and writes after a refresh
 * fall back to `get` + `set`.
 */
export interface SessionStore {
  get(sid: string): MaybePromise<SessionData | undefined>
  /** Creates or replaces a record. @param ttl seconds until the record may be discarded */
  set(sid: string, data: SessionData, ttl: number): MaybePromise<void>
  destroy(sid: string): MaybePromise<void>
  /**
   * Replaces a record only if it still exists (atomically): a session destroyed meanwhile (logout
   * on another instance, back-channel logout) stays destroyed. Resolves false when it was gone.
   */
  update?(sid: string, data: SessionData, ttl: number): MaybePromise<boolean>
  /**
   * Takes the session's refresh lock for `owner` unless someone holds it; the lock lapses after
   * `ttlMs` if its holder dies. Resolves true when taken.
   */
  lock?(sid: string, owner: string, ttlMs: number): MaybePromise<boolean>
  /** Releases the lock only if `owner` still holds it (compare-and-delete). */
  unlock?(sid: string, owner: string): MaybePromise<void>
  /** Files the session under `tag` (a provider `sid` or `sub`) until `ttl` seconds have passed. */
  tag?(tag: string, sid: string, ttl: number): MaybePromise<void>
  /** The sessions filed under `tag` (some may be gone already). */
  tagged?(tag: string): MaybePromise<string[]>
  /** Records a one-time `key` for `ttl` seconds; resolves false when it was already recorded. */
  once?(key: string, ttl: number): MaybePromise<boolean>
  /**
   * Records that the sessions filed under `key` (a user's `sub` or a provider session's `sid`, see
   * `session/ended.ts`) which began before `before` (seconds since the epoch) are over, for `ttl`
   * seconds (a later time already recorded is kept). What ends cookie sessions from the server:
   * `@codegrant/redis` implements it, and `OAUTH_REDIS_URL` beside cookie sessions uses it.
   */
  endBefore?(key: string, before: number, ttl: number): MaybePromise<void>
  /**
   * The time `endBefore` recorded for `key`, if any. Read on every request that carries a
   * session: a store should answer from memory while the record is unchanged (`@codegrant/redis`
   * answers synchronously from its client-side cache, absent records included).
   */
  endedBefore?(key: string): MaybePromise<number | undefined>
  /**
   * A number that changes whenever what `endedBefore` answers from memory may have changed (a
   * record cached, dropped or invalidated, the cache flushed); undefined while it does not answer
   * from memory. codegrant keeps each session's verdict while it is unchanged, so a request
   * whose records have not changed reads none (`@codegrant/redis`: its client-side cache's version).
   */
  recordsVersion?(): number | undefined
  /**
   * Drops whatever the store keeps of records in this process (a cache): codegrant calls it when
   * the store's circuit breaker opens, so that nothing kept from before an outage is served after
   * it (`@codegrant/redis`'s session cache).
   */
  flushCache?(): void
}

/** A store that coordinates instances and serves back-channel logout. */
export type CoordinatingStore = Required<Omit<SessionStore, 'flushCache' | 'endBefore' | 'endedBefore' | 'recordsVersion'>> & Pick<SessionStore, 'flushCache' | 'endBefore' | 'endedBefore' | 'recordsVersion'>

export function isCoordinating(store: SessionStore): store is CoordinatingStore {
  const { update, lock, unlock, tag, tagged, once } = store
  return [update, lock, unlock, tag, tagged, once].every((member) => typeof member === 'function')
}

/** The stores `memoryStore()` made (not copies of them: a spread or wrapped store is the app's own). */
const memoryStores = new WeakSet<object>()

/** Marks a store `memoryStore()` made (session/memory-store.ts). */
export function markMemoryStore<T extends SessionStore>(store: T): T {
  memoryStores.add(store)
  return store
}

/**
 * True for a store `memoryStore()` made, as it was made: passed as `sessionStore` (for its
 * `maxSessions`), it is served like `OAUTH_SESSION_STORE=memory` — synchronously, with no
 * breaker and no store spans, since it cannot fail — and not like an external store.
 */
export function isMemoryStore(store: unknown): store is SessionStore {
  return typeof store === 'object' && store !== null && memoryStores.has(store)
}
