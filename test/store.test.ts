/**
 * The SessionStore contract, run against the memory store, a real single Redis, a real
 * 3-master Redis Cluster and a real Sentinel-watched master alike: records, conditional writes (no resurrection), the refresh
 * lock (owner-only release, expiry), tags for back-channel logout, one-time keys.
 */
import { memoryStore, type CoordinatingStore, type SessionData } from '@codegrant/core'
import { redisStore, redisStoreFromEnv, type RedisStore, type RedisStoreOptions } from '@codegrant/redis'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binary, startRedis, startRedisCluster, startRedisSentinel, startTlsImpostor, until, type RedisCluster, type RedisSentinel, type RedisServer } from './support/redis.js'

const session = (sid: string, accessToken = 'at-1'): SessionData => ({
  sid,
  iat: 1,
  uat: 1,
  exp: 2,
  user: { sub: 'alice' },
  tokens: { accessToken, tokenType: 'bearer', scope: 'openid' },
})
const run = promisify(execFile)
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let counter = 0
const fresh = () => `sid-${process.pid}-${++counter}-${Math.random().toString(36).slice(2)}`

let single: RedisServer
let cluster: RedisCluster
let sentinel: RedisSentinel
let secure: RedisSentinel
const stores: RedisStore[] = []

beforeAll(async () => {
  ;[single, cluster, sentinel, secure] = await Promise.all([startRedis(), startRedisCluster(), startRedisSentinel(), startRedisSentinel('codegrant', { tls: true })])
}, 90_000)
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()))
  await Promise.all([single?.close(), cluster?.close(), sentinel?.close(), secure?.close()])
})

const quiet = { warn: () => undefined, error: () => undefined }
/** The Redis stores of the topologies, session cache on (the default). */
const TOPOLOGIES = {
  single: (prefix: string) => redisStore({ url: single.url, prefix }),
  sentinel: (prefix: string) => redisStoreFromEnv({ OAUTH_REDIS_URL: sentinel.url, OAUTH_REDIS_PREFIX: prefix }),
  'sentinel over TLS': (prefix: string) => redisStore({ url: secure.url, prefix, tls: { ca: secure.ca }, logger: quiet }),
  cluster: (prefix: string) => redisStoreFromEnv({ OAUTH_REDIS_URL: cluster.url, OAUTH_REDIS_PREFIX: prefix }),
} satisfies Record<string, (prefix: string) => RedisStore>

/** A store of `kind` whose session cache serves (its heartbeat confirmed the connections). */
async function cachedStore(kind: keyof typeof TOPOLOGIES, prefix: string): Promise<RedisStore> {
  const store = TOPOLOGIES[kind](prefix)
  stores.push(store)
  await until(`the ${kind} store's cache to serve`, async () => store.cache?.serving === true)
  return store
}

/** Polls `check` until it holds (bounded): how long that took, in ms. */
async function within(what: string, check: () => Promise<boolean>, ms = 5000): Promise<number> {
  const started = performance.now()
  await until(what, check, ms)
  return performance.now() - started
}

const KINDS = {
  memory: async () => memoryStore(),
  redis: () => cachedStore('single', 'contract:'),
  cluster: () => cachedStore('cluster', 'contract:'),
  sentinel: () => cachedStore('sentinel', 'contract:'),
  'sentinel over TLS': () => cachedStore('sentinel over TLS', 'contract:'),
  'uncached redis': async () => {
    const store = redisStore({ url: single.url, prefix: 'contract-uncached:', cache: false })
    stores.push(store)
    return store
  },
} satisfies Record<string, () => Promise<CoordinatingStore>>

