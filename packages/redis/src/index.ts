import { createHash } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import type { CoordinatingStore, Logger, SessionData } from '@codegrant/core'
import { createClient, createCluster, createSentinel, TimeoutError, TimeoutReadError, type RedisClientOptions, type RedisClientType, type RedisClusterType, type RedisSentinelType } from '@redis/client'
import { CACHE_ENTRIES, SessionCache, type SessionCacheLimits } from './session-cache.js'

export { estimateBytes, SessionCache, type SessionCacheLimits } from './session-cache.js'

/** A node-redis client: a single Redis, a Cluster or a Sentinel-watched master. */
/** The node-redis client of each kind, as `connect` makes it: RESP3, no modules, functions or scripts of the app's. */
export type RedisConnectionClient = RedisClientType<{}, {}, {}, 3, {}> | RedisClusterType<{}, {}, {}, 3, {}> | RedisSentinelType<{}, {}, {}, 3, {}>

export interface RedisStoreOptions {
  /**
   * `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), a comma-separated list of cluster
   * nodes (`redis://h1:7000,redis://h2:7001` or `h1:7000,h2:7001`), or Sentinel as
   * `redis+sentinel://[user:pass@]h1:26379,h2:26379/<master name>` (`rediss+sentinel://…`: TLS to
   * the sentinels and to the master). `OAUTH_REDIS_URL`. A URL whose security cannot be honoured
   * (TLS and plain-text entries mixed, options in a query string) is refused.
   */
  url?: string
  /**
   * TLS settings for a `rediss://` or `rediss+sentinel://` URL — a private CA (`ca`), a client
   * certificate (`cert`, `key`), `servername` — used for every connection: the sentinels, the
   * master, each cluster node. Without it the system's CAs verify the server (and
   * `NODE_EXTRA_CA_CERTS` can add one). Refused with a plain-text URL.
   */
  tls?: ConnectionOptions
  /** Treat `url` as Redis Cluster nodes even when it names only one. `OAUTH_REDIS_CLUSTER`. */
  cluster?: boolean
  /** Prefix of every key. `OAUTH_REDIS_PREFIX`, default `codegrant:`. */
  prefix?: string
  /** Milliseconds after which any Redis call fails (what needs the session then answers 503; other requests go on signed out). `OAUTH_REDIS_TIMEOUT`, default 2000. */
  timeout?: number
  /**
   * Session records read are kept in this process and served from memory until Redis says they
   * changed (server-assisted client-side caching: `CLIENT TRACKING`, RESP3; see
   * {@link SessionCache} and the README's consistency promise). On by default, with its bounds;
   * `false` reads Redis on every request (for a server or proxy without `CLIENT TRACKING`).
   * `OAUTH_REDIS_CACHE`.
   */
  cache?: boolean | SessionCacheLimits
  logger?: Logger
}

/** `@codegrant/redis`'s store: a {@link CoordinatingStore} with "ended before" records, plus `close()`. */
export interface RedisStore extends CoordinatingStore {
  endBefore(key: string, before: number, ttl: number): Promise<void>
  /** Answered synchronously from the client-side cache while the record (or its absence) is unchanged. */
  endedBefore(key: string): number | undefined | Promise<number | undefined>
  /** The session cache's version while it serves: unchanged, so are the records `endedBefore` answers from it. */
  recordsVersion(): number | undefined
  /** The node-redis client (RESP3): a single Redis, a Cluster or a Sentinel-watched master. */
  readonly client: RedisConnectionClient
  /** The session cache, when caching is on. */
  readonly cache: SessionCache | undefined
  /** One PING, failing after `timeout` (as every call does): to check the connection. */
  ping(): Promise<void>
  /** Drops every cached session record (codegrant calls it when its store breaker opens). */
  flushCache(): void
  /** Closes the connection: at once when it is not up. */
  close(): Promise<void>
}

type Env = Readonly<Record<string, string | undefined>>

