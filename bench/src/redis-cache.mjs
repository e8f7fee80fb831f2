// The Redis store's session cache, measured on a real redis-server (no HTTP):
// - the invalidation delay: a write on instance A (a refresh: `update`; a logout: `destroy`),
//   from the moment A's call resolves to the first `get` on instance B that sees it (B reads in a
//   loop, one read per event-loop turn, as requests would): p50/p99/max over BENCH_INV_SAMPLES;
// - the heap a cached session takes: BENCH_INV_SESSIONS sessions of a login's shape read into
//   the cache, heap after a full GC, per session, with the cache's own byte estimate beside it.
// - the cost of one `get` of a session, cached and uncached (`cache: false`): this process's
//   CPU µs per get (process.cpuUsage) and redis-server's (INFO cpu before/after), BENCH_INV_GETS
//   gets, 10 at a time (as 10 connections' requests would), best of 3 rounds.
// Run: `pnpm --dir bench redis-cache` (node --expose-gc; about 30 s on an idle machine).
import { redisStore } from '@codegrant/redis'
import { startRedis } from './redis.mjs'

const SAMPLES = Number(process.env.BENCH_INV_SAMPLES ?? 2000)
const SESSIONS = Number(process.env.BENCH_INV_SESSIONS ?? 10_000)
const GETS = Number(process.env.BENCH_INV_GETS ?? 100_000)

/** A session record of a login's shape (the dev provider's claims and tokens, sizes as measured). */
const record = (sid, accessToken) => ({
  sid, iat: 1_700_000_000, uat: 1_700_000_000, exp: 1_700_604_800, provider: 'default',
  user: { sub: 'alice', name: 'Alice Example', email: 'alice@example.com', email_verified: true, given_name: 'Alice', family_name: 'Example', locale: 'en' },
  tokens: { accessToken, refreshToken: 'r'.repeat(43), idToken: `${'h'.repeat(36)}.${'p'.repeat(420)}.${'s'.repeat(342)}`, tokenType: 'bearer', scope: 'openid profile email offline_access', expiresAt: 1_700_003_600 },
})

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const turn = () => new Promise((resolve) => setImmediate(resolve))

async function serving(store) {
  const deadline = Date.now() + 10_000
  while (!store.cache.serving) {
    if (Date.now() > deadline) throw new Error('the cache did not start serving')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** ms from A's write resolving to B's first read that sees it, per sample. */
async function delays(name, a, b, write, sees) {
  const out = []
  for (let i = 0; i < SAMPLES; i++) {
    const sid = `${name}-${i}`
    await a.set(sid, record(sid, 'at-1'), 600)
    await b.get(sid)
    const cached = await b.get(sid)
    if (cached?.tokens.accessToken !== 'at-1' || b.cache.size() === 0) throw new Error('B did not cache the record')
    await write(a, sid)
    const written = performance.now()
    let reads = 0
    while (!sees(await b.get(sid))) {
      reads++
      await turn()
    }
    out.push({ ms: performance.now() - written, stale: reads })
  }
  return out
}

function summary(name, samples) {
  const ms = samples.map((s) => s.ms).sort((x, y) => x - y)
  const stale = samples.filter((s) => s.stale > 0).length
  return `${name}: p50 ${quantile(ms, 0.5).toFixed(3)} ms, p99 ${quantile(ms, 0.99).toFixed(3)} ms, max ${ms.at(-1).toFixed(3)} ms; ${stale} of ${samples.length} had at least one stale read on B first`
}

const redis = await startRedis()
try {
  const a = redisStore({ url: redis.url, prefix: 'inv:' })
  const b = redisStore({ url: redis.url, prefix: 'inv:' })
  await Promise.all([serving(a), serving(b)])
  const refresh = await delays('refresh', a, b, (store, sid) => store.update(sid, record(sid, 'at-2'), 600), (data) => data?.tokens.accessToken === 'at-2')
  const logout = await delays('logout', a, b, (store, sid) => store.destroy(sid), (data) => data === undefined)
  console.log(summary('refresh on A (update) → seen on B', refresh))
  console.log(summary('logout on A (destroy) → seen on B', logout))

  for (const [name, options] of [['cached', {}], ['uncached (cache: false)', { cache: false }]]) {
    const store = redisStore({ url: redis.url, prefix: 'cost:', ...options })
    if (store.cache) await serving(store)
    await store.set('cost', record('cost', 'at-1'), 600)
    await store.get('cost')
    let best
    for (let round = 0; round < 3; round++) {
      const serverBefore = redis.info('cpu')
      const before = process.cpuUsage()
      for (let i = 0; i < GETS; i += 10) await Promise.all(Array.from({ length: 10 }, () => store.get('cost')))
      const used = process.cpuUsage(before)
      const serverAfter = redis.info('cpu')
      const server = (serverAfter.used_cpu_user + serverAfter.used_cpu_sys - serverBefore.used_cpu_user - serverBefore.used_cpu_sys) * 1e6 / GETS
      const own = (used.user + used.system) / GETS
      if (best === undefined || own < best.own) best = { own, server }
    }
    console.log(`get, ${name}: ${best.own.toFixed(2)} µs of this process's CPU per get, ${best.server.toFixed(3)} µs of redis-server's CPU per get (INFO cpu)`)
    await store.close()
  }

  const cache = redisStore({ url: redis.url, prefix: 'heap:', cache: { entries: SESSIONS * 2, bytes: 1024 * 1024 * 1024 } })
  await serving(cache)
  for (let i = 0; i < SESSIONS; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => cache.set(`heap-${i + j}`, record(`heap-${i + j}`, `at-${i + j}`), 600)))
  globalThis.gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < SESSIONS; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => cache.get(`heap-${i + j}`)))
  globalThis.gc()
  const after = process.memoryUsage().heapUsed
  const text = JSON.stringify(record('heap-0', 'at-0')).length
  console.log(`cache memory: ${cache.cache.size()} sessions cached (record text ${text} characters): ${((after - before) / cache.cache.size() / 1024).toFixed(2)} KiB of heap per session; the cache's estimate ${(cache.cache.bytes / cache.cache.size() / 1024).toFixed(2)} KiB`)
  await Promise.all([a.close(), b.close(), cache.close()])
} finally {
  await redis.stop()
}
