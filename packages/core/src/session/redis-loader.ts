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

interface RedisModule {
  checkRedisUrl(url: string | undefined): string | undefined
  redisStore(options: { url?: string; cluster?: boolean; prefix?: string; timeout?: number; logger?: Logger }): SessionStore
}

const INSTALL = 'OAUTH_SESSION_STORE=redis needs the @codegrant/redis package (and ioredis) installed next to your adapter: npm install @codegrant/redis'

/**
 * Loads `@codegrant/redis` only when the configuration asks for Redis, so the core (and every
 * app that does not use Redis) never loads ioredis. Synchronous (`require` of an ES module,
 * Node.js ≥ 20.19), so that a missing package is a start-up error like every other setting.
 *
 * @returns what is wrong, or a function that opens the store.
 */
export function prepareRedisStore(settings: RedisSettings, logger: Logger): string | (() => SessionStore) {
  let module: RedisModule
  try {
    module = createRequire(import.meta.url)('@codegrant/redis') as RedisModule
  } catch (error) {
    const code = (error as { code?: unknown }).code
    return code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' ? INSTALL : `@codegrant/redis could not be loaded (${error instanceof Error ? error.message : String(error)})`
  }
  const problem = module.checkRedisUrl(settings.url)
  if (problem) return problem
  return () => module.redisStore({ ...definedOnly(settings), logger })
}

function definedOnly(settings: RedisSettings): Partial<RedisSettings> {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as Partial<RedisSettings>
}
