/**
 * Sessions as a control plane, with a server-side store: a user's sessions listed ("my devices")
 * and ended, one or all, from `req.oauth.sessions` (the signed-in user's own) and from
 * `codegrant.sessions` (any user's, for admin tooling). Ending a session destroys its record, so
 * it ends on every instance that shares the store, and revokes its refresh token at the provider.
 * Sessions are found through the index every new session is filed in (`session/user-index.ts`).
 *
 * Cookie sessions live in their browsers: they cannot be listed, and none but the current one can
 * be ended by its handle. With `OAUTH_REDIS_URL`, `endAll` ends them all the same, by an "ended
 * before" record (`session/ended.ts`): each ends at its next request, on whichever instance.
 */
import { now } from './clock.js'
import { cookiesOf, sessionOf, type Context, type Engine } from './context.js'
import { CodegrantError } from './errors.js'
import { revokeSession } from './flow/logout.js'
import { isLive } from './session/backend.js'
import { identityOf } from './session/identity.js'
import type { SessionData } from './session/store.js'
import { canIndex, handleOf, handleTag, userTag, type IndexingStore } from './session/user-index.js'

/** One of a user's sessions, as a list shows it: never its id, tokens or claims. */
export interface SessionInfo {
  /** The session's handle, for `end(id)`: derived from the session id, not the id itself. */
  readonly id: string
  /** The provider the user signed in with, by name. */
  readonly provider: string
  /** When the user signed in, seconds since the epoch. */
  readonly createdAt: number
  /** When the session was last used, seconds (renewed at most every idle timeout / 20). */
  readonly lastSeenAt: number
  /** Its absolute end, seconds. */
  readonly expiresAt: number
  /** The browser it began in, summarised ("Firefox on Linux"), when known. */
  readonly device: string | undefined
  /** True for the session of the request that asked (`req.oauth.sessions.list()`). */
  readonly current: boolean
}

/** Which user: their `sub` at a provider (the provider's, not your app's id). */
export interface UserOptions {
  /** The provider's name (`default` in an app with one provider); default: every provider. */
  provider?: string
}

/** Sessions to keep when ending all of a user's sessions: handles from `list()`. */
export interface EndAllOptions {
  except?: string | readonly string[]
}

/** Any user's sessions, for admin tooling: `codegrant.sessions`. */
export interface SessionControl {
  /**
   * The user's live sessions, newest first.
   *
   * @throws {CodegrantError} `codegrant/config_invalid` with cookie sessions (known only to their
   *   browsers: they cannot be listed) or a store that keeps no index (`tag`/`tagged`);
   *   `codegrant/store_unavailable` when the store fails.
   */
  list(sub: string, options?: UserOptions): Promise<SessionInfo[]>
  /**
   * Ends one session by its handle, on every instance, and revokes its refresh token.
   *
   * @returns false when no such session lives.
   */
  end(id: string): Promise<boolean>
  /**
   * Ends every session of the user but those `except` names, on every instance; returns how many
   * ended. With cookie sessions and `OAUTH_REDIS_URL` (the admin's kill switch): every session of
   * the user that began until now ends at its next request; they cannot be counted (0 is returned)
   * nor listed, so `except` is refused.
   *
   * @throws {CodegrantError} `codegrant/config_invalid` with cookie sessions without
   *   `OAUTH_REDIS_URL`, or with `except`; `codegrant/store_unavailable` when the store fails.
   */
  endAll(sub: string, options?: UserOptions & EndAllOptions): Promise<number>
}

/** The signed-in user's own sessions: `req.oauth.sessions`. */
export interface UserSessions {
  /**
   * The signed-in user's live sessions (`current` marks this one), newest first.
   *
   * @throws {CodegrantError} `codegrant/unauthenticated` when signed out; as {@link SessionControl.list}.
   */
  list(): Promise<SessionInfo[]>
  /**
   * Ends one of the signed-in user's sessions by its handle ("sign out that device"); false when it
   * is none of theirs. With cookie sessions only the current session can be ended so, by its
   * handle (its cookie cleared in this response, its refresh token revoked); any other is false.
   */
  end(id: string): Promise<boolean>
  /**
   * Ends the signed-in user's sessions; `{ except: 'current' }` keeps this one ("sign out other
   * devices"). Returns how many ended. With cookie sessions and `OAUTH_REDIS_URL`, every one of
   * them ends, this one too, and 0 is returned (see {@link SessionControl.endAll}).
   */
  endAll(options?: { except?: 'current' | string | readonly string[] }): Promise<number>
}

/** `codegrant.sessions`: the control plane over the engine's store. */
export function createSessionControl(engine: Engine): SessionControl {
  const providerNames = (options: UserOptions = {}) => {
    if (options.provider === undefined) return engine.providers.list.map((runtime) => runtime.name)
    if (!engine.providers.byName(options.provider)) throw new TypeError(`codegrant: sessions: ${JSON.stringify(options.provider)} is not a provider of this app`)
    return [options.provider]
  }
  return {
    list: async (sub, options) => listSessions(engine, providerNames(options), sub, undefined),
    end: (id) => endSession(engine, id),
    async endAll(sub, options = {}) {
      if (endedRecords(engine)) return endCookieSessions(engine, providerNames(options), sub, options.except)
      const keep = new Set(typeof options.except === 'string' ? [options.except] : options.except ?? [])
      const sessions = await listSessions(engine, providerNames(options), sub, undefined)
      const ended = await Promise.all(sessions.filter((session) => !keep.has(session.id)).map((session) => endSession(engine, session.id)))
      return ended.filter(Boolean).length
    },
  }
}

