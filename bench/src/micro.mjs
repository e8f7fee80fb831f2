// The core alone, no HTTP: what codegrant costs per request before any framework is involved.
// Run by main.mjs in its own process with BENCH_MICRO (JSON: codegrant options, a real session
// cookie from a login through the dev provider, and an aged copy of it); prints one JSON line.
import { performance } from 'node:perf_hooks'
import { createCodegrant, guard } from '@codegrant/core/adapter'
import { memoryStore } from '@codegrant/core'
import { redisStore } from '@codegrant/redis'
import { parse as parseCookieHeader } from 'cookie'
// internals, for the parts of a cache hit (not part of the public API)
import { createOpenedCache } from '../../packages/core/dist/session/opened-cache.js'
import { createSessionCodec, sessionValue } from './session-codec.mjs'

const input = JSON.parse(process.env.BENCH_MICRO)
const seconds = Number(process.env.BENCH_MICRO_SECONDS ?? 1)
const env = {} // options only: no OAUTH_* variables from the bench's environment

let sink = 0 // results flow here so the JIT cannot drop the work

/** CPU time (user + system) so far, in ms: other processes taking the CPU do not add to it. */
const cpuNow = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/**
 * Times `fn` for about `seconds` of CPU time: a short warm-up, then batches sized to ~5 ms each;
 * reports the median batch (ns/op of CPU) and the ops/s it implies, plus the fastest and slowest batch.
 */
function measure(name, fn, wallMs = Number.POSITIVE_INFINITY) {
  const warmUntil = cpuNow() + Math.min(300, seconds * 300)
  const warmWall = performance.now() + Math.min(900, seconds * 900, wallMs / 3)
  let batch = 1
  while (cpuNow() < warmUntil && performance.now() < warmWall) for (let i = 0; i < batch; i++) fn()
  for (;;) {
    const start = cpuNow()
    for (let i = 0; i < batch; i++) fn()
    if (cpuNow() - start >= 5) break
    batch *= 2
  }
  const samples = []
  const until = cpuNow() + seconds * 1000
  // on a loaded machine a second of CPU can take many seconds: the wall clock bounds it too
  const wallUntil = performance.now() + Math.min(seconds * 3000, (wallMs * 2) / 3)
  while ((cpuNow() < until && performance.now() < wallUntil) || samples.length < 5) {
    const start = cpuNow()
    for (let i = 0; i < batch; i++) fn()
    samples.push(((cpuNow() - start) * 1e6) / batch)
  }
  samples.sort((a, b) => a - b)
  const median = samples[Math.floor(samples.length / 2)]
  return { name, nsPerOp: median, opsPerSec: 1e9 / median, minNs: samples[0], maxNs: samples.at(-1), samples: samples.length, batch }
}

// the dev provider's http issuer makes codegrant warn once per createCodegrant(): silenced here
const options = { ...input.options, logger: { warn() {}, error() {} } }
const codegrant = createCodegrant(options, env)
const uncached = createCodegrant({ ...options, sessionCacheSize: 0 }, env)
const collected = []
const toSink = (cookies) => void collected.push(cookies.length)

const headers = (cookie) => ({
  host: new URL(options.baseUrl).host,
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36',
  accept: 'application/json',
  'accept-language': 'en-GB,en;q=0.9',
  'accept-encoding': 'gzip, deflate, br',
  ...(cookie === undefined ? {} : { cookie }),
})
const anonymous = { method: 'GET', url: '/guarded', headers: headers(undefined) }
const signedIn = { method: 'GET', url: '/guarded', headers: headers(input.cookie) }
const stale = { method: 'GET', url: '/guarded', headers: headers(input.staleCookie) }

// sanity: the cookie is a live session, the anonymous request is refused, the stale one renews
{
  const ok = guard(codegrant.attach(signedIn, toSink), signedIn)
  const refused = guard(codegrant.attach(anonymous, toSink), anonymous)
  collected.length = 0
  const renewed = guard(codegrant.attach(stale, toSink), stale)
  if (ok !== undefined || refused?.status !== 401 || renewed !== undefined || collected.length !== 1) {
    throw new Error(`unexpected guard decisions: valid=${ok?.status}, none=${refused?.status}, stale=${renewed?.status}, stale re-issued=${collected.length}`)
  }
}

const codec = createSessionCodec(options.cookieSecret)
const sealed = sessionValue(input.cookie)
const plaintext = codec.open('codegrant.session', sealed)
const idToken = JSON.parse(plaintext).tokens.idToken

// as a request gives it: a fresh string cut from a Cookie header
const cookieHeader = `other=1; codegrant.session=${sealed}`
const freshSealed = () => cookieHeader.slice(cookieHeader.indexOf('=', 8) + 1)
const opened = createOpenedCache(10_000, 16 * 1024 * 1024)
opened.set([sealed], { any: 1 })
const sessionObject = JSON.parse(plaintext)
const claimsMemo = new WeakMap([[sessionObject, { sub: 'alice' }]])

