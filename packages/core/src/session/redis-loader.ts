import { createRequire } from 'node:module'
import type { Logger } from '../config.js'
import type { SessionStore } from './store.js'

/** The Redis settings read from options and the environment. */
export interface RedisSettings {
  url: string | undefined
  cluster: boolean
  prefix: string | undefined
  timeout: number | undefined
}

/** What `@codegrant/redis`'s store adds to a {@link SessionStore}. */
export interface RedisConnection extends SessionStore {
  /** One PING, failing after the store's timeout. */
  ping(): Promise<void>
  /** Ends the connection. */
  close(): Promise<void>
}

/**
 * `OAUTH_SESSION_STORE=redis`, checked but not connected: the configuration opens no connection
 * (`codegrant doctor` and every other reader of the configuration would have to close it). The
 * session backend opens the store once; doctor opens its own and closes it.
 */
export interface RedisOpener {
  /** Where it connects, e.g. `127.0.0.1:6379` or `Sentinel 10.0.0.1:26379 (master mymaster)`; never credentials. */
  readonly address: string
  /** Milliseconds after which a Redis call fails (`OAUTH_REDIS_TIMEOUT`). */
  readonly timeout: number
  /** Opens the store (and its connection); its warnings go to `logger` (default: the configuration's). */
  open(logger?: Logger): RedisConnection
}

interface RedisModule {
  checkRedisUrl(url: string | undefined): string | undefined
  describeRedisUrl(url: string, cluster?: boolean): string
  redisStore(options: { url?: string; cluster?: boolean; prefix?: string; timeout?: number; logger?: Logger }): RedisConnection
}

const INSTALL = 'OAUTH_SESSION_STORE=redis needs the @codegrant/redis package (and ioredis) installed next to your adapter: npm install @codegrant/redis'

/**
 * Loads `@codegrant/redis` only when the configuration asks for Redis, so the core (and every
 * app that does not use Redis) never loads ioredis. Synchronous (`require` of an ES module,
 * Node.js ≥ 20.19), so that a missing package is a start-up error like every other setting.
 *
 * @returns what is wrong, or what opens the store.
 */
export function prepareRedisStore(settings: RedisSettings, logger: Logger): string | RedisOpener {
  let module: RedisModule
  try {
    module = createRequire(import.meta.url)('@codegrant/redis') as RedisModule
  } catch (error) {
    const code = (error as { code?: unknown }).code
    return code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' ? INSTALL : `@codegrant/redis could not be loaded (${error instanceof Error ? error.message : String(error)})`
  }
  const problem = module.checkRedisUrl(settings.url)
  if (problem) return problem
  return Object.freeze({
    address: module.describeRedisUrl(settings.url!, settings.cluster),
    timeout: settings.timeout ?? 2000,
    open: (to = logger) => module.redisStore({ ...definedOnly(settings), logger: to }),
  })
}

function definedOnly(settings: RedisSettings): Partial<RedisSettings> {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as Partial<RedisSettings>
}
