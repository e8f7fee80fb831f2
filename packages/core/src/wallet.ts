/**
 * The token wallet (`OAUTH_APIS`): per session, per API a token of its own, obtained on first use
 * and kept with the session (its cookie or its record), refreshed when due, once per session and
 * API however many requests ask (in this process, and with a store that locks, across instances).
 *
 * A `resource` grant spends the session's refresh token, which a rotating provider replaces at
 * every use; using a spent one makes the provider revoke the whole grant (RFC 9700 §4.14.2). So
 * the grants of one session run one after the other — in this process, and across instances
 * under the session's own refresh lock (the one the login's refresh takes) — each with the newest
 * refresh token and writing over the record the last one left. Exchanges (RFC 8693) spend no
 * refresh token but write the same record, so they queue the same way.
 */
import { randomUUID } from 'node:crypto'
import { now } from './clock.js'
import type { ApiSettings, OAuthConfig } from './config/resolved.js'
import { CodegrantError, isCodegrantError } from './errors.js'
import { memberOf } from './json.js'
import { requestApiToken, type ApiGrantResult } from './flow/api-grant.js'
import { tokenDue } from './flow/refresh.js'
import { canLock, ended, lockTimes, saveRefreshed } from './flow/refresh-lock.js'
import type { ProviderRuntime } from './providers.js'
import type { ApiToken, SessionData, SessionStore } from './session/store.js'
import { singleFlight } from './single-flight.js'

/** How often an instance that waits for another's grant looks at the record. */
const POLL_MS = 50
/** How long this process remembers which refresh token a grant spent and which replaced it. */
const ROTATION_TTL_MS = 10 * 60_000
/** Sessions whose API tokens this process keeps beside their cookie (the oldest go first). */
const KEPT_SESSIONS = 10_000

/** Makes `fresh` the request's session; for cookie sessions, writes its cookie. */
export type SessionWriter = (fresh: SessionData) => Promise<void> | undefined

export interface Wallet {
  /** The API named `name`; a TypeError naming the configured ones for any other. */
  api(name: string): ApiSettings
  /** The API whose base URL holds `url` (the longest match), if it uses a token of its own or may say which it needs. */
  apiFor(url: URL): ApiSettings | undefined
  /** What RFC 9728 discovery learned of the login-token API `api` for sessions of `provider` (this process). */
  learned(api: ApiSettings, provider: string): ApiSettings | undefined
  /** Remembers an API's settings as its metadata gave them (`flow/resource-metadata.ts`). */
  learn(api: ApiSettings, provider: string): void
  /** The session's token for `api` when it holds one not due (and not `renew`): no I/O. */
  ready(session: SessionData, api: ApiSettings, renew?: string): ApiToken | undefined
  /**
   * The session's token for `api`: kept, or obtained now (see {@link Wallet}); `renew`: a token
   * the API refused, not to be handed out again. `write` makes the session with the new token the
   * request's (and, for cookie sessions, sets its cookie); with a store, the record is written first.
   */
  token(runtime: ProviderRuntime, api: ApiSettings, session: SessionData, write: SessionWriter, renew?: string): Promise<ApiToken>
  /** Every API token the session holds, with those this process keeps beside its cookie (logout revokes them). */
  tokensOf(session: SessionData): ApiToken[]
  /** Forgets what this process keeps for the session (logout). */
  forget(session: SessionData): void
}

/**
 * @param store the server-side store, when sessions live in one (the record is then the wallet).
 * @param ttl with a store, seconds a rewritten record lives.
 */