// A session's keys share the hash tag `{sid}`: one cluster slot, so each script touches one node.
const UPDATE_IF_EXISTS = `if redis.call('exists', KEYS[1]) == 1 then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0`
const COMPARE_AND_DELETE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`
const TAG = `redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
if redis.call('pttl', KEYS[1]) < tonumber(ARGV[4]) then redis.call('pexpire', KEYS[1], ARGV[4]) end
return 1`
// an "ended before" record keeps the later time (two instances ending the same user at once)
const END_BEFORE = `local current = tonumber(redis.call('get', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

/** The commands the store sends, as the three kinds of node-redis client all offer them. */
interface Commands {
  get(key: string): Promise<string | null>
  set(key: string, value: string, options: { expiration: { type: 'PX'; value: number }; condition?: 'NX' }): Promise<string | null>
  del(key: string): Promise<number>
  zRangeByScore(key: string, min: number, max: string): Promise<string[]>
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/**
 * How often the store PINGs every connection that carries invalidations, and how long after a
 * PING answered its cache may serve: a connection that silently stops (a partition without a
 * reset) stops the hits within {@link CONFIRM_WINDOW_MS}.
 */
const HEARTBEAT_MS = 1000
const CONFIRM_WINDOW_MS = 2500

/**
 * A Redis session store (node-redis, RESP3): single Redis, Sentinel, or Redis Cluster. Records
 * expire with the session; the refresh lock and conditional writes are Lua scripts on one slot;
 * every call fails after `timeout` ms instead of hanging, and node-redis reconnects by itself.
 * Session records read are cached in the process and invalidated by Redis (see `cache`).
 *
 * @example
 * app.use(oauth({ sessionStore: redisStore({ url: 'redis://localhost:6379' }) }))
 */
export function redisStore(options: RedisStoreOptions = {}): RedisStore {
  const prefix = options.prefix ?? 'codegrant:'
  const timeout = options.timeout ?? 2000
  const session = (sid: string) => `${prefix}{${sid}}:session`
  const ended = (key: string) => `${prefix}ended:{${key}}`
  const cache = options.cache === false
    ? undefined
    : new SessionCache((key) => key.startsWith(prefix) && key.endsWith('}:session'), options.cache === true ? {} : options.cache, (key) => key.startsWith(`${prefix}ended:{`))
  const url = options.url ?? 'redis://localhost:6379'
  const { client, masters, bounded } = connect(url, options.cluster ?? false, timeout, options.tls, cache)
  // messages name where Redis is and the setting that says so, never the URL (it may hold a password)
  const failed: FailureContext = { where: `Redis at ${describeRedisUrl(url, options.cluster ?? false).replace(/^Redis /, '')} (OAUTH_REDIS_URL)`, lastError: () => undefined }
  failed.lastError = watch(client, options.logger, failed.where)
  // node-redis retries a lost connection by itself, but not a first connection (or a Cluster's
  // first discovery) that failed: the next call opens it again
  let opening: Promise<unknown> = Promise.resolve()
  const open = (): Promise<unknown> => {
    if (!client.isOpen) opening = client.connect().catch(() => undefined)
    return opening
  }
  open()
  // a single Redis that answers READONLY was demoted by a failover (its DNS name may point at
  // the new master now): reconnect, once for all calls that met it, and resend the command once
  let reconnecting: Promise<unknown> | undefined
  const reconnect = () =>
    (reconnecting ??= (async () => {
      if (client.isOpen) client.destroy()
      await open()
    })().finally(() => {
      reconnecting = undefined
    }))
  // the commands the store sends, as every kind of client offers them (checked by the compiler)
  const commands: Commands = client
  const lockKey = (sid: string) => `${prefix}{${sid}}:lock`
  const tagKey = (tag: string) => `${prefix}tag:{${tag}}`
  const onceKey = (key: string) => `${prefix}once:{${key}}`
  const ms = (seconds: number) => Math.max(1, Math.ceil(seconds * 1000))
  const px = (value: number) => ({ type: 'PX' as const, value })
  const call = <T>(what: string, run: () => Promise<T>): Promise<T> => {
    if (bounded) {
      open()
      return named(run().catch((error: unknown) => (isReadonly(error) ? reconnect().then(run) : Promise.reject(error))), what, timeout, failed)
    }
    // a Cluster or Sentinel client refuses commands until its topology is known: wait for it
    return within(client.isReady ? run() : open().then(run), timeout, what, failed)
  }
  const parsed = createParsedRecords()
  const cachedKey = sameKeys(session, CACHE_ENTRIES)
  const script = scripts(commands)
  const heartbeat = cache && startHeartbeat(cache, async () => (client.isReady ? masters() : []))
  // confirmed as soon as connected, not a heartbeat later
  if (heartbeat) void opening.then(heartbeat.beat)

  return {
    client,
    cache,
    // not async: a cached record is answered without a promise, as the memory store answers, so a
    // guarded request whose session is cached goes on synchronously (no await in the core, the
    // adapter or the framework's hook); the answer is the same record a microtask later would give
    get(sid) {
      const key = cachedKey(sid)
      const hit = cache?.read(key)
      if (hit !== undefined && hit.raw !== null) return (hit.data ??= parsed.read(sid, hit.raw))
      return call('GET', () => commands.get(key)).then((raw) => {
        if (raw === null) {
          parsed.forget(sid)
          return undefined
        }
        const data = parsed.read(sid, raw)
        if (data !== undefined) cache?.remember(key, raw, data)
        return data
      })
    },
    async set(sid, data, ttl) {
      await call('SET', () => commands.set(session(sid), JSON.stringify(data), { expiration: px(ms(ttl)) }))
    },
    async update(sid, data, ttl) {
      return (await call('update', () => script(UPDATE_IF_EXISTS, session(sid), JSON.stringify(data), String(ms(ttl))))) === 1
    },
    async destroy(sid) {
      await call('DEL', () => commands.del(session(sid)))
    },
    async lock(sid, owner, ttlMs) {
      return (await call('SET NX', () => commands.set(lockKey(sid), owner, { expiration: px(Math.max(1, Math.ceil(ttlMs))), condition: 'NX' }))) === 'OK'
    },
    async unlock(sid, owner) {
      await call('unlock', () => script(COMPARE_AND_DELETE, lockKey(sid), owner))
    },
    async tag(tag, sid, ttl) {
      const now = Date.now()
      await call('tag', () => script(TAG, tagKey(tag), String(now + ms(ttl)), sid, String(now), String(ms(ttl))))
    },
    async tagged(tag) {
      return call('ZRANGEBYSCORE', () => commands.zRangeByScore(tagKey(tag), Date.now(), '+inf'))
    },
    async endBefore(key, before, ttl) {
      await call('end before', () => script(END_BEFORE, ended(key), String(before), String(ms(ttl))))
    },
    // not async: a cached answer (the usual "no record") is given without a promise, on the request's hot path
    endedBefore(key) {
      const name = ended(key)
      const hit = cache?.read(name)
      if (hit !== undefined) return timeOf(hit.raw)
      return call('GET', () => commands.get(name)).then(timeOf)
    },
    async once(key, ttl) {
      return (await call('SET NX', () => commands.set(onceKey(key), '1', { expiration: px(ms(ttl)), condition: 'NX' }))) === 'OK'
    },
    async ping() {
      await call('PING', async () => {
        await Promise.all((await masters()).map((master) => master.ping()))
      })
    },
    flushCache() {
      cache?.clear()
    },
    recordsVersion() {
      return cache?.version
    },
    async close() {
      heartbeat?.stop()
      cache?.clear()
      // QUIT would wait for a Redis that is down: drop the connection then
      if (client.isReady) await client.close().catch(() => client.destroy())
      else if (client.isOpen) client.destroy()
    },
  }
}

/**
 * The store's Lua scripts by EVALSHA, sent whole (EVAL) only when the server does not know them
 * yet (a restart, a failover, a new cluster node): the server then keeps them.
 */
function scripts(commands: Commands): (lua: string, key: string, ...args: string[]) => Promise<unknown> {
  const sha1 = new Map<string, string>()
  return async (lua, key, ...args) => {
    let sha = sha1.get(lua)
    if (sha === undefined) sha1.set(lua, (sha = createHash('sha1').update(lua).digest('hex')))
    try {
      return await commands.evalSha(sha, { keys: [key], arguments: args })
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return commands.eval(lua, { keys: [key], arguments: args })
    }
  }
}

/**
 * PINGs every connection that carries invalidations each {@link HEARTBEAT_MS}: when all answer,
 * the cache may serve for {@link CONFIRM_WINDOW_MS} from when the PINGs were sent (an
 * invalidation is always delivered before the answer to a later command on its connection);
 * when one fails (or the client is not connected), the cache is dropped and serves nothing until
 * the next round succeeds.
 */
function startHeartbeat(cache: SessionCache, masters: () => Promise<Pinger[]>): { beat(): Promise<void>; stop(): void } {
  let running = false
  const beat = async () => {
    if (running) return
    running = true
    const sent = performance.now()
    try {
      const connections = await masters()
      if (connections.length === 0) throw new Error('not connected')
      await Promise.all(connections.map((master) => master.ping()))
      cache.confirm(sent + CONFIRM_WINDOW_MS)
    } catch {
      cache.unconfirm()
    } finally {
      running = false
    }
  }
  const timer = setInterval(() => void beat(), HEARTBEAT_MS)
  timer.unref()
  void beat()
  return { beat, stop: () => clearInterval(timer) }
}

/** What the heartbeat and `ping()` talk to: each connection commands go to. */
interface Pinger {
  ping(): Promise<unknown>
}

/**
 * The store the environment asks for: `OAUTH_REDIS_URL`, `OAUTH_REDIS_CLUSTER`,
 * `OAUTH_REDIS_PREFIX`, `OAUTH_REDIS_TIMEOUT`, `OAUTH_REDIS_CACHE`. codegrant calls this itself
 * when `OAUTH_SESSION_STORE=redis`.
 */
export function redisStoreFromEnv(env: Env = process.env, logger?: Logger): RedisStore {
  const timeout = env.OAUTH_REDIS_TIMEOUT?.trim()
  return redisStore({
    url: env.OAUTH_REDIS_URL?.trim() || undefined,
    cluster: /^(true|1|yes|on)$/i.test(env.OAUTH_REDIS_CLUSTER?.trim() ?? ''),
    prefix: env.OAUTH_REDIS_PREFIX ?? undefined,
    timeout: timeout && /^\d+$/.test(timeout) ? Number(timeout) : undefined,
    cache: !/^(false|0|no|off)$/i.test(env.OAUTH_REDIS_CACHE?.trim() ?? ''),
    logger,
  })
}

/** What is wrong with a Redis URL setting, if anything (no secret is echoed). */
export function checkRedisUrl(url: string | undefined): string | undefined {
  if (url === undefined || url.trim() === '') return 'OAUTH_REDIS_URL is required when OAUTH_SESSION_STORE=redis (e.g. redis://localhost:6379)'
  try {
    parseUrl(url, false)
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : 'OAUTH_REDIS_URL is invalid'
  }
}

/**
 * Where a Redis URL connects, for messages: `127.0.0.1:6379`, `Redis Cluster h1:7000, h2:7001`,
 * `Sentinel h1:26379 (master mymaster)`, with `(TLS)` when it is. Never the credentials.
 *
 * @throws {Error} when the URL is invalid (see {@link checkRedisUrl}).
 */
export function describeRedisUrl(url: string, cluster = false): string {
  const { kind, nodes, options, tls } = parseUrl(url, cluster)
  const hosts = nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(', ')
  const described = kind === 'sentinel' ? `Sentinel ${hosts} (master ${options.name ?? ''})` : kind === 'cluster' ? `Redis Cluster ${hosts}` : hosts
  return tls ? `${described} (TLS)` : described
}

/** Credentials, database and Sentinel master name read from a URL. */
interface UrlOptions {
  username?: string
  password?: string
  db?: number
  /** Sentinel: the master's name. */
  name?: string
}

interface Parsed {
  kind: 'single' | 'cluster' | 'sentinel'
  nodes: { host: string; port: number }[]
  options: UrlOptions
  /** `rediss://` / `rediss+sentinel://`: every connection is TLS. */
  tls: boolean
}

const SCHEME = /^\w[\w+.-]*:\/\//

function parseUrl(raw: string, cluster: boolean): Parsed {
  const parts = raw.split(',').map((part) => part.trim()).filter(Boolean)
  const sentinel = /^redis(s)?\+sentinel:\/\//i.exec(parts[0] ?? '')
  // `redis+sentinel://u:p@h1:26379,h2:26379/mymaster`: the hosts after the first carry no scheme
  // and follow the first's, TLS or not
  const scheme = SCHEME.exec(parts[0] ?? '')?.[0] ?? 'redis://'
  const urls = parts.map((part, index) => {
    const withScheme = SCHEME.test(part) ? part : `${scheme}${part}`
    const normalised = sentinel ? withScheme.replace(/^redis(s)?\+sentinel:/i, 'redis$1:') : withScheme
    let url: URL
    try {
      url = new URL(normalised)
    } catch {
      throw new Error(`OAUTH_REDIS_URL must be redis://host:port, rediss://…, a comma list of cluster nodes, or redis+sentinel://h1:26379,h2:26379/master (entry ${index + 1} is not a URL)`)
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`OAUTH_REDIS_URL entry ${index + 1} must use redis:// or rediss:// (got ${url.protocol})`)
    // nothing is read from a query (`?tls=true`, `?ssl=…` as other clients do): a setting there
    // would be silently dropped, and with it perhaps the TLS it asked for
    if (url.search) throw new Error(`OAUTH_REDIS_URL entry ${index + 1} has a query string, which is not read: use rediss:// (or rediss+sentinel://) for TLS, and the path for the database number`)
    return url
  })
  const first = urls[0]
  if (!first) throw new Error('OAUTH_REDIS_URL is empty')
  const tls = first.protocol === 'rediss:'
  // one client uses one transport for every node: entries that disagree cannot all be honoured
  const mixed = urls.findIndex((url) => (url.protocol === 'rediss:') !== tls)
  if (mixed !== -1) {
    throw new Error(`OAUTH_REDIS_URL mixes TLS and plain-text entries (entry 1 ${tls ? 'asks for TLS' : 'is plain text'}, entry ${mixed + 1} ${tls ? 'is plain text' : 'asks for TLS'}): use ${sentinel ? 'rediss+sentinel://' : 'rediss://'} for all or none`)
  }
  const options: UrlOptions = {}
  if (first.username) options.username = decodeURIComponent(first.username)
  if (first.password) options.password = decodeURIComponent(first.password)
  const nodes = urls.map((url) => ({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (sentinel ? 26379 : 6379)) }))
  if (sentinel) {
    const name = decodeURIComponent((urls[urls.length - 1]!.pathname || '/').slice(1))
    if (!name) throw new Error('OAUTH_REDIS_URL for Sentinel must end with the master name: redis+sentinel://h1:26379,h2:26379/mymaster')
    return { kind: 'sentinel', nodes, options: { ...options, name }, tls }
  }
  const db = first.pathname.length > 1 ? Number(first.pathname.slice(1)) : undefined
  if (db !== undefined && !Number.isInteger(db)) throw new Error('OAUTH_REDIS_URL: the path must be a database number')
  if (db !== undefined) options.db = db
  return { kind: cluster || urls.length > 1 ? 'cluster' : 'single', nodes, options, tls }
}

type SocketOptions = NonNullable<RedisClientOptions['socket']>

/**
 * The socket settings of every connection the URL makes: TLS (with `settings`) or none, a
 * bounded connect, and reconnecting by itself with a growing pause (at most 2 s). Sentinel mode
 * uses them for the sentinels and the master alike, so `rediss+sentinel://` is TLS to both.
 */
function transport(tls: boolean, settings: ConnectionOptions | undefined, timeout: number): SocketOptions {
  if (!tls && settings) throw new Error('the tls option of redisStore needs a rediss:// (or rediss+sentinel://) URL: with redis:// every connection would be plain text')
  const common = { connectTimeout: Math.max(timeout, 1000), reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000) }
  return (tls ? { ...settings, ...common, tls: true } : common) as SocketOptions
}

interface Connection {
  client: RedisConnectionClient
  /** The clients of the connections commands (and so tracking) go to: the single one, the Sentinel master, each Cluster master (none before the topology is known). */
  masters(): Promise<Pinger[]>
  /**
   * True for a single Redis, whose client bounds every command itself (node-redis's command
   * timeout, also while it waits for the connection): no second timer per call. A Cluster or
   * Sentinel client, which may also wait for its topology, gets ours.
   */
  bounded: boolean
}

/**
 * The client for a URL, RESP3, not connected yet: every command bounded by `timeout` (even once
 * sent: `rejectInFlight`), including while it waits for a connection; commands of one tick go out
 * in one write (node-redis pipelines by itself); with `cache`, tracking on for every connection.
 */
function connect(url: string, cluster: boolean, timeout: number, tlsSettings: ConnectionOptions | undefined, cache: SessionCache | undefined): Connection {
  const { kind, nodes, options, tls } = parseUrl(url, cluster)
  const socket = transport(tls, tlsSettings, timeout)
  const commandOptions = { timeout, rejectInFlight: true }
  const credentials = { username: options.username, password: options.password }
  const caching = cache ? { clientSideCache: cache } : {}
  if (kind === 'cluster') {
    const client = createCluster({
      rootNodes: nodes.map((node) => ({ socket: { ...socket, host: node.host, port: node.port } as SocketOptions })),
      defaults: { ...credentials, socket },
      RESP: 3,
      commandOptions,
      ...caching,
    })
    return { client, masters: () => Promise.all(client.masters.map((master) => client.nodeClient(master))), bounded: false }
  }
  if (kind === 'sentinel') {
    // the sentinels take the same password (as Redis's own `sentinel auth-pass` setups do)
    const client = createSentinel({
      name: options.name!,
      sentinelRootNodes: nodes,
      RESP: 3,
      nodeClientOptions: { ...credentials, socket, ...(options.db === undefined ? {} : { database: options.db }) },
      sentinelClientOptions: { password: options.password, socket },
      commandOptions,
      masterPoolSize: 1,
      ...caching,
    })
    return { client, masters: async () => [client], bounded: false }
  }
  const client = createClient({
    ...credentials,
    RESP: 3,
    socket: { ...socket, host: nodes[0]!.host, port: nodes[0]!.port } as SocketOptions,
    database: options.db,
    commandOptions,
    ...caching,
  })
  return { client, masters: async () => [client], bounded: true }
}

/**
 * One warning per outage, naming where Redis is but not the URL (it may hold a password).
 * Returns the last connection error, which a call failed for want of a connection reports.
 */
function watch(client: RedisConnectionClient, logger: Logger | undefined, where: string): () => string | undefined {
  const warn = logger ? (message: string) => logger.warn(message) : (message: string) => console.warn(`[codegrant] ${message}`)
  let down = false
  let last: string | undefined
  const failed = (error: unknown) => {
    last = error instanceof Error ? error.message.replace(/\/\/[^@/]*@/g, '//***@') : 'unknown error'
    if (down) return
    down = true
    warn(`${where} is unavailable (${last}); what needs a session answers 503 until it is back (other requests go on signed out)`)
  }
  const ready = () => {
    if (down) warn(`${where} is available again`)
    down = false
  }
  const events: { on(event: string, listener: (...args: unknown[]) => void): unknown } = client
  for (const event of ['error', 'node-error', 'client-error']) events.on(event, (...args) => failed(args.find((arg) => arg instanceof Error) ?? args[0]))
  for (const event of ['ready', 'node-ready']) events.on(event, ready)
  return () => (down ? last : undefined)
}

/**
 * `key(sid)`, the same string for the same session id while it is among the last `max` asked
 * for: a cached read looks its record up by it, and a string built anew is hashed anew, which
 * cost more than the rest of the read (0.19 of 0.25 µs). The session id a request gives is
 * itself the same string from request to request (the core's opened-cookie cache), so its own
 * lookup here is cheap.
 */
function sameKeys(key: (sid: string) => string, max: number): (sid: string) => string {
  const keys = new Map<string, string>()
  return (sid) => {
    let found = keys.get(sid)
    if (found === undefined) {
      if (keys.size >= max) keys.delete(keys.keys().next().value as string)
      keys.set(sid, (found = key(sid)))
    }
    return found
  }
}

/** Records parsed lately, by session id: at most this many. */
const PARSED_RECORDS = 1000

/**
 * The last record text read for a session and what it parsed to. Every read still goes to Redis;
 * when Redis answers the very same text as last time (a session's record changes only when it is
 * written), the same object is returned instead of parsing it again, which also lets the core's
 * per-session caches (the decoded claims) hit. Like the memory store's, the objects are shared by
 * the requests that read them: callers treat sessions as immutable.
 */
function createParsedRecords(): { read(sid: string, raw: string): SessionData | undefined; forget(sid: string): void } {
  const records = new Map<string, { raw: string; data: SessionData }>()
  return {
    read(sid, raw) {
      const last = records.get(sid)
      if (last !== undefined && last.raw === raw) return last.data
      let data: SessionData
      try {
        data = JSON.parse(raw) as SessionData
      } catch {
        records.delete(sid)
        return undefined
      }
      records.delete(sid)
      records.set(sid, { raw, data })
      if (records.size > PARSED_RECORDS) records.delete(records.keys().next().value as string)
      return data
    },
    forget(sid) {
      records.delete(sid)
    },
  }
}

/** An "ended before" record's time; a record that is not a number (not ours) is none. */
function timeOf(raw: string | null): number | undefined {
  const time = raw === null ? Number.NaN : Number(raw)
  return Number.isFinite(time) ? time : undefined
}

function isReadonly(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('READONLY')
}

/** Where the store connects, and why it is not connected (see {@link watch}), for a failed call's message. */
interface FailureContext {
  readonly where: string
  lastError(): string | undefined
}

/**
 * A failed call's error names the command (never its arguments: they may carry a session) and
 * where Redis is, says "timed out" when it did, and "not connected (<why>)" when the client had
 * no connection to send it on.
 */
function named<T>(promise: Promise<T>, what: string, timeout: number, context: FailureContext): Promise<T> {
  return promise.catch((error: unknown) => {
    if (error instanceof Error && error.message.startsWith('Redis ')) throw error
    const timedOut = error instanceof TimeoutError || error instanceof TimeoutReadError
    const down = context.lastError()
    const message = timedOut ? `timed out after ${timeout} ms${down ? ` (not connected: ${down})` : ''}` : error instanceof Error ? error.message : String(error)
    throw new Error(`Redis ${what} failed: ${context.where}: ${message}`, { cause: error })
  })
}

function within<T>(promise: Promise<T>, ms: number, what: string, context: FailureContext): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis ${what} timed out after ${ms} ms: ${context.where}`)), ms)
  })
  return named(Promise.race([promise, timedOut]), what, ms, context).finally(() => clearTimeout(timer))
}
