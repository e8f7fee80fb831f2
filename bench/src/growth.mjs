// How codegrant's per-request cost grows: with the session's size (1.5, 4 and 12 KB cookies,
// chunked past 4 KB), with the number of live sessions in the memory store (10k, 100k, 1M), and
// under a refresh storm (1,000 concurrent requests over 100 sessions whose access tokens expired).
//
//   pnpm --dir bench growth                  # everything (~2 min)
//   BENCH_GROWTH_SESSIONS='10000 100000' pnpm --dir bench growth
//
// Run with --expose-gc (the script re-runs itself with it and a larger heap).
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createCookieCodec } from '@codegrant/core'
import { createCodegrant, guard } from '@codegrant/core/adapter'
import { parse as parseCookieHeader } from 'cookie'
import { fillMemoryStore } from './store-heap.mjs'
import { refreshStorm as sendStorm } from './storm.mjs'
import { freePort, processCpu } from './system.mjs'

if (typeof globalThis.gc !== 'function') {
  const result = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=12288', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(result.status ?? 1)
}

const env = process.env
const seconds = Number(env.BENCH_GROWTH_SECONDS ?? 1)
const SESSION_COUNTS = (env.BENCH_GROWTH_SESSIONS ?? '10000 100000 1000000').split(' ').filter(Boolean).map(Number)
const STORM = { sessions: Number(env.BENCH_STORM_SESSIONS ?? 100), requests: Number(env.BENCH_STORM_REQUESTS ?? 1000) }
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))
const NAME = 'codegrant.session'
const SECRET = randomBytes(32).toString('base64url')
const OPTIONS = { issuer: 'http://127.0.0.1:9', clientId: 'bench', clientSecret: 'secret', baseUrl: 'http://127.0.0.1:3000', cookieSecret: SECRET, logger: { warn() {}, error() {} } }
const log = (line) => process.stderr.write(`${line}\n`)
let sink = 0

/** CPU time (user + system) so far, in ms: unlike the wall clock, other processes taking the CPU do not add to it. */
const cpuNow = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Median CPU ns/op of ~5 ms batches over `seconds` of CPU time (as micro.mjs). */
function measure(fn) {
  const warmUntil = cpuNow() + 200
  const warmWall = performance.now() + 600
  while (cpuNow() < warmUntil && performance.now() < warmWall) for (let i = 0; i < 100; i++) fn(i)
  let batch = 1
  for (;;) {
    const start = cpuNow()
    for (let i = 0; i < batch; i++) fn(i)
    if (cpuNow() - start >= 5) break
    batch *= 2
  }
  const samples = []
  const until = cpuNow() + seconds * 1000
  // on a loaded machine a second of CPU can take many seconds: the wall clock bounds it too
  const wallUntil = performance.now() + seconds * 3000
  let n = 0
  while ((cpuNow() < until && performance.now() < wallUntil) || samples.length < 5) {
    const start = cpuNow()
    for (let i = 0; i < batch; i++) fn(n++)
    samples.push(((cpuNow() - start) * 1e6) / batch)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]
}

const b64 = (bytes) => randomBytes(bytes).toString('base64url')
const jwt = (claims, signatureBytes = 256) => `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: b64(8) })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${b64(signatureBytes)}`

/** A session shaped like a real one (access, refresh and ID tokens), `padding` characters of extra claims. */
function makeSession(sid, padding = 0) {
  const now = Math.floor(Date.now() / 1000)
  const claims = { sub: 'alice', name: 'Alice Example', email: 'alice@example.com', email_verified: true, groups: ['admin'], iss: 'http://127.0.0.1:9', aud: 'bench', iat: now, exp: now + 3600 }
  const session = {
    sid,
    iat: now,
    uat: now,
    exp: now + 7 * 86400,
    tokens: { accessToken: b64(32), refreshToken: b64(32), idToken: jwt(claims), tokenType: 'bearer', scope: 'openid profile email offline_access', expiresAt: now + 3600, expiresIn: 3600 },
  }
  if (padding > 0) session.user = { ...claims, extra: 'x'.repeat(padding) }
  return session
}

/** The Cookie header a browser sends for `sealed`: one cookie, or chunks under 4 KB each as codegrant writes them. */
function cookieHeader(sealed) {
  if (sealed.length <= 3900) return `${NAME}=${sealed}`
  const chunks = []
  for (let i = 0; i * 3900 < sealed.length; i++) chunks.push(`${NAME}.${i}=${sealed.slice(i * 3900, (i + 1) * 3900)}`)
  return chunks.join('; ')
}

