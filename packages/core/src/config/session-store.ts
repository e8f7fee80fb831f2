/**
 * The `sessionStore` setting: `cookie`, `memory`, `redis` or a store the app passed. With
 * `redis`, `@codegrant/redis` is loaded to check its settings, but no connection is opened:
 * `codegrant doctor` and every other reader of the configuration would have to close it. The
 * session backend opens the store once ({@link RedisOpener.open}); doctor opens its own and
 * closes it.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { isMemoryStore } from '../session-types.js'
import type { Checks } from './checks.js'
import type { FullLogger, Logger, OAuthOptions } from './options.js'
import type { OAuthConfig, RedisConnection, RedisOpener } from './resolved.js'

/** The Redis settings, checked and with their defaults. */
interface RedisSettings {
  url: string | undefined
  cluster: boolean
  prefix: string | undefined
  timeout: number
  /** Session records cached in the process, invalidated by Redis (`OAUTH_REDIS_CACHE`). */
  cache: boolean
}

/** What the core uses of `@codegrant/redis`. */
interface RedisModule {
  checkRedisUrl(url: string | undefined): string | undefined
  describeRedisUrl(url: string, cluster?: boolean): string
  redisStore(options: RedisSettings & { logger?: Logger }): RedisConnection
}

const PACKAGE = '@codegrant/redis'
const INSTALL = `OAUTH_SESSION_STORE=redis needs the ${PACKAGE} package installed in your app (next to your adapter): npm install ${PACKAGE}`

type StoreChoice = Pick<OAuthConfig, 'sessionStore' | 'redis' | 'customStore'>

/**
 * The session store chosen: a name, or the store passed in. The Redis settings are checked
 * whatever the store (an invalid value is a mistake even while Redis is not in use).
 */
export function resolveSessionStore(options: OAuthOptions, check: Checks, logger: FullLogger): StoreChoice {
  const store = options.sessionStore
  const redis: RedisSettings = {
    url: options.redisUrl,
    cluster: check.flag('redisCluster', options.redisCluster),
    prefix: check.text('redisPrefix', options.redisPrefix),
    timeout: check.number('redisTimeout', options.redisTimeout),
    cache: check.flag('redisCache', options.redisCache),
  }
  // the memory store passed in (for its `maxSessions`) is still the memory store
  if (isMemoryStore(store)) return { sessionStore: 'memory', customStore: store }
  if (typeof store === 'object' && store !== null) return { sessionStore: 'custom', customStore: store }
  if (store === undefined || store === 'cookie') return cookieSessions(redis, check, logger)
  if (store === 'memory') return { sessionStore: 'memory' }
  if (store !== 'redis') {
    check.problems.push(`${check.variable('sessionStore')} must be cookie, memory or redis (got ${JSON.stringify(store)})`)
    return { sessionStore: 'cookie' }
  }
  const opener = prepareRedisStore(redis, logger)
  if (typeof opener === 'string') {
    check.problems.push(opener)
    return { sessionStore: 'cookie' }
  }
  return { sessionStore: 'redis', redis: opener }
}

/**
 * Cookie sessions, and with `OAUTH_REDIS_URL` the Redis that keeps their "ended before" records
 * (what ends cookie sessions from the server: back-channel logout, `sessions.endAll`).
 */
function cookieSessions(redis: RedisSettings, check: Checks, logger: FullLogger): StoreChoice {
  if (redis.url === undefined || redis.url.trim() === '') return { sessionStore: 'cookie' }
  const opener = prepareRedisStore(redis, logger)
  if (typeof opener === 'string') {
    check.problems.push(opener === INSTALL ? `OAUTH_REDIS_URL beside cookie sessions needs the ${PACKAGE} package installed in your app: npm install ${PACKAGE}` : opener)
    return { sessionStore: 'cookie' }
  }
  return { sessionStore: 'cookie', redis: opener }
}

/**
 * Loads `@codegrant/redis` only when the configuration asks for Redis, so the core (and every
 * app that does not use Redis) never loads its client. Synchronous (`require` of an ES module,
 * Node.js ≥ 20.19), so that a missing package is a start-up error like every other setting.
 *
 * @returns what is wrong, or what opens the store.
 */
function prepareRedisStore(settings: RedisSettings, logger: Logger): string | RedisOpener {
  const path = locateRedisPackage()
  if (path === undefined) return INSTALL
  let module: RedisModule
  try {
    module = createRequire(import.meta.url)(path)
  } catch (error) {
    return `${PACKAGE} could not be loaded (${error instanceof Error ? error.message : String(error)})`
  }
  const { url } = settings
  const problem = module.checkRedisUrl(url)
  if (problem !== undefined) return problem
  if (url === undefined) return 'OAUTH_REDIS_URL is required when OAUTH_SESSION_STORE=redis'
  return Object.freeze({
    address: module.describeRedisUrl(url, settings.cluster),
    timeout: settings.timeout,
    open: (to = logger) => module.redisStore({ ...settings, logger: to }),
  })
}

/**
 * Where `@codegrant/redis` is installed: the core does not depend on it (it depends on the
 * core), so it is looked for from the app — its entry script, then its working directory (where
 * `codegrant doctor` runs) — and last from the core itself (an install that hoists packages).
 */
function locateRedisPackage(): string | undefined {
  const from = [process.argv[1], join(process.cwd(), 'package.json'), import.meta.url]
  for (const base of from) {
    if (!base) continue
    try {
      return createRequire(base).resolve(PACKAGE)
    } catch {
      // not installed where this base looks: try the next
    }
  }
  return undefined
}