// The server-side stores' guarded request: the login's session as its record (and 1,000 other
// sessions beside it), the cookie holding its id. Redis (BENCH_MICRO's redisUrl, the bench's
// redis-server): with the session cache on, read once so that the measured requests hit it.
const OTHERS = 1000
const storeCookie = `codegrant.session=${codec.seal('codegrant.session', JSON.stringify(sessionObject.sid))}`
// no connection, as the cookie store's rows: the cookie is parsed and looked up in the opened-cookie cache each time
const byStore = { method: 'GET', url: '/guarded', headers: headers(storeCookie) }
const memory = memoryStore()
const redis = input.redisUrl ? redisStore({ url: input.redisUrl, prefix: 'micro:', logger: options.logger }) : undefined
for (const store of [memory, redis].filter(Boolean)) {
  await store.set(sessionObject.sid, sessionObject, 3600)
  for (let i = 0; i < OTHERS; i++) await store.set(`other-${i}`, { ...sessionObject, sid: `other-${i}` }, 3600)
}
const withMemory = createCodegrant({ ...options, sessionStore: memory }, env)
const withRedis = redis && createCodegrant({ ...options, sessionStore: redis }, env)
if (redis) {
  for (let i = 0; i < OTHERS; i++) await redis.get(`other-${i}`)
  const deadline = Date.now() + 10_000
  while (!redis.cache.serving && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  if ((await guard(await withRedis.attach(byStore, toSink), byStore)) !== undefined) throw new Error('the Redis store\'s session was refused')
}
/**
 * The event loop turned for a second: a heartbeat (one a second) has confirmed the cache for the
 * next ≥ 1.5 s, in which the Redis row runs (1.2 s at most by the wall clock), its loop blocking
 * the next heartbeat.
 */
async function afterHeartbeat() {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  if (!redis.cache.serving) throw new Error('the Redis store\'s cache does not serve')
}
let awaited = 0
/**
 * The Redis store's row, or none when some of its requests were not answered from memory (the
 * heartbeat's window lapsed on a loaded machine: the cache then rightly stops serving), which
 * would make it another row than it says.
 */
async function redisRow() {
  await afterHeartbeat()
  const row = measure('attach() + guard(), Redis store, session cache on (the record cached), valid session cookie', guardedBy(withRedis), 1200)
  if (awaited === 0) return [row]
  process.stderr.write(`micro-benchmark: the Redis store's row is left out: ${awaited} of its requests were not answered from the session cache (its heartbeat window lapsed)\n`)
  return []
}
/** A store-backed guarded request, counted when the store could not answer from memory (it should always). */
const guardedBy = (app) => () => {
  const state = app.attach(byStore, toSink)
  if (state instanceof Promise) {
    awaited++
    state.catch(() => undefined)
    return
  }
  sink += guard(state, byStore) === undefined ? 1 : 0
}

const results = [
  measure('createCodegrant(options) (start-up, once per app)', () => { sink += createCodegrant(options, env).config.providers[0].scope.length }),
  measure('attach(), no cookie', () => { sink += codegrant.attach(anonymous, toSink) ? 1 : 0 }),
  measure('attach(), valid session cookie, session not read (lazy)', () => { sink += codegrant.attach(signedIn, toSink) ? 1 : 0 }),
  measure('attach() + guard(), no cookie (401 decision)', () => { sink += guard(codegrant.attach(anonymous, toSink), anonymous).status }),
  measure('attach() + guard(), valid session cookie, cache off (decrypt + parse every request)', () => { sink += guard(uncached.attach(signedIn, toSink), signedIn) === undefined ? 1 : 0 }),
  measure('attach() + guard(), valid session cookie (pass)', () => { sink += guard(codegrant.attach(signedIn, toSink), signedIn) === undefined ? 1 : 0 }),
  measure(`attach() + guard(), memory store (${OTHERS.toLocaleString('en-US')} other sessions), valid session cookie`, guardedBy(withMemory)),
  ...(withRedis ? await redisRow() : []),
  measure('attach() + guard() + state.user.sub, valid session cookie (what /me does)', () => { const state = codegrant.attach(signedIn, toSink); guard(state, signedIn); sink += state.user.sub.length }),
  measure('attach() + guard(), cookie older than the renewal interval (decrypt + re-seal)', () => { sink += guard(codegrant.attach(stale, toSink), stale) === undefined ? 1 : 0 }),
  measure('  part (hit): opened-cache lookup of the sealed value (key from its first 7 characters, whole value compared)', () => { sink += opened.get([freshSealed()]) === undefined ? 0 : 1 }),
  measure('  part (hit): Date.now() (liveness is checked against it on every hit)', () => { sink += Date.now() & 1 }),
  measure('  part (hit): WeakMap lookup of the decoded claims', () => { sink += claimsMemo.get(sessionObject) === undefined ? 0 : 1 }),
  measure('  part: cookie.parse(Cookie header)', () => { sink += Object.keys(parseCookieHeader(input.cookie)).length }),
  measure('  part (miss): AES-256-GCM open of the session cookie (the core\'s codec)', () => { sink += codec.open('codegrant.session', sealed).length }),
  measure('  part (miss): JSON.parse of the decrypted session', () => { sink += JSON.parse(plaintext).iat }),
  measure('  part (miss): decode the ID token payload for state.user (base64url + JSON.parse)', () => { sink += JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString('utf8')).sub.length }),
]
collected.length = 0
await redis?.close()

process.stdout.write(`BENCH_RESULT ${JSON.stringify({ results, cookieBytes: input.cookie.length, sessionJsonBytes: plaintext.length, sessionKeys: Object.keys(JSON.parse(plaintext)), sink: sink > 0 })}\n`)
