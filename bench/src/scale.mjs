// Issue 7's measures, run by main.mjs after the passes: two codegrant instances (Fastify 5, Redis
// store) sharing one redis-server, 100 real logins split across them (Redis memory per session,
// by key kind), a refresh storm across both (1,000 concurrent requests over the 100 sessions
// with expired access tokens: the refresh grants counted at the dev provider, the time to
// drain), Redis memory at 10,000 sessions, and the memory store's heap per session at 10,000.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createCookieCodec } from '@codegrant/core'
import { redisStore } from '@codegrant/redis'
import { parse as parseCookieHeader } from 'cookie'
import { refreshStorm } from './storm.mjs'
import { median } from './system.mjs'

const NAME = 'codegrant.session'
const PREFIX = 'scale:'
const SYNTHETIC_PREFIX = 'synthetic:'
const STORE_HEAP_SCRIPT = fileURLToPath(new URL('./store-heap.mjs', import.meta.url))

/** Which kind of codegrant key a Redis key is (see @codegrant/redis: `{sid}:session`, `{sid}:lock`, `tag:{…}`, `once:{…}`). */
function kindOf(key) {
  const rest = key.slice(PREFIX.length)
  if (rest.startsWith('tag:')) return 'tag (sessions by provider sid / sub)'
  if (rest.startsWith('once:')) return 'once (code exchange claimed, logout token jti)'
  if (rest.endsWith(':session')) return 'session record'
  if (rest.endsWith(':lock')) return 'refresh lock'
  return 'other'
}

/**
 * @param o.redis the bench's redis-server (redis.mjs)
 * @param o.instances two `{ base, kind }` codegrant instances already started on that Redis with prefix `scale:`
 * @param o.login logs alice in at a base URL, resolving to the Cookie header the app set
 */
export async function scaleOut({ redis, provider, instances, login, cookieSecret, sessions, requests, heapSessions, log }) {
  const codec = createCookieCodec([cookieSecret])
  const store = redisStore({ url: redis.url, prefix: PREFIX })
  try {
    // 1. real logins, alternating between the instances (the callback lands on either)
    const memoryBefore = redis.info('memory').used_memory
    const started = performance.now()
    const cookies = []
    for (let i = 0; i < sessions; i++) cookies.push(await login(instances[i % instances.length].base))
    const loginMs = performance.now() - started
    const memoryAfter = redis.info('memory').used_memory
    const keys = redis.cli('--scan', '--pattern', `${PREFIX}*`).split('\n').filter(Boolean)
    const kinds = {}
    for (const key of keys) (kinds[kindOf(key)] ??= []).push(key)
    const census = Object.entries(kinds).map(([kind, list]) => {
      const sample = list.slice(0, 50)
      const ttls = sample.map((key) => Number(redis.cli('PTTL', key)) / 1000)
      return { kind, keys: list.length, bytes: median(sample.map((key) => Number(redis.cli('MEMORY', 'USAGE', key, 'SAMPLES', '0')))), ttlS: median(ttls) }
    })
    log(`scale-out: ${sessions} logins in ${(loginMs / 1000).toFixed(1)} s; Redis keys ${JSON.stringify(census)}`)

    // 2. every session's access token expired 10 s ago, in the shared record
    const sids = cookies.map((header) => JSON.parse(codec.open(NAME, parseCookieHeader(header)[NAME])))
    const now = Math.floor(Date.now() / 1000)
    let template
    for (const sid of sids) {
      const stored = await store.get(sid)
      if (!stored) throw new Error('a session logged in through the bench is not in Redis')
      const record = structuredClone(stored) // the store's objects are shared: never change them in place
      template ??= record
      record.tokens.expiresAt = now - 10
      await store.set(sid, record, Math.max(60, record.exp - now))
    }
    if (!template.tokens.refreshToken) throw new Error('the dev provider gave no refresh token: the storm would not refresh')

    // 3. the storm: request i for session i % sessions, on instance ⌊i / sessions⌋ mod 2, so each session's requests are split across both
    const perSession = requests / sessions
    const result = await refreshStorm({
      provider,
      requests,
      urlFor: (i) => `${instances[Math.floor(i / sessions) % instances.length].base}/me`,
      cookieFor: (i) => cookies[i % sessions],
    })
    // afterwards every session still works on every instance
    let working = 0
    for (const cookie of cookies) {
      for (const { base } of instances) {
        const response = await fetch(`${base}/me`, { headers: { accept: 'application/json', cookie } })
        await response.text()
        if (response.status === 200) working++
      }
    }
    const storm = { ...result, sessions, perSession, instances: instances.length, workingAfter: working, checkedAfter: cookies.length * instances.length }
    log(`scale-out storm: ${JSON.stringify(storm)}`)

    // 4. Redis at 10,000 sessions: copies of a real record under new ids, written by the store
    const synthetic = redisStore({ url: redis.url, prefix: SYNTHETIC_PREFIX })
    let redisAt
    try {
      const count = heapSessions
      const before = redis.info('memory').used_memory
      // ids as long as real ones (18 random bytes, base64url: 24 characters)
      const sidOf = (i) => `${String(i).padStart(8, '0')}${template.sid.slice(8)}`
      for (let i = 0; i < count; i += 500) {
        await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => synthetic.set(sidOf(i + j), { ...template, sid: sidOf(i + j) }, 7 * 86400)))
      }
      const after = redis.info('memory').used_memory
      const one = `${SYNTHETIC_PREFIX}{${sidOf(0)}}:session`
      redisAt = { count, perSession: (after - before) / count, totalMiB: (after - before) / 2 ** 20, memoryUsage: Number(redis.cli('MEMORY', 'USAGE', one, 'SAMPLES', '0')), recordBytes: JSON.stringify(template).length }
      log(`scale-out: Redis at ${count} sessions: ${JSON.stringify(redisAt)}`)
    } finally {
      await synthetic.close()
    }

    // 5. the memory store at 10,000 sessions (copies of the same record), in a process of its own with --expose-gc
    const heap = await storeHeap(heapSessions, template)
    log(`scale-out: memory store at ${heapSessions} sessions: ${JSON.stringify(heap)}`)

    return { logins: { count: sessions, ms: loginMs, redisBytes: memoryAfter - memoryBefore }, census, storm, redisAt, heap }
  } finally {
    await store.close()
  }
}