describe.each(Object.keys(KINDS) as (keyof typeof KINDS)[])('%s store', (kind) => {
  let store: CoordinatingStore
  beforeAll(async () => {
    store = await KINDS[kind]()
  }, 20_000)

  it('reads its own writes at once, the record cached or not', async () => {
    const sid = fresh()
    await store.set(sid, session(sid, 'at-1'), 60)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-1')
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-1')
    expect(await store.update(sid, session(sid, 'at-2'), 60)).toBe(true)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-2')
    await store.set(sid, session(sid, 'at-3'), 60)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-3')
    await store.destroy(sid)
    expect(await store.get(sid)).toBeUndefined()
  })

  it('keeps, returns and destroys a record', async () => {
    const sid = fresh()
    expect(await store.get(sid)).toBeUndefined()
    await store.set(sid, session(sid), 60)
    expect(await store.get(sid)).toEqual(session(sid))
    await store.destroy(sid)
    expect(await store.get(sid)).toBeUndefined()
  })

  it('forgets a record after its ttl', async () => {
    const sid = fresh()
    await store.set(sid, session(sid), 0.2)
    expect(await store.get(sid)).toBeDefined()
    await pause(350)
    expect(await store.get(sid)).toBeUndefined()
  })

  it('updates a record only while it exists: a destroyed session stays destroyed', async () => {
    const sid = fresh()
    expect(await store.update(sid, session(sid), 60)).toBe(false)
    expect(await store.get(sid)).toBeUndefined()
    await store.set(sid, session(sid), 60)
    expect(await store.update(sid, session(sid, 'at-2'), 60)).toBe(true)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-2')
    await store.destroy(sid)
    expect(await store.update(sid, session(sid, 'at-3'), 60)).toBe(false)
    expect(await store.get(sid)).toBeUndefined()
  })

  it('gives the refresh lock to one owner, releases it only for that owner, and lets it lapse', async () => {
    const sid = fresh()
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((owner) => store.lock(sid, owner, 60_000)))
    expect(results.filter(Boolean)).toHaveLength(1)
    const owner = ['a', 'b', 'c', 'd'][results.indexOf(true)]!
    await store.unlock(sid, owner === 'a' ? 'b' : 'a') // not the owner: no effect
    expect(await store.lock(sid, 'e', 60_000)).toBe(false)
    await store.unlock(sid, owner)
    expect(await store.lock(sid, 'e', 200)).toBe(true)
    expect(await store.lock(sid, 'f', 200)).toBe(false)
    await pause(350)
    expect(await store.lock(sid, 'f', 60_000)).toBe(true)
    await store.unlock(sid, 'e') // the lapsed owner cannot release the new owner's lock
    expect(await store.lock(sid, 'g', 60_000)).toBe(false)
  })

  it('files sessions under tags until their ttl', async () => {
    const tag = `sub:${fresh()}`
    const [a, b] = [fresh(), fresh()]
    await store.tag(tag, a, 60)
    await store.tag(tag, b, 0.2)
    expect((await store.tagged(tag)).sort()).toEqual([a, b].sort())
    await pause(350)
    expect(await store.tagged(tag)).toEqual([a])
    expect(await store.tagged(`sub:${fresh()}`)).toEqual([])
  })

  it('records a one-time key once within its ttl', async () => {
    const key = `jti:${fresh()}`
    const results = await Promise.all([1, 2, 3].map(() => store.once(key, 0.3)))
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(await store.once(key, 0.3)).toBe(false)
    await pause(450)
    expect(await store.once(key, 60)).toBe(true)
  })
})