export function createWallet(config: OAuthConfig, store: SessionStore | undefined, ttl: (fresh: SessionData) => number): Wallet {
  const byName = new Map(config.apis.map((api) => [api.name, api]))
  // the APIs `oauth.fetch(url)` routes: those with a token of their own, and those that may say
  // which they need (login-token APIs that name no resource: RFC 9728 discovery)
  const routed = config.apis.filter((api) => api.token !== 'login' || (api.resource === undefined && api.audience === undefined))
  const learned = new Map<string, ApiSettings>()
  // one grant per session and API in this process, shared by every request that asks meanwhile
  const flights = singleFlight<string, ApiToken>()
  // one grant at a time per session in this process (the refresh token rotates; writes build on each other)
  const chains = new Map<string, Promise<unknown>>()
  // cookie sessions: refresh tokens spent by this process's grants → their successors, for
  // requests whose cookie predates them (the record is the truth with a store)
  const rotated = new Map<string, { to: string; until: number }>()
  // cookie sessions: the API tokens this process obtained, by session, for requests whose cookie
  // predates them and for tokens the cookie had no room for
  const kept = new Map<string, Record<string, ApiToken>>()
  let warnedSize = false

  const newestRefreshToken = (token: string | undefined): string | undefined => {
    let current = token
    for (let hops = 0; current !== undefined && hops < 32; hops++) {
      const next = rotated.get(current)
      if (!next || next.until < Date.now()) break
      current = next.to
    }
    return current
  }
  const remember = (from: string, to: string) => {
    const at = Date.now()
    // every entry lives as long: the oldest are first to go
    for (const [spent, { until }] of rotated) {
      if (until > at) break
      rotated.delete(spent)
    }
    rotated.set(from, { to, until: at + ROTATION_TTL_MS })
  }
  const keep = (sid: string, name: string, token: ApiToken) => {
    const tokens = { ...kept.get(sid), [name]: token }
    kept.delete(sid)
    kept.set(sid, tokens)
    const oldest = kept.keys().next()
    if (kept.size > KEPT_SESSIONS && !oldest.done) kept.delete(oldest.value)
  }
  /** The session's token for `name`, or the one this process kept for it, whichever lasts longer (a cookie may predate it). */
  const held = (session: SessionData, name: string): ApiToken | undefined => {
    const own = session.apis?.[name]
    const token = isApiToken(own) ? own : undefined
    const mine = kept.get(session.sid)?.[name]
    if (!token || !mine) return token ?? mine
    return (mine.expiresAt ?? Infinity) > (token.expiresAt ?? Infinity) ? mine : token
  }
  const usable = (token: ApiToken | undefined, renew: string | undefined, at: number): token is ApiToken =>
    token !== undefined && token.accessToken !== renew && !tokenDue(config, token, at)

  /** The session as this grant starts from: with a store its record now, else the request's with the newest refresh token. */
  const current = async (session: SessionData): Promise<SessionData> => {
    if (store) {
      const record = await store.get(session.sid)
      if (!record) throw ended()
      return record
    }
    const newest = newestRefreshToken(session.tokens.refreshToken)
    return newest === undefined || newest === session.tokens.refreshToken ? session : { ...session, tokens: { ...session.tokens, refreshToken: newest } }
  }

  /** Writes the session with `api`'s new token (and the rotated refresh token): the record, or the cookie. */
  const save = async (write: SessionWriter, base: SessionData, api: ApiSettings, result: ApiGrantResult): Promise<void> => {
    const tokens = result.refreshToken ? { ...base.tokens, refreshToken: result.refreshToken } : base.tokens
    const fresh: SessionData = { ...base, tokens, apis: { ...longest(kept.get(base.sid) ?? {}, validApis(base.apis)), [api.name]: result.token } }
    if (store) {
      await saveRefreshed(store, fresh, ttl(fresh))
      await write(fresh)
      return
    }
    keep(base.sid, api.name, result.token)
    if (result.refreshToken && base.tokens.refreshToken) remember(base.tokens.refreshToken, result.refreshToken)
    try {
      await write(fresh)
    } catch (error) {
      if (!isCodegrantError(error, 'codegrant/session_too_large')) throw error
      // the cookie has no room for the API tokens: the session (its rotated refresh token above
      // all) is written without them, and this process keeps them (another instance asks again)
      const { apis: _apis, ...slim } = fresh
      if (!warnedSize) {
        warnedSize = true
        config.logger.warn(`the session cookie has no room for the API tokens (${Object.keys(fresh.apis ?? {}).join(', ')}): they are kept in this process only, so each instance asks for its own; set OAUTH_SESSION_STORE=redis (or memory for one process) to keep them with the session`)
      }
      await write(slim)
    }
  }

  /** One grant for `api`, under the session's lock (refresh-token grants) or the API's (exchanges) when the store locks. */
  const grant = async (runtime: ProviderRuntime, api: ApiSettings, session: SessionData, write: SessionWriter, renew: string | undefined): Promise<ApiToken> => {
    const provider = await runtime.resolve()
    const attempt = async (): Promise<ApiToken> => {
      const base = await current(session)
      const found = held(base, api.name)
      // another request or instance got it meanwhile
      if (usable(found, renew, now())) return found
      const result = await requestApiToken(config, provider, api, base, now())
      await save(write, base, api, result)
      return result.token
    }
    if (!store || !canLock(store)) return attempt()
    // the session's own lock, the one its refresh takes: each write starts from the record the
    // last one left (an exchange written over a resource grant's record would bring back a spent
    // refresh token)
    const key = session.sid
    const { lockMs, waitMs } = lockTimes(config)
    const owner = randomUUID()
    const deadline = Date.now() + waitMs
    for (;;) {
      if (await store.lock(key, owner, lockMs)) {
        try {
          return await attempt()
        } finally {
          await Promise.resolve(store.unlock(key, owner)).catch(() => undefined)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      const found = held(await current(session), api.name)
      if (usable(found, renew, now())) return found
      if (Date.now() > deadline) throw new CodegrantError('codegrant/store_unavailable', `Another instance is still getting this session's token for the API ${api.name}. Try again in a moment.`)
    }
  }

  return {
    api(name) {
      const api = byName.get(name)
      if (!api) throw new TypeError(`codegrant: no API named ${JSON.stringify(name)}${config.apis.length ? ` (OAUTH_APIS lists ${config.apis.map((known) => known.name).join(', ')})` : ' (OAUTH_APIS lists none)'}`)
      return api
    },
    apiFor(url) {
      let best: ApiSettings | undefined
      for (const api of routed) {
        // the base URL itself, with or without its final slash (`https://mcp.example.com/mcp`)
        const under = url.pathname.startsWith(api.url.pathname) || url.pathname === api.url.pathname.slice(0, -1)
        if (url.origin === api.url.origin && under && (!best || api.url.pathname.length > best.url.pathname.length)) best = api
      }
      return best
    },
    learned: (api, provider) => learned.get(`${provider}\0${api.name}`),
    learn(api, provider) {
      learned.set(`${provider}\0${api.name}`, api)
    },
    ready(session, api, renew) {
      const found = held(session, api.name)
      return usable(found, renew, now()) ? found : undefined
    },
    async token(runtime, api, session, write, renew) {
      const found = held(session, api.name)
      if (usable(found, renew, now())) return found
      const key = `${session.sid}\0${api.name}`
      const flight = flights.get(key)
      if (flight && !flight.done) return flight.result
      const run = () => grant(runtime, api, session, write, renew)
      // after the session's other grants in this process: each starts from what the last left
      const before = chains.get(session.sid) ?? Promise.resolve()
      const result = before.then(run, run)
      const settled = result.catch(() => undefined)
      chains.set(session.sid, settled)
      void settled.then(() => { if (chains.get(session.sid) === settled) chains.delete(session.sid) })
      return flights.start(key, { result }, () => 0).result
    },
    tokensOf(session) {
      return [...new Map([...Object.entries(kept.get(session.sid) ?? {}), ...Object.entries(validApis(session.apis))]).values()]
    },
    forget(session) {
      kept.delete(session.sid)
    },
  }
}

function isApiToken(value: unknown): value is ApiToken {
  return typeof memberOf(value, 'accessToken') === 'string' && typeof memberOf(value, 'tokenType') === 'string'
}

/** Per API, whichever of two wallets' tokens lasts longer (one may come with a cookie from before the other). */
function longest(a: Record<string, ApiToken>, b: Record<string, ApiToken>): Record<string, ApiToken> {
  const merged = { ...a }
  for (const [name, token] of Object.entries(b)) {
    const other = merged[name]
    if (!other || (token.expiresAt ?? Infinity) >= (other.expiresAt ?? Infinity)) merged[name] = token
  }
  return merged
}

/** A record's or cookie's wallet, its entries checked. */
function validApis(apis: SessionData['apis']): Record<string, ApiToken> {
  return Object.fromEntries(Object.entries(apis ?? {}).filter(([, token]) => isApiToken(token)))
}

/**
 * `path` joined under the API's base URL, which it may not leave: an absolute URL, a
 * protocol-relative one, dot segments (`..`, also percent-encoded), encoded slashes and
 * backslashes are refused, so that a path built from input cannot carry the API's token to another
 * resource on its host.
 *
 * @throws {CodegrantError} `codegrant/origin_not_allowed` (the app's own error, 500).
 */
export function apiUrl(api: ApiSettings, path: string): URL {
  const refuse = (why: string) => new CodegrantError('codegrant/origin_not_allowed', `oauth.fetch refused the path for the API ${api.name}: ${why}`)
  if (typeof path !== 'string') throw refuse('it is not a string')
  const end = path.search(/[?#]/)
  const pathname = end === -1 ? path : path.slice(0, end)
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    throw refuse('it is not a valid percent-encoded path')
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('//')) throw refuse('give a path under its URL, not a URL')
  if (decoded.includes('\\') || /%2f|%5c/i.test(pathname) || /(^|\/)\.{1,2}(\/|$)/.test(decoded)) throw refuse('it may not leave the API\'s base path (dot segments, encoded or back slashes)')
  const url = new URL(`./${path.replace(/^\/+/, '')}`, api.url)
  if (url.origin !== api.url.origin || !url.pathname.startsWith(api.url.pathname)) throw refuse("it leaves the API's base path")
  return url
}
