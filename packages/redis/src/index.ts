import type { ConnectionOptions } from 'node:tls'
import type { CoordinatingStore, Logger, SessionData } from '@codegrant/core'
import { Cluster, Redis, type RedisOptions } from 'ioredis'

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
  /** An ioredis client you configured yourself (its connection is then yours to close). */
  client?: Redis | Cluster
  logger?: Logger
}

/** `@codegrant/redis`'s store: a {@link CoordinatingStore} plus `close()`. */
export interface RedisStore extends CoordinatingStore {
  readonly client: Redis | Cluster
  /** One PING, failing after `timeout` (as every call does): to check the connection. */
  ping(): Promise<void>
  /** Closes the connection (unless it was passed in as `client`): at once when it is not up. */
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

interface Scripts {
  cgUpdate(key: string, value: string, ttlMs: number): Promise<number>
  cgUnlock(key: string, owner: string): Promise<number>
  cgTag(key: string, until: number, sid: string, now: number, ttlMs: number): Promise<number>
}

/**
 * A Redis session store (ioredis): single Redis, Sentinel, or Redis Cluster. Records expire with
 * the session; the refresh lock and conditional writes are Lua scripts on one slot; every call
 * fails after `timeout` ms instead of hanging, and ioredis reconnects by itself.
 *
 * @example
 * app.use(oauth({ sessionStore: redisStore({ url: 'redis://localhost:6379' }) }))
 */
export function redisStore(options: RedisStoreOptions = {}): RedisStore {
  const prefix = options.prefix ?? 'codegrant:'
  const timeout = options.timeout ?? 2000
  const owned = options.client === undefined
  const url = options.url ?? 'redis://localhost:6379'
  const client = options.client ?? connect(url, options.cluster ?? false, timeout, options.tls)
  // messages name where Redis is and the setting that says so, never the URL (it may hold a password)
  const where = owned ? `Redis at ${describeRedisUrl(url, options.cluster ?? false).replace(/^Redis /, '')} (OAUTH_REDIS_URL)` : 'Redis'
  const lastError = watch(client, options.logger, where)
  const commands = client as (Redis | Cluster) & Scripts
  client.defineCommand('cgUpdate', { numberOfKeys: 1, lua: UPDATE_IF_EXISTS })
  client.defineCommand('cgUnlock', { numberOfKeys: 1, lua: COMPARE_AND_DELETE })
  client.defineCommand('cgTag', { numberOfKeys: 1, lua: TAG })

  const session = (sid: string) => `${prefix}{${sid}}:session`
  const lockKey = (sid: string) => `${prefix}{${sid}}:lock`
  const tagKey = (tag: string) => `${prefix}tag:{${tag}}`
  const onceKey = (key: string) => `${prefix}once:{${key}}`
  const ms = (seconds: number) => Math.max(1, Math.ceil(seconds * 1000))
  // a single Redis or Sentinel connection we made bounds every command itself (ioredis's
  // commandTimeout, armed before a command waits in the offline queue too): no second timer per
  // call. A Cluster (whose own queue waits for the slots unbounded) or a client passed in gets ours.
  const bounded = owned && !(client instanceof Cluster)
  const failed = { where, lastError }
  const call = <T>(what: string, run: () => Promise<T>): Promise<T> => (bounded ? named(run(), what, failed) : within(run(), timeout, what, failed))
  const parsed = createParsedRecords()

  return {
    client,
    async get(sid) {
      const raw = await call('GET', () => client.get(session(sid)))
      if (raw === null) {
        parsed.forget(sid)
        return undefined
      }
      return parsed.read(sid, raw)
    },
    async set(sid, data, ttl) {
      await call('SET', () => client.set(session(sid), JSON.stringify(data), 'PX', ms(ttl)))
    },
    async update(sid, data, ttl) {
      return (await call('update', () => commands.cgUpdate(session(sid), JSON.stringify(data), ms(ttl)))) === 1
    },
    async destroy(sid) {
      await call('DEL', () => client.del(session(sid)))
    },
    async lock(sid, owner, ttlMs) {
      return (await call('SET NX', () => client.set(lockKey(sid), owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK'
    },
    async unlock(sid, owner) {
      await call('unlock', () => commands.cgUnlock(lockKey(sid), owner))
    },
    async tag(tag, sid, ttl) {
      const now = Date.now()
      await call('tag', () => commands.cgTag(tagKey(tag), now + ms(ttl), sid, now, ms(ttl)))
    },
    async tagged(tag) {
      return call('ZRANGEBYSCORE', () => client.zrangebyscore(tagKey(tag), Date.now(), '+inf'))
    },
    async once(key, ttl) {
      return (await call('SET NX', () => client.set(onceKey(key), '1', 'PX', ms(ttl), 'NX'))) === 'OK'
    },
    async ping() {
      await call('PING', () => client.ping())
    },
    async close() {
      if (!owned) return
      // QUIT would wait in the offline queue for a Redis that is down: drop the connection then
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
}

/**
 * The store the environment asks for: `OAUTH_REDIS_URL`, `OAUTH_REDIS_CLUSTER`,
 * `OAUTH_REDIS_PREFIX`, `OAUTH_REDIS_TIMEOUT`. codegrant calls this itself when
 * `OAUTH_SESSION_STORE=redis`.
 */
export function redisStoreFromEnv(env: Env = process.env, logger?: Logger): RedisStore {
  const timeout = env.OAUTH_REDIS_TIMEOUT?.trim()
  return redisStore({
    url: env.OAUTH_REDIS_URL?.trim() || undefined,
    cluster: /^(true|1|yes|on)$/i.test(env.OAUTH_REDIS_CLUSTER?.trim() ?? ''),
    prefix: env.OAUTH_REDIS_PREFIX ?? undefined,
    timeout: timeout && /^\d+$/.test(timeout) ? Number(timeout) : undefined,
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

interface Parsed {
  kind: 'single' | 'cluster' | 'sentinel'
  nodes: { host: string; port: number }[]
  options: RedisOptions
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
    // ioredis reads nothing from a query (`?tls=true`, `?ssl=…` as other clients do): a setting there
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
  const options: RedisOptions = {}
  if (first.username) options.username = decodeURIComponent(first.username)
  if (first.password) options.password = decodeURIComponent(first.password)
  const nodes = urls.map((url) => ({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (sentinel ? 26379 : 6379)) }))
  if (sentinel) {
    const name = decodeURIComponent((urls[urls.length - 1]!.pathname || '/').slice(1))
    if (!name) throw new Error('OAUTH_REDIS_URL for Sentinel must end with the master name: redis+sentinel://h1:26379,h2:26379/mymaster')
    return { kind: 'sentinel', nodes, options: { ...options, name, sentinelPassword: options.password }, tls }
  }
  const db = first.pathname.length > 1 ? Number(first.pathname.slice(1)) : undefined
  if (db !== undefined && !Number.isInteger(db)) throw new Error('OAUTH_REDIS_URL: the path must be a database number')
  if (db !== undefined) options.db = db
  return { kind: cluster || urls.length > 1 ? 'cluster' : 'single', nodes, options, tls }
}

/**
 * The TLS options for every connection the URL makes, or none. ioredis applies `tls` to a single
 * Redis and to each cluster node, but in Sentinel mode uses it for nothing unless told: the
 * sentinels need `sentinelTLS`, the master `enableTLSForSentinelMode` (without both, a
 * `rediss+sentinel://` URL would send the password and every session in clear).
 */
function transport(kind: Parsed['kind'], tls: boolean, settings: ConnectionOptions | undefined): RedisOptions {
  if (!tls) {
    if (settings) throw new Error('the tls option of redisStore needs a rediss:// (or rediss+sentinel://) URL: with redis:// every connection would be plain text')
    return {}
  }
  const options = { ...settings }
  return kind === 'sentinel' ? { tls: options, sentinelTLS: options, enableTLSForSentinelMode: true } : { tls: options }
}

function connect(url: string, cluster: boolean, timeout: number, tlsSettings: ConnectionOptions | undefined): Redis | Cluster {
  const { kind, nodes, options, tls } = parseUrl(url, cluster)
  // commands wait in the offline queue while reconnecting, bounded by `timeout` (ours and ioredis's)
  // auto-pipelining: the commands of requests handled in the same tick go out in one write;
  // closing takes `timeout` at most too (ioredis's 2 s disconnect timer also runs for a socket that
  // never connected, and keeps the process alive that long)
  const common: RedisOptions = { ...options, ...transport(kind, tls, tlsSettings), commandTimeout: timeout, connectTimeout: Math.max(timeout, 1000), disconnectTimeout: timeout, maxRetriesPerRequest: 1, enableOfflineQueue: true, enableAutoPipelining: true }
  if (kind === 'cluster') {
    const { db: _db, ...redisOptions } = common
    return new Cluster(nodes, { redisOptions, enableOfflineQueue: true, enableAutoPipelining: true, slotsRefreshTimeout: Math.max(timeout, 1000), clusterRetryStrategy: (times) => Math.min(100 * times, 2000) })
  }
  // a master demoted by a failover answers READONLY: reconnect (to the master Sentinel or DNS names
  // now) and resend the command, instead of failing every write until a restart
  const followFailover: RedisOptions = { reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false) }
  // Sentinel announces a switch (+switch-master): leave the old master at once, before it is
  // demoted, rather than writing to it in the meantime (those writes would be lost when it resyncs)
  if (kind === 'sentinel') return new Redis({ ...common, ...followFailover, sentinels: nodes, failoverDetector: true })
  return new Redis({ ...common, ...followFailover, host: nodes[0]!.host, port: nodes[0]!.port })
}

/**
 * One warning per outage, naming where Redis is but not the URL (it may hold a password).
 * Returns the last connection error, which a call failed for want of a connection reports.
 */
function watch(client: Redis | Cluster, logger: Logger | undefined, where: string): () => string | undefined {
  const warn = logger ? (message: string) => logger.warn(message) : (message: string) => console.warn(`[codegrant] ${message}`)
  let down = false
  let last: string | undefined
  client.on('error', (error: unknown) => {
    last = error instanceof Error ? error.message.replace(/\/\/[^@/]*@/g, '//***@') : 'unknown error'
    if (down) return
    down = true
    warn(`${where} is unavailable (${last}); what needs a session answers 503 until it is back (other requests go on signed out)`)
  })
  client.on('ready', () => {
    if (down) warn(`${where} is available again`)
    down = false
  })
  return () => (down ? last : undefined)
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

/** Where the store connects, and why it is not connected (see {@link watch}), for a failed call's message. */
interface FailureContext {
  readonly where: string
  lastError(): string | undefined
}

/**
 * A failed call's error names the command (never its arguments: they may carry a session) and
 * where Redis is; ioredis's "Reached the max retries per request limit … maxRetriesPerRequest"
 * (a command dropped while there is no connection) is said as what it means.
 */
function named<T>(promise: Promise<T>, what: string, context: FailureContext): Promise<T> {
  return promise.catch((error: unknown) => {
    if (error instanceof Error && error.message.startsWith('Redis ')) throw error
    const message = error instanceof Error ? error.message : String(error)
    const reason = error instanceof Error && error.name === 'MaxRetriesPerRequestError' ? `not connected (${context.lastError() ?? 'the connection is down'})` : message
    throw new Error(`Redis ${what} failed: ${context.where}: ${reason}`, { cause: error })
  })
}

function within<T>(promise: Promise<T>, ms: number, what: string, context: FailureContext): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis ${what} timed out after ${ms} ms: ${context.where}`)), ms)
  })
  return named(Promise.race([promise, timedOut]), what, context).finally(() => clearTimeout(timer))
}