const codec = createCookieCodec([SECRET])
const requestWith = (cookie) => ({ method: 'GET', url: '/me', headers: { host: '127.0.0.1:3000', accept: 'application/json', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0', ...(cookie ? { cookie } : {}) } })
const noSink = () => {}

function guarded(codegrant, request) {
  const state = codegrant.attach(request, noSink, undefined)
  if (guard(state) !== undefined) throw new Error('the guard refused a live session')
  return state.user.sub.length
}

// 1. session size
function sessionSize() {
  const rows = []
  for (const [label, padding] of [['1.5 KB (no extra claims)', 0], ['4 KB', 1700], ['12 KB (4 chunks)', 7700]]) {
    const sealed = codec.seal(NAME, JSON.stringify(makeSession(b64(18), padding)))
    const header = cookieHeader(sealed)
    const request = requestWith(header)
    const cached = createCodegrant(OPTIONS, {})
    const uncached = createCodegrant({ ...OPTIONS, sessionCacheSize: 0 }, {})
    rows.push({
      label,
      cookieBytes: header.length,
      chunks: header.split('; ').length,
      parse: measure(() => { sink += Object.keys(parseCookieHeader(header)).length }),
      hit: measure(() => { sink += guarded(cached, request) }),
      miss: measure(() => { sink += guarded(uncached, request) }),
    })
    log(`size ${label}: ${JSON.stringify(rows.at(-1))}`)
  }
  const anonymous = createCodegrant(OPTIONS, {})
  const none = requestWith(undefined)
  const anon = measure(() => { const state = anonymous.attach(none, noSink, undefined); sink += state.isAuthenticated ? 1 : 0 })
  return { rows, anonymous: anon }
}

// 1b. session size over HTTP: Fastify with codegrant vs the floor (same app shape, no-op layers), same Cookie header, same answer
async function httpSizes() {
  const { runWrk } = await import('./wrk.mjs')
  const cpuOf = processCpu
  const rows = []
  for (const [label, padding] of [['1.5 KB', 0], ['4 KB', 1700], ['12 KB (4 chunks)', 7700]]) {
    const session = makeSession(b64(18), padding)
    const user = session.user ?? JSON.parse(Buffer.from(session.tokens.idToken.split('.')[1], 'base64url').toString('utf8'))
    const cookie = cookieHeader(codec.seal(NAME, JSON.stringify(session)))
    const row = { label, cookieBytes: cookie.length }
    const servers = {}
    for (const kind of ['fastify-floor', 'fastify-codegrant']) {
      const port = await freePort()
      const child = spawn('taskset', ['-c', '1', process.execPath, fileURLToPath(new URL('./servers.mjs', import.meta.url)), kind], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...env, NODE_ENV: 'production', BENCH_SERVER: JSON.stringify({ port, issuer: 'http://127.0.0.1:9', clientId: 'bench', clientSecret: 'secret', cookieSecret: SECRET, user }) },
      })
      await new Promise((resolve, reject) => { child.once('message', resolve); child.once('exit', reject) })
      servers[kind] = { child, url: `http://127.0.0.1:${port}/me` }
    }
    const bodies = await Promise.all(Object.values(servers).map(async ({ url }) => (await fetch(url, { headers: { accept: 'application/json', cookie } })).text()))
    if (bodies[0] !== bodies[1]) throw new Error(`floor and codegrant answer differently for ${label}: ${bodies.map((b) => b.slice(0, 80)).join(' / ')}`)
    row.bodyBytes = bodies[0].length
    for (const { url } of Object.values(servers)) await runWrk({ url, headers: { accept: 'application/json', cookie }, seconds: 2, connections: 10, cpu: 0 })
    const samples = { 'fastify-floor': [], 'fastify-codegrant': [] }
    for (let pass = 0; pass < 5; pass++) {
      for (const [kind, { child, url }] of Object.entries(servers)) {
        const before = cpuOf(child.pid)
        const run = await runWrk({ url, headers: { accept: 'application/json', cookie }, seconds: 2, connections: 10, cpu: 0 })
        samples[kind].push({ cpuUs: ((cpuOf(child.pid) - before) * 1e6) / run.requests, rps: run.rps, errors: run.errors.status + run.errors.timeout })
      }
    }
    const med = (values) => values.sort((a, b) => a - b)[2]
    row.floorCpuUs = med(samples['fastify-floor'].map((r) => r.cpuUs))
    row.codegrantCpuUs = med(samples['fastify-codegrant'].map((r) => r.cpuUs))
    row.ratio = med(samples['fastify-floor'].map((r, i) => r.cpuUs / samples['fastify-codegrant'][i].cpuUs))
    row.errors = Object.values(samples).flat().reduce((n, r) => n + r.errors, 0)
    for (const { child } of Object.values(servers)) child.kill()
    rows.push(row)
    log(`http size ${label}: ${JSON.stringify(row)}`)
  }
  return rows
}

// 2. the opened-session cache's memory
function cacheMemory() {
  const entries = 10_000
  gc()
  const before = process.memoryUsage().heapUsed
  const codegrant = createCodegrant(OPTIONS, {})
  let requests = Array.from({ length: entries }, (_, i) => requestWith(cookieHeader(codec.seal(NAME, JSON.stringify(makeSession(`sid-${i}-${b64(12)}`))))))
  const cookieBytes = requests[0].headers.cookie.length
  for (const request of requests) sink += guarded(codegrant, request)
  requests = undefined // what is left is what the cache keeps
  gc()
  const perEntry = (process.memoryUsage().heapUsed - before) / entries
  sink += codegrant.config.sessionCacheSize
  log(`cache: ${perEntry.toFixed(0)} B per entry (cookie ${cookieBytes} B, claims decoded)`)
  return { entries, perEntry, cookieBytes, defaultEntries: 10_000 }
}

// 3. live sessions in the memory store
function memoryStoreGrowth() {
  const rows = []
  for (const count of SESSION_COUNTS) {
    // a store sized for `count` (its default bound is 10,000 sessions: past it, the least recently used go)
    const { store, sids, fillMs, perSession } = fillMemoryStore(count, (sid) => makeSession(sid))
    const sample = Array.from({ length: 2000 }, () => sids[Math.floor(Math.random() * count)])
    const lookup = measure((i) => { sink += store.get(sample[i % sample.length]) ? 1 : 0 })
    // guarded requests in the core with this store: random sessions among the sample (its cookies stay cached)
    const codegrant = createCodegrant({ ...OPTIONS, sessionStore: store }, {})
    const requests = sample.map((sid) => requestWith(`${NAME}=${codec.seal(NAME, JSON.stringify(sid))}`))
    const guardedNs = measure((i) => { sink += guarded(codegrant, requests[i % requests.length]) })
    const uncached = createCodegrant({ ...OPTIONS, sessionStore: store, sessionCacheSize: 0 }, {})
    const guardedMissNs = measure((i) => { sink += guarded(uncached, requests[i % requests.length]) })
    rows.push({ count, perSession, fillMs, lookup, guarded: guardedNs, guardedMiss: guardedMissNs, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 })
    log(`memory store ${count}: ${JSON.stringify(rows.at(-1))}`)
  }
  return rows
}

// 4. refresh storm, over HTTP against the dev provider
async function refreshStorm() {
  const { startDevProvider } = await import('@codegrant/dev-provider')
  const { loginCookie } = await import('./agent.mjs')
  const port = await freePort()
  const spec = { port, clientId: 'bench-storm', clientSecret: b64(24), cookieSecret: SECRET }
  const provider = await startDevProvider({ quiet: true, clients: [{ client_id: spec.clientId, client_secret: spec.clientSecret, redirect_uris: [`http://127.0.0.1:${port}/auth/callback`] }] })
  const server = spawn(process.execPath, [fileURLToPath(new URL('./servers.mjs', import.meta.url)), 'fastify-codegrant'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...env, NODE_ENV: 'production', BENCH_SERVER: JSON.stringify({ ...spec, issuer: provider.issuer }) },
  })
  try {
    await new Promise((resolve, reject) => { server.once('message', resolve); server.once('exit', reject) })
    const base = `http://127.0.0.1:${port}`
    const cookies = []
    for (let i = 0; i < STORM.sessions; i++) cookies.push(await loginCookie(`${base}/auth/login`, 'alice', (n) => n === NAME || n.startsWith(`${NAME}.`)))
    // every session's access token expired 10 s ago: the guard refreshes before letting a request in
    const expired = cookies.map((header) => {
      const sealed = parseCookieHeader(header)[NAME]
      const session = JSON.parse(codec.open(NAME, sealed))
      session.tokens.expiresAt = Math.floor(Date.now() / 1000) - 10
      return cookieHeader(codec.seal(NAME, JSON.stringify(session)))
    })
    const result = { sessions: STORM.sessions, ...(await sendStorm({ provider, requests: STORM.requests, urlFor: () => `${base}/me`, cookieFor: (i) => expired[i % expired.length] })) }
    log(`storm: ${JSON.stringify(result)}`)
    return result
  } finally {
    server.kill()
    await provider.close()
  }
}