describe('redis store', () => {
  it('a single Redis answering READONLY (demoted by a failover): reconnects and resends the write once, then reports the error', async () => {
    const [demoted, master] = await Promise.all([startRedis(), startRedis()])
    const store = redisStore({ url: demoted.url, prefix: 'readonly:', logger: quiet })
    try {
      await store.ping()
      // the store's connections: normal clients other than redis-cli's own
      const ids = async () => (await demoted.cli('client', 'list', 'type', 'normal')).split('\n').filter((line) => !line.includes('cmd=client|list')).map((line) => /id=(\d+)/.exec(line)![1])
      const [before] = await ids()
      expect(before).toBeDefined()
      await demoted.cli('replicaof', '127.0.0.1', String(master.port))
      const sid = fresh()
      await expect(store.set(sid, session(sid), 60)).rejects.toThrow(/Redis SET failed: Redis at [^:]+:\d+ \(OAUTH_REDIS_URL\): READONLY/)
      // it let go of the connection that answered READONLY: a new one was made
      await until('a new connection', async () => {
        const now = await ids()
        return now.length > 0 && !now.includes(before!)
      })
      await demoted.cli('replicaof', 'no', 'one')
      await store.set(sid, session(sid), 60)
      expect(await demoted.cli('exists', `readonly:{${sid}}:session`)).toBe('1')
    } finally {
      await store.close()
      await Promise.all([demoted.close(), master.close()])
    }
  })

  it('keeps a session\'s keys in one cluster slot, under the prefix', async () => {
    const store = redisStoreFromEnv({ OAUTH_REDIS_URL: cluster.url, OAUTH_REDIS_PREFIX: 'slot:' })
    stores.push(store)
    expect('masters' in store.client).toBe(true)
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    await store.lock(sid, 'me', 60_000)
    const cli = async (...args: string[]) => (await run(binary('redis-cli'), ['-c', '-p', String(cluster.ports[0]), ...args], { timeout: 10_000 })).stdout.trim()
    expect(await cli('cluster', 'keyslot', `slot:{${sid}}:session`)).toBe(await cli('cluster', 'keyslot', `slot:{${sid}}:lock`))
    expect(await cli('exists', `slot:{${sid}}:session`)).toBe('1')
    expect(Number(await cli('pttl', `slot:{${sid}}:session`))).toBeGreaterThan(50_000)
  })

  it('Sentinel: writes to the master Sentinel names, and keeps working on the promoted replica after a failover', async () => {
    const store = redisStoreFromEnv({ OAUTH_REDIS_URL: sentinel.url, OAUTH_REDIS_PREFIX: 'failover:' })
    stores.push(store)
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    await until('the cache to serve', async () => store.cache?.serving === true)
    expect(await store.get(sid)).toEqual(session(sid))
    const cachedBefore = store.cache!.size() > 0
    expect(cachedBefore).toBe(true)
    const before = await sentinel.masterPort()
    expect(await sentinel.cli(before, 'exists', `failover:{${sid}}:session`)).toBe('1')
    await until('the replica to have the record', async () => (await sentinel.cli(sentinel.ports.find((port) => port !== before)!, 'exists', `failover:{${sid}}:session`)) === '1')
    const after = await sentinel.failover()
    expect(after).not.toBe(before)
    // the store follows Sentinel to the new master: reads the record, and writes where the master is now
    const moved = fresh()
    await until('the store to follow Sentinel to the new master', async () => {
      await store.set(moved, session(moved), 60)
      return (await sentinel.cli(after, 'exists', `failover:{${moved}}:session`)) === '1'
    }, 20_000)
    // the record read before the failover was dropped with the old master's connection
    await until('the failover to flush the cache', async () => store.cache!.size() === 0)
    expect(await store.get(sid)).toEqual(session(sid))
    expect(await sentinel.cli(after, 'exists', `failover:{${moved}}:session`)).toBe('1')
    expect(await store.update!(sid, session(sid, 'at-2'), 60)).toBe(true)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-2')
  }, 60_000)

  it('uses codegrant: as the default prefix and sets TTLs in Redis', async () => {
    const store = redisStore({ url: single.url })
    stores.push(store)
    const sid = fresh()
    await store.set(sid, session(sid), 90)
    const ttl = Number(await single.cli('pttl', `codegrant:{${sid}}:session`))
    expect(ttl).toBeGreaterThan(80_000)
    expect(ttl).toBeLessThanOrEqual(90_000)
  })

  it('uncached (cache: false), reads Redis on every get: parses a record again only when its text changed, and sees a write or delete made elsewhere at once', async () => {
    const store = redisStore({ url: single.url, prefix: 'parsed:', cache: false })
    const elsewhere = redisStore({ url: single.url, prefix: 'parsed:', cache: false }) // another instance
    stores.push(store, elsewhere)
    const sid = fresh()
    await elsewhere.set(sid, session(sid, 'at-1'), 60)
    const first = await store.get(sid)
    expect(first?.tokens.accessToken).toBe('at-1')
    // the same text: the same object (the core's per-session caches then hit)
    expect(await store.get(sid)).toBe(first)
    // rewritten by another instance (a refresh): the new record, never the remembered one
    await elsewhere.set(sid, session(sid, 'at-2'), 60)
    const second = await store.get(sid)
    expect(second?.tokens.accessToken).toBe('at-2')
    expect(second).not.toBe(first)
    // changed behind the store's back, byte for byte: still read from Redis
    await single.cli('set', `parsed:{${sid}}:session`, JSON.stringify(session(sid, 'at-3')), 'px', '60000')
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-3')
    // ended elsewhere (logout on another instance): gone here on the next read
    await elsewhere.destroy(sid)
    expect(await store.get(sid)).toBeUndefined()
    await elsewhere.set(sid, session(sid, 'at-3'), 60)
    expect(await store.get(sid)).not.toBe(second)
  })

  it('rejects (never reports "no session") when Redis does not answer, within its timeout', async () => {
    const store = redisStore({ url: 'redis://127.0.0.1:1', timeout: 300, logger: { warn: () => undefined, error: () => undefined } })
    stores.push(store)
    const started = Date.now()
    await expect(store.get(fresh())).rejects.toThrow(/Redis|ECONNREFUSED|Connection|timed out/i)
    expect(Date.now() - started).toBeLessThan(1500)
    await expect(store.lock(fresh(), 'me', 1000)).rejects.toThrow()
  })

  it('names OAUTH_REDIS_URL and the host when Redis cannot be reached, never the password nor ioredis internals', async () => {
    const warnings: string[] = []
    const store = redisStore({ url: 'redis://user:hunter2-secret@127.0.0.1:1', timeout: 300, logger: { warn: (line) => void warnings.push(line), error: () => undefined } })
    stores.push(store)
    const failure = await Promise.resolve().then(() => store.get(fresh())).then(() => undefined, (error: unknown) => (error as Error).message)
    expect(failure).toMatch(/^Redis GET failed: Redis at 127\.0\.0\.1:1 \(OAUTH_REDIS_URL\): /)
    expect(failure).not.toMatch(/maxRetriesPerRequest|max retries per request/)
    expect(warnings).toEqual([expect.stringMatching(/^Redis at 127\.0\.0\.1:1 \(OAUTH_REDIS_URL\) is unavailable \(.*ECONNREFUSED/)])
    for (const line of [failure, ...warnings]) expect(line).not.toContain('hunter2')
  })

  it('rejects within its timeout when Redis is connected but does not answer (paused)', async () => {
    const slow = await startRedis()
    const store = redisStore({ url: slow.url, timeout: 300, logger: { warn: () => undefined, error: () => undefined } })
    try {
      const sid = fresh()
      await store.set(sid, session(sid), 60)
      await slow.cli('client', 'pause', '1500', 'ALL')
      const started = Date.now()
      await expect(store.get(sid)).rejects.toThrow(/Redis GET failed: .*timed out/i)
      expect(Date.now() - started).toBeLessThan(1000)
      await expect(store.update(sid, session(sid), 60)).rejects.toThrow(/Redis update failed/)
    } finally {
      await store.close()
      await slow.close()
    }
  })

  it('refuses URLs it cannot use, without echoing a password', async () => {
    const { checkRedisUrl } = await import('@codegrant/redis')
    expect(checkRedisUrl(undefined)).toMatch(/OAUTH_REDIS_URL is required/)
    expect(checkRedisUrl('http://user:hunter2@host:6379')).toMatch(/redis:\/\/ or rediss:\/\//)
    expect(checkRedisUrl('http://user:hunter2@host:6379')).not.toContain('hunter2')
    expect(checkRedisUrl('redis+sentinel://h1:26379,h2:26379')).toMatch(/master name/)
    expect(checkRedisUrl('redis+sentinel://h1:26379,h2:26379/mymaster')).toBeUndefined()
    expect(checkRedisUrl('rediss://:pw@h1:6380/2')).toBeUndefined()
    expect(checkRedisUrl('h1:7000,h2:7001')).toBeUndefined()
  })
})

describe('redis store: Sentinel over TLS', () => {

  it('talks TLS to the sentinels and to the master (which have no plain-text port): a session round-trips', async () => {
    // nothing listens in plain text: a plain-text client is not answered by the sentinel or the master
    for (const port of [secure.sentinelPort, await secure.masterPort()]) {
      await expect(run(binary('redis-cli'), ['-h', '127.0.0.1', '-p', String(port), 'ping'], { timeout: 5000 })).rejects.toThrow()
    }
    const store = redisStore({ url: secure.url, prefix: 'tls:', tls: { ca: secure.ca }, logger: { warn: () => undefined, error: () => undefined } })
    stores.push(store)
    const sid = fresh()
    await store.set(sid, session(sid, 'at-over-tls'), 60)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-over-tls')
    expect(await secure.cli(await secure.masterPort(), 'exists', `tls:{${sid}}:session`)).toBe('1')
  })

  it('verifies the servers\' certificate: an unknown CA is refused, never downgraded', async () => {
    const store = redisStore({ url: secure.url, prefix: 'tls:', timeout: 500, logger: { warn: () => undefined, error: () => undefined } })
    stores.push(store)
    await expect(store.get(fresh())).rejects.toThrow(/Redis|sentinel|certificate|timed out/i)
    // the store's error does not say why (plain text to a TLS port times out too): a server of our
    // own shows it. Its certificate is signed neither by the CA given nor by a public one.
    for (const tls of [{ ca: secure.ca }, undefined]) {
      const impostor = await startTlsImpostor()
      try {
        const fooled = redisStore({ url: impostor.url, prefix: 'tls:', timeout: 500, ...(tls && { tls }), logger: quiet })
        stores.push(fooled)
        await expect(fooled.get(fresh())).rejects.toThrow(/timed out/)
        await until('the client to try a handshake', async () => impostor.failures.length > 0)
        // it spoke TLS (plain text would fail as ERR_SSL_WRONG_VERSION_NUMBER) and hung up within
        // the handshake on seeing the certificate: no connection, no command (a client that
        // skipped the check would have finished the handshake and sent HELLO)
        expect([impostor.handshakes, impostor.received, [...new Set(impostor.failures)]]).toEqual([0, 0, ['ECONNRESET']])
      } finally {
        await impostor.close()
      }
    }
  })

  it('refuses at start-up what it cannot honour: TLS mixed with plain text, options in a query, TLS settings with a plain URL', async () => {
    const { checkRedisUrl } = await import('@codegrant/redis')
    expect(checkRedisUrl('rediss+sentinel://h1:26379,redis://h2:26379/mymaster')).toMatch(/mixes TLS and plain-text entries/)
    expect(checkRedisUrl('rediss://h1:7000,redis://h2:7001')).toMatch(/mixes TLS and plain-text entries/)
    expect(checkRedisUrl('redis://h1:7000,rediss://h2:7001')).toMatch(/mixes TLS and plain-text entries/)
    expect(checkRedisUrl('redis://:hunter2@h1:6379?tls=true')).toMatch(/query string, which is not read: use rediss:\/\//)
    expect(checkRedisUrl('redis://:hunter2@h1:6379?tls=true')).not.toContain('hunter2')
    expect(checkRedisUrl('rediss+sentinel://h1:26379,h2:26379/mymaster')).toBeUndefined()
    expect(checkRedisUrl('rediss://h1:7000,h2:7001')).toBeUndefined()
    expect(() => redisStore({ url: 'redis+sentinel://127.0.0.1:1/m', tls: { ca: 'x' } })).toThrow(/needs a rediss:\/\//)
    const { createCodegrant } = await import('@codegrant/core')
    const env = { OAUTH_ISSUER: 'http://127.0.0.1:9', OAUTH_CLIENT_ID: 'client', OAUTH_CLIENT_SECRET: 'secret', OAUTH_BASE_URL: 'http://localhost:3000', OAUTH_COOKIE_SECRET: 'x'.repeat(32) }
    expect(() => createCodegrant({ logger: { warn: () => undefined, error: () => undefined } }, { ...env, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: 'rediss+sentinel://h1:26379,redis://h2:26379/m' }))
      .toThrow(/OAUTH_REDIS_URL mixes TLS and plain-text entries/)
  })
})

/** Runs redis-cli against where `kind` keeps `key` now (the master, the cluster node of its slot). */
async function cliFor(kind: keyof typeof TOPOLOGIES, ...args: string[]): Promise<string> {
  if (kind === 'single') return single.cli(...args)
  if (kind === 'sentinel') return sentinel.cli(await sentinel.masterPort(), ...args)
  if (kind === 'sentinel over TLS') return secure.cli(await secure.masterPort(), ...args)
  return (await run(binary('redis-cli'), ['-c', '-p', String(cluster.ports[0]), ...args], { timeout: 10_000 })).stdout.trim()
}

describe.each(Object.keys(TOPOLOGIES) as (keyof typeof TOPOLOGIES)[])('redis session cache: %s', (kind) => {
  const prefix = `cached-${kind.replace(/\W/g, '')}:`

  it('serves a record from memory once read, and sees a refresh or a logout made on another instance as soon as its invalidation arrives', async () => {
    const [a, b] = [await cachedStore(kind, prefix), await cachedStore(kind, prefix)]
    const sid = fresh()
    await a.set(sid, session(sid, 'at-1'), 60)
    const first = await b.get(sid)
    expect(first?.tokens.accessToken).toBe('at-1')
    expect(b.cache!.size()).toBeGreaterThan(0)
    expect(await b.get(sid)).toBe(first)
    await a.update(sid, session(sid, 'at-2'), 60) // a refresh on instance A
    await within('B to see the refresh', async () => (await b.get(sid))?.tokens.accessToken === 'at-2')
    await a.destroy(sid) // a logout on instance A
    await within('B to see the logout', async () => (await b.get(sid)) === undefined)
  })

  it('sees a record changed or deleted behind its back by another client (redis-cli)', async () => {
    const store = await cachedStore(kind, prefix)
    const sid = fresh()
    const key = `${prefix}{${sid}}:session`
    await store.set(sid, session(sid, 'at-1'), 60)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-1')
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-1')
    await cliFor(kind, 'set', key, JSON.stringify(session(sid, 'at-2')), 'px', '60000')
    await within('the store to see the change', async () => (await store.get(sid))?.tokens.accessToken === 'at-2')
    await cliFor(kind, 'pexpire', key, '50')
    await within('the store to see the record expire', async () => (await store.get(sid)) === undefined)
  })

  it('never caches locks, one-time keys or tags', async () => {
    const store = await cachedStore(kind, `${prefix}other:`)
    const sid = fresh()
    await store.lock(sid, 'me', 60_000)
    await store.once(`jti:${sid}`, 60)
    await store.tag(`sub:${sid}`, sid, 60)
    expect(await store.tagged(`sub:${sid}`)).toEqual([sid])
    expect(store.cache!.size()).toBe(0)
    await store.set(sid, session(sid), 60)
    await store.get(sid)
    expect(store.cache!.size()).toBe(1)
  })
})

describe('redis session cache: faults', () => {
  let scratch: RedisServer
  beforeAll(async () => {
    scratch = await startRedis()
  }, 30_000)
  afterAll(async () => {
    await scratch?.close()
  })
  const scratchStore = async (options: Partial<RedisStoreOptions> = {}) => {
    const store = redisStore({ url: scratch.url, prefix: 'faults:', timeout: 500, logger: quiet, ...options })
    stores.push(store)
    await until('the cache to serve', async () => store.cache?.serving === true)
    return store
  }
  const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await scratch.cli('info', 'commandstats'))?.[1] ?? 0)

  it('answers a cached record without a command to Redis, and without a promise (as the memory store answers)', async () => {
    const store = await scratchStore()
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    const first = await store.get(sid)
    const before = await gets()
    for (let i = 0; i < 100; i++) {
      const hit = store.get(sid)
      expect(hit).not.toBeInstanceOf(Promise)
      expect(hit).toBe(first)
    }
    expect(await gets()).toBe(before)
  })

  it('a request whose session is cached is attached synchronously: no await between the cookie and the guard', async () => {
    const { createCodegrant, createCookieCodec } = await import('@codegrant/core')
    const { guard } = await import('@codegrant/core/adapter')
    const store = await scratchStore()
    const sid = fresh()
    const now = Math.floor(Date.now() / 1000)
    await store.set(sid, { ...session(sid), iat: now, uat: now, exp: now + 3600, identity: { provider: 'default', iss: 'http://127.0.0.1:9', sub: 'alice' } }, 60)
    const app = createCodegrant({ sessionStore: store, logger: quiet }, {
      OAUTH_ISSUER: 'http://127.0.0.1:9', OAUTH_CLIENT_ID: 'client', OAUTH_CLIENT_SECRET: 'secret', OAUTH_BASE_URL: 'http://localhost:3000', OAUTH_COOKIE_SECRET: 'x'.repeat(32),
    })
    const codec = createCookieCodec(['x'.repeat(32)])
    const request = { method: 'GET', url: '/me', headers: { accept: 'application/json', cookie: `codegrant.session=${codec.seal('codegrant.session', JSON.stringify(sid))}` } }
    // the first read waits for Redis; from then on the record is in the cache
    expect((await app.attach(request, () => undefined, undefined)).user?.sub).toBe('alice')
    const attached = app.attach(request, () => undefined, undefined)
    expect(attached).not.toBeInstanceOf(Promise)
    if (attached instanceof Promise) return
    expect([attached.isAuthenticated, attached.user?.sub]).toEqual([true, 'alice'])
    expect(guard(attached)).toBeUndefined()
    // a logout elsewhere: once its invalidation arrives, the next request reads Redis again and is signed out
    const elsewhere = redisStore({ url: scratch.url, prefix: 'faults:', logger: quiet })
    stores.push(elsewhere)
    await elsewhere.destroy(sid)
    await within('the logout to be seen', async () => (await app.attach(request, () => undefined, undefined)).isAuthenticated === false)
  })

  it('drops every cached record on FLUSHDB', async () => {
    const store = await scratchStore()
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    expect(await store.get(sid)).toBeDefined()
    expect(store.cache!.size()).toBe(1)
    await scratch.cli('flushdb')
    await within('FLUSHDB to reach the cache', async () => (await store.get(sid)) === undefined)
  })

  it('flushes on reconnect: a change made while its connection was down (its invalidation lost) is seen', async () => {
    const store = await scratchStore()
    const sid = fresh()
    await store.set(sid, session(sid, 'at-1'), 60)
    expect((await store.get(sid))?.tokens.accessToken).toBe('at-1')
    // the store's connection is cut, and the record changed before it reconnects
    await scratch.cli('client', 'kill', 'type', 'normal')
    await scratch.cli('set', `faults:{${sid}}:session`, JSON.stringify(session(sid, 'at-2')), 'px', '60000')
    await within('the store to see the change', async () => (await store.get(sid))?.tokens.accessToken === 'at-2')
  })

  it('a hung Redis (SIGSTOP): the cache stops serving within its heartbeat window and is flushed; it serves again once Redis answers', async () => {
    const store = await scratchStore()
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    expect(await store.get(sid)).toBeDefined()
    scratch.freeze()
    try {
      await within('the cache to stop serving', async () => !store.cache!.serving, 10_000)
      await expect(store.get(sid)).rejects.toThrow(/Redis GET failed/)
      await within('the cache to be flushed', async () => store.cache!.size() === 0, 10_000)
    } finally {
      scratch.thaw()
    }
    await within('the cache to serve again', async () => store.cache!.serving, 10_000)
    expect((await store.get(sid))?.sid).toBe(sid)
  })

  it('a restarted Redis: nothing cached is served while it is down, and the records are read again once it is back', async () => {
    const store = await scratchStore()
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    expect(await store.get(sid)).toBeDefined()
    await scratch.stop()
    try {
      await within('the cache to be flushed', async () => store.cache!.size() === 0 && !store.cache!.serving, 10_000)
      await expect(store.get(sid)).rejects.toThrow()
    } finally {
      await scratch.start()
    }
    await within('the store to read the record again', async () => (await Promise.resolve().then(() => store.get(sid)).catch(() => undefined))?.sid === sid, 15_000)
  }, 30_000)

  it('codegrant flushes the cache when the store\'s circuit breaker opens', async () => {
    const { createCodegrant, createCookieCodec } = await import('@codegrant/core')
    const store = await scratchStore()
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    expect(await store.get(sid)).toBeDefined()
    const app = createCodegrant({ sessionStore: store, logger: quiet }, {
      OAUTH_ISSUER: 'http://127.0.0.1:9', OAUTH_CLIENT_ID: 'client', OAUTH_CLIENT_SECRET: 'secret', OAUTH_BASE_URL: 'http://localhost:3000', OAUTH_COOKIE_SECRET: 'x'.repeat(32),
    })
    const codec = createCookieCodec(['x'.repeat(32)])
    const request = (id: string) => ({ method: 'GET', url: '/', headers: { cookie: `codegrant.session=${codec.seal('codegrant.session', JSON.stringify(id))}` } })
    // GET refused by Redis (PING, and so the heartbeat, still answered): reads of uncached sessions fail
    await scratch.cli('acl', 'setuser', 'default', '-get')
    try {
      for (let i = 0; i < 3; i++) await app.attach(request(fresh()), () => undefined, undefined)
      expect(store.cache!.serving).toBe(true)
      expect(store.cache!.size()).toBe(0)
    } finally {
      await scratch.cli('acl', 'setuser', 'default', '+@all')
    }
  })

  it('evicts the least recently used: a record read since the others were cached is kept (a hit need not reorder a record already among the newer half)', async () => {
    const store = await scratchStore({ cache: { entries: 4 } })
    const [a, b, c, d, e] = [fresh(), fresh(), fresh(), fresh(), fresh()] as const
    for (const sid of [a, b, c, d, e]) await store.set(sid, session(sid), 60)
    for (const sid of [a, b, c, d]) await store.get(sid)
    // a is the oldest: read now, it becomes the newest; d, the newest already, is read too
    expect(store.get(a)).not.toBeInstanceOf(Promise)
    expect(store.get(d)).not.toBeInstanceOf(Promise)
    await store.get(e) // a fifth record: the least recently used, b, goes
    expect(store.cache!.size()).toBe(4)
    const before = await gets()
    for (const sid of [a, c, d, e]) expect(store.get(sid)).not.toBeInstanceOf(Promise)
    expect(await store.get(b)).toBeDefined()
    expect(await gets()).toBe(before + 1)
  })

  it.each([
    ['entries', { entries: 2000, bytes: 64 * 1024 * 1024 }],
    ['bytes', { entries: 1_000_000, bytes: 1024 * 1024 }],
  ] as const)('keeps its memory bound (%s) under 100,000 sessions, evicting the least recently used', async (bound, limits) => {
    const store = await scratchStore({ cache: limits, timeout: 5000 })
    const ids = Array.from({ length: 100_000 }, (_, i) => `bound-${i}`)
    if (Number(await scratch.cli('dbsize')) < ids.length) {
      for (let i = 0; i < ids.length; i += 5000) await Promise.all(ids.slice(i, i + 5000).map((sid) => store.set(sid, session(sid), 300)))
    }
    let most = 0
    for (let i = 0; i < ids.length; i += 5000) {
      const batch = ids.slice(i, i + 5000)
      const read = await Promise.all(batch.map((sid) => store.get(sid)))
      expect(read.every((data, index) => data?.sid === batch[index])).toBe(true)
      expect(store.cache!.size()).toBeLessThanOrEqual(limits.entries)
      expect(store.cache!.bytes).toBeLessThanOrEqual(limits.bytes)
      most = Math.max(most, bound === 'entries' ? store.cache!.size() : store.cache!.bytes)
    }
    // the bound was reached, not just respected
    expect(most).toBeGreaterThan(limits[bound] * 0.9)
    // the most recently read are kept, the first ones were evicted
    const before = await gets()
    await store.get(ids.at(-1)!)
    expect(await gets()).toBe(before)
    await store.get(ids[0]!)
    expect(await gets()).toBe(before + 1)
  }, 120_000)
})

describe('OAUTH_SESSION_STORE=redis', () => {
  const base = {
    OAUTH_ISSUER: 'http://127.0.0.1:9',
    OAUTH_CLIENT_ID: 'client',
    OAUTH_CLIENT_SECRET: 'secret',
    OAUTH_BASE_URL: 'http://localhost:3000',
    OAUTH_COOKIE_SECRET: 'x'.repeat(32),
  }
  const quiet = { warn: () => undefined, error: () => undefined }

  it('opens @codegrant/redis from the environment alone (URL, cluster nodes, prefix)', async () => {
    const { createCodegrant } = await import('@codegrant/core')
    const app = createCodegrant({ logger: quiet }, { ...base, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: single.url, OAUTH_REDIS_PREFIX: 'env:', OAUTH_BACKCHANNEL_LOGOUT: 'true' })
    const store = app.sessionStore as RedisStore
    stores.push(store)
    expect('masters' in store.client).toBe(false)
    // sessions in Redis can be found by user: back-channel logout is served
    expect(app.match('/auth/backchannel-logout')).toEqual({ kind: 'backchannel-logout' })
    const sid = fresh()
    await store.set(sid, session(sid), 60)
    expect(Number(await single.cli('exists', `env:{${sid}}:session`))).toBe(1)
    const clustered = createCodegrant({ logger: quiet }, { ...base, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: cluster.url.replace(/redis:\/\//g, '') })
    stores.push(clustered.sessionStore as RedisStore)
    expect('masters' in (clustered.sessionStore as RedisStore).client).toBe(true)
  })

  it('reading the configuration opens no connection (the session backend opens the store, once)', async () => {
    const { createCodegrant, resolveConfig } = await import('@codegrant/core')
    const clients = async () => (await single.cli('client', 'list')).split('\n').filter((line) => !line.includes('cmd=client|list')).length
    const before = await clients()
    const config = resolveConfig({ logger: quiet }, { ...base, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: single.url })
    expect([config.sessionStore, config.redis?.address]).toEqual(['redis', `127.0.0.1:${single.port}`])
    // give a connection, had one been opened, the time to show up: one PING of ours goes first
    await single.cli('ping')
    expect(await clients()).toBe(before)
    const app = createCodegrant({ logger: quiet }, { ...base, OAUTH_SESSION_STORE: 'redis', OAUTH_REDIS_URL: single.url })
    const store = app.sessionStore as RedisStore
    stores.push(store)
    await store.ping()
    expect(await clients()).toBe(before + 1)
  })

  it('refuses to start without OAUTH_REDIS_URL, and back-channel logout with cookie sessions without OAUTH_REDIS_URL', async () => {
    const { createCodegrant } = await import('@codegrant/core')
    expect(() => createCodegrant({ logger: quiet }, { ...base, OAUTH_SESSION_STORE: 'redis' })).toThrow(/OAUTH_REDIS_URL is required/)
    expect(() => createCodegrant({ logger: quiet }, { ...base, OAUTH_BACKCHANNEL_LOGOUT: 'true' })).toThrow(/OAUTH_BACKCHANNEL_LOGOUT with cookie sessions needs OAUTH_REDIS_URL/)
    // with it, the "ended before" records in Redis end cookie sessions from the server
    const app = createCodegrant({ logger: quiet }, { ...base, OAUTH_BACKCHANNEL_LOGOUT: 'true', OAUTH_REDIS_URL: single.url })
    expect(app.config.sessionStore).toBe('cookie')
    const store = app.sessionStore as RedisStore
    stores.push(store)
    await store.ping()
  })
})