function storeHeap(count, session) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', STORE_HEAP_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_STORE_HEAP: JSON.stringify({ count, session }) } })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.on('error', reject)
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
      if (code !== 0 || !line) return reject(new Error(`store-heap exited ${code}: ${out}`))
      resolve(JSON.parse(line.slice('BENCH_RESULT '.length)))
    })
  })
}

const kib = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`

/** The scale-out section of the report (markdown lines). */
export function renderScale(scale) {
  const { logins, census, storm, redisAt, heap } = scale
  const sessionKeys = census.filter((c) => !c.kind.startsWith('once'))
  const perSessionKeys = sessionKeys.reduce((sum, c) => sum + (c.keys * c.bytes) / logins.count, 0)
  return [
    '### Scale-out: two instances on one Redis (issue 7)',
    '',
    `Two Fastify 5 + codegrant processes with the Redis store on the same redis-server (key prefix \`${PREFIX}\`), the same cookie secret and client; ${logins.count} real logins through the dev provider, alternating between the instances (${(logins.ms / 1000).toFixed(1)} s).`,
    '',
    '#### Redis memory per session',
    '',
    '| keys after the logins | count | MEMORY USAGE (median) | TTL (median) |',
    '| --- | ---: | ---: | ---: |',
    ...census.map((c) => `| ${c.kind} | ${c.keys} | ${c.bytes} B | ${c.ttlS < 0 ? 'none' : `${Math.round(c.ttlS).toLocaleString('en-US')} s`} |`),
    '',
    `- **Per session: ${kib(perSessionKeys)}** of keys that live as long as the session (MEMORY USAGE of its record${sessionKeys.length > 1 ? ' and its share of the index keys' : ''}); INFO \`used_memory\` grew by ${kib(logins.redisBytes / logins.count)} per login, which also counts the short-lived one-time keys above and Redis's own bookkeeping.`,
    `- **At ${redisAt.count.toLocaleString('en-US')} sessions** (copies of one real ${redisAt.recordBytes} B record written through the store): ${kib(redisAt.perSession)} per session by INFO \`used_memory\` (${redisAt.totalMiB.toFixed(1)} MiB in all); MEMORY USAGE of one record ${redisAt.memoryUsage} B.`,
    '',
    '#### Memory store',
    '',
    `${heap.count.toLocaleString('en-US')} copies of the same ${heap.recordBytes} B session in \`memoryStore({ maxSessions: ${heap.count} })\`, parsed from JSON as the store holds them: **${kib(heap.perSession)} of heap per session**, ${((heap.perSession * heap.count) / 2 ** 20).toFixed(1)} MiB per 10,000 sessions (filled in ${(heap.fillMs / 1000).toFixed(2)} s). The memory store's default bound is 10,000 sessions.`,
    '',
    '#### Refresh storm on two instances',
    '',
    `Every session's access token marked expired 10 s ago in its Redis record; ${storm.requests.toLocaleString('en-US')} concurrent \`GET /me\` (${storm.perSession} per session, split between the two instances, one connection each, all at once), sent from the bench process, which also runs the dev provider.`,
    '',
    '| sessions | requests | instances | refresh grants at the provider | grant errors | answers | time to drain | p50 | p99 | sessions working on every instance afterwards |',
    '| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    `| ${storm.sessions} | ${storm.requests} | ${storm.instances} | **${storm.grants}**${storm.grants === storm.sessions ? '' : ' ⚠'} | ${storm.grantErrors} | ${storm.statuses} | ${storm.drainMs.toFixed(0)} ms | ${storm.p50Ms.toFixed(0)} ms | ${storm.p99Ms.toFixed(0)} ms | ${storm.workingAfter} / ${storm.checkedAfter} |`,
  ]
}