const us = (ns) => (ns / 1000).toFixed(2)
const size = sessionSize()
const http = env.BENCH_GROWTH_HTTP === '0' ? [] : await httpSizes()
const cache = cacheMemory()
const store = memoryStoreGrowth()
const storm = env.BENCH_STORM === '0' ? undefined : await refreshStorm()

const lines = [
  `Command: \`pnpm --dir bench growth\`. Date: ${new Date().toISOString()}. Node.js ${process.version}. Core only (no HTTP) for the first three tables: CPU time (process.cpuUsage, so other processes on the machine do not inflate it), median of ~5 ms batches over ${seconds} s of CPU per figure.`,
  '',
  '### Per-request cost vs session size',
  '',
  '| session cookie | Cookie header | cookies | guard + user.sub, cookie seen before (cache hit) µs | same, cache off (decrypt + parse every time) µs | cookie.parse of the header alone µs |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...size.rows.map((r) => `| ${r.label} | ${r.cookieBytes} B | ${r.chunks} | ${us(r.hit)} | ${us(r.miss)} | ${us(r.parse)} |`),
  '',
  `Anonymous request (attach(), no cookie): ${us(size.anonymous)} µs.`,
  ...(http.length
    ? [
        '',
        'Over HTTP (Fastify 5, `GET /me`, 10 connections, server pinned to CPU 1 and wrk to CPU 0; the floor is sent the same Cookie header and answers the same JSON; the server\'s own CPU time per request, median of 5 interleaved 2 s passes):',
        '',
        '| session cookie | Cookie header | answer | floor CPU µs/req | codegrant CPU µs/req | floor ÷ codegrant |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        ...http.map((r) => `| ${r.label} | ${r.cookieBytes} B | ${r.bodyBytes} B | ${r.floorCpuUs.toFixed(1)} | ${r.codegrantCpuUs.toFixed(1)} | ${r.ratio.toFixed(2)}×${r.errors ? ' ⚠' : ''} |`),
      ]
    : []),
  '',
  '### The opened-session cache',
  '',
  `${cache.entries.toLocaleString('en-US')} sessions read once each (cookie ${cache.cookieBytes} B): **${(cache.perEntry / 1024).toFixed(1)} KiB of heap per cached session** (the cookie value, the parsed session, the decoded claims, the map entry); at the default bound (${cache.defaultEntries.toLocaleString('en-US')} entries, 16 MiB of cookie characters) that is at most ~${((cache.perEntry * cache.defaultEntries) / 2 ** 20).toFixed(0)} MiB.`,
  '',
  '### Live sessions in the memory store',
  '',
  '| live sessions | heap per session | fill time | store.get(sid), random sid µs | guard + user.sub, random session, sid cookie cached µs | same, cache off µs | heap in use |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...store.map((r) => `| ${r.count.toLocaleString('en-US')} | ${(r.perSession / 1024).toFixed(2)} KiB | ${(r.fillMs / 1000).toFixed(1)} s | ${us(r.lookup)} | ${us(r.guarded)} | ${us(r.guardedMiss)} | ${r.heapMiB.toFixed(0)} MiB |`),
]
if (storm) {
  lines.push(
    '',
    '### Refresh storm',
    '',
    `Fastify 5 + codegrant (cookie store) in its own process, the dev provider on loopback. ${storm.sessions} real logins; every session's access token then marked expired 10 s ago; ${storm.requests.toLocaleString('en-US')} concurrent \`GET /me\` (${storm.requests / storm.sessions} per session, all at once, one connection each).`,
    '',
    '| sessions | requests | refresh grants at the provider | grant errors | answers | responses with Set-Cookie | time to drain | p50 | p99 |',
    '| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    `| ${storm.sessions} | ${storm.requests} | **${storm.grants}** | ${storm.grantErrors} | ${storm.statuses} | ${storm.renewed} | ${storm.drainMs.toFixed(0)} ms | ${storm.p50Ms.toFixed(0)} ms | ${storm.p99Ms.toFixed(0)} ms |`,
  )
}
const report = `${lines.join('\n')}\n`
mkdirSync(RESULTS_DIR, { recursive: true })
writeFileSync(`${RESULTS_DIR}growth-latest.md`, report)
writeFileSync(`${RESULTS_DIR}growth-latest.json`, `${JSON.stringify({ date: new Date().toISOString(), size, http, cache, store, storm, sink: sink > 0 }, null, 2)}\n`)
process.stdout.write(report)