/** `req.oauth.sessions` for one request: its user, by the session's identity. */
export function userSessions(context: Context): UserSessions {
  const own = () => {
    const session = sessionOf(context)
    const identity = session && identityOf(session)
    const provider = session && context.engine.providers.of(session)?.name
    if (!session || !identity || provider === undefined) throw context.unavailable ?? new CodegrantError('codegrant/unauthenticated', 'Not signed in.')
    return { session, sub: identity.sub, provider }
  }
  const list = () => {
    const { session, sub, provider } = own()
    return listSessions(context.engine, [provider], sub, handleOf(session.sid))
  }
  return {
    list,
    async end(id) {
      if (context.engine.backend.kind === 'cookie') return id === handleOf(own().session.sid) && endCurrent(context)
      const mine = await list()
      return mine.some((session) => session.id === id) ? endSession(context.engine, id) : false
    },
    async endAll(options = {}) {
      if (endedRecords(context.engine)) {
        const { sub, provider } = own()
        const ended = await endCookieSessions(context.engine, [provider], sub, options.except)
        signOut(context)
        return ended
      }
      const mine = await list()
      const except = options.except === 'current' ? mine.filter((session) => session.current).map((session) => session.id) : options.except
      const keep = new Set(typeof except === 'string' ? [except] : except ?? [])
      const ended = await Promise.all(mine.filter((session) => !keep.has(session.id)).map((session) => endSession(context.engine, session.id)))
      return ended.filter(Boolean).length
    },
  }
}

/**
 * Cookie sessions: every session of the user at `providers` ended by an "ended before" record.
 * Nothing lists them, so none can be kept (`except`) and none counted: 0.
 */
async function endCookieSessions(engine: Engine, providers: readonly string[], sub: string, except: string | readonly string[] | undefined): Promise<number> {
  const records = endedRecords(engine)!
  if (except !== undefined && except.length > 0) {
    throw new CodegrantError('codegrant/config_invalid', 'Ending all but some of a user\'s sessions (except) needs a server-side session store (OAUTH_SESSION_STORE=memory or redis): cookie sessions cannot be listed.')
  }
  await Promise.all(providers.map((provider) => records.endUser(provider, sub)))
  return 0
}

/** Cookie sessions' "ended before" records (`OAUTH_REDIS_URL`), if kept. */
function endedRecords(engine: Engine) {
  return engine.backend.kind === 'cookie' ? engine.records : undefined
}

/** The current cookie session ended: its cookie cleared in this response, its refresh token revoked. */
async function endCurrent(context: Context): Promise<boolean> {
  const session = signOut(context)
  const provider = session && (await context.engine.providers.of(session)?.resolve().catch(() => undefined))
  if (session && provider) await revokeSession(context.engine.config, provider, session)
  return session !== undefined
}

/** Signs the request out: its session cookie cleared in this response. Returns the session it had. */
function signOut(context: Context) {
  const session = sessionOf(context)
  const cleared = context.engine.backend.clear(cookiesOf(context), undefined)
  if (!(cleared instanceof Promise)) context.sink(cleared, context.target)
  context.session = undefined
  return session
}

function indexed(engine: Engine): IndexingStore {
  const { store } = engine.backend
  if (!canIndex(store)) {
    throw new CodegrantError(
      'codegrant/config_invalid',
      store === undefined
        ? 'Listing and ending a user\'s sessions needs a server-side session store (OAUTH_SESSION_STORE=memory or redis): cookie sessions are known only to their browser (with OAUTH_REDIS_URL, sessions.endAll() ends them all).'
        : 'Listing and ending a user\'s sessions needs a session store that keeps an index (tag and tagged, as the memory and Redis stores do).',
    )
  }
  return store
}

/** The live sessions filed under the user at each of `providers`, newest first. */
async function listSessions(engine: Engine, providers: readonly string[], sub: string, current: string | undefined): Promise<SessionInfo[]> {
  const store = indexed(engine)
  const ids = [...new Set((await Promise.all(providers.map((provider) => store.tagged(userTag(provider, sub))))).flat())]
  const records = await Promise.all(ids.map((sid) => store.get(sid)))
  const at = now()
  return records
    .filter((data): data is SessionData => data !== undefined && isLive(data, at, engine.config))
    .map((data) => {
      const id = handleOf(data.sid)
      return { id, provider: identityOf(data)?.provider ?? '', createdAt: data.iat, lastSeenAt: data.uat, expiresAt: data.exp, device: data.device, current: id === current }
    })
    .sort((a, b) => b.createdAt - a.createdAt)
}

/** Ends the session with handle `id`: its record destroyed, then its refresh token revoked (best effort). */
async function endSession(engine: Engine, id: string): Promise<boolean> {
  const store = indexed(engine)
  const sids = await store.tagged(handleTag(id))
  let ended = false
  for (const sid of sids) {
    // a handle is the session id's: another session filed under it is not this one
    if (handleOf(sid) !== id) continue
    const data = await store.get(sid)
    if (!data) continue
    await store.destroy(sid)
    ended = true
    const runtime = engine.providers.of(data)
    const provider = await runtime?.resolve().catch(() => undefined)
    if (provider) await revokeSession(engine.config, provider, data)
  }
  return ended
}
