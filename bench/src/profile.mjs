// `pnpm --dir bench profile`: where a request's time goes inside the server, codegrant against
// the floor, per framework — the profile behind every ratio in RESULTS.md. Each case runs in its
// own server process (servers.mjs, the same apps as the bench) under `node --cpu-prof`, pinned to
// one CPU, loaded by wrk with enough connections to keep it busy; the profile is then split by
// who ran (codegrant's core and adapter, the cookie library, the framework, Node's HTTP, the
// kernel's writev, GC) per request. No provider is needed: the session cookie is sealed here
// with the servers' cookie secret, as codegrant would seal a login's session (an ID token of the
// dev provider's size, access and refresh tokens), so no request leaves the machine.
//
// The memory and Redis stores' guarded /me (issue 24) are profiled too, against the floor and
// against the cookie store: the memory-store server is given the session's record at start (in
// its own memoryStore(), see servers.mjs), the Redis one finds it in a redis-server started here
// (on the load generator's CPU), written as the store writes it; both are sent the session id's
// cookie, sealed here as codegrant seals it.
//
// BENCH_PROFILE_SECONDS (default 5) per case, BENCH_PROFILE_CONNECTIONS (default 50),
// BENCH_PROFILE_ONLY (a regular expression over the framework names), BENCH_PROFILE_LINES (a
// regular expression over the lines: guarded, many, anonymous, memory, redis).
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { analyse } from './cpuprofile.mjs'
import { startRedis } from './redis.mjs'
import { createSessionCodec, sessionCookieVariants } from './session-codec.mjs'
import { freePort } from './system.mjs'
import { runWrk } from './wrk.mjs'

const SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_PROFILE_CONNECTIONS ?? 50)
const SERVER_CPU = 1
const LOAD_CPU = 0
const here = new URL('.', import.meta.url).pathname
const secret = 'bench-profile-cookie-secret-0123456789abcdef'

// a session of a real login's shape and size (the dev provider's ID token is ~900 characters)
const now = Math.floor(Date.now() / 1000)
const user = { sub: 'alice', name: 'Alice Liddell', email: 'alice@example.com', email_verified: true, groups: ['admin'] }
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')
const claims = { ...user, iss: 'http://127.0.0.1:9/', aud: 'bench', iat: now, exp: now + 3600, auth_time: now, nonce: 'n'.repeat(43), at_hash: 'h'.repeat(22), sid: 's'.repeat(36) }
const idToken = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k'.repeat(43) })}.${b64(claims)}.${'x'.repeat(342)}`
const session = { sid: 'q'.repeat(24), iat: now, uat: now, exp: now + 86_400, tokens: { accessToken: 'A'.repeat(43), refreshToken: 'R'.repeat(43), idToken, tokenType: 'Bearer', scope: 'openid profile email offline_access', expiresAt: now + 3600 } }
const codec = createSessionCodec(secret)
const cookie = `codegrant.session=${codec.seal('codegrant.session', JSON.stringify(session))}`
// many users over each connection (a proxy's pool): every request carries another user's cookie
const USERS = 100
const rotating = sessionCookieVariants(cookie, secret, USERS)

// a server-side store's cookie: the session id, sealed (what a store-backed login sets)
const storeCookie = `codegrant.session=${codec.seal('codegrant.session', JSON.stringify(session.sid))}`

const ONLY = process.env.BENCH_PROFILE_ONLY ? new RegExp(process.env.BENCH_PROFILE_ONLY) : undefined
const LINES = process.env.BENCH_PROFILE_LINES ? new RegExp(process.env.BENCH_PROFILE_LINES) : undefined
// each line: the floor's case, then codegrant's (and for the stores, the cookie store's guarded case to compare with)
const CASES = ['express', 'koa', 'fastify'].filter((framework) => !ONLY || ONLY.test(framework)).flatMap((framework) => [
  ...(!LINES || LINES.test('guarded') || LINES.test('memory') || LINES.test('redis') ? [
    { framework, line: 'guarded', kind: `${framework}-floor`, path: '/me', cookie: true },
    { framework, line: 'guarded', kind: `${framework}-codegrant`, path: '/me', cookie: true },
  ] : []),
  ...(!LINES || LINES.test('many') ? [
    { framework, line: `guarded, ${USERS} users per connection`, kind: `${framework}-floor`, path: '/me', cookie: true, rotate: true },
    { framework, line: `guarded, ${USERS} users per connection`, kind: `${framework}-codegrant`, path: '/me', cookie: true, rotate: true },
  ] : []),
  ...(!LINES || LINES.test('anonymous') ? [
    { framework, line: 'anonymous', kind: `${framework}-floor`, path: '/public', cookie: false },
    { framework, line: 'anonymous', kind: `${framework}-codegrant`, path: '/public', cookie: false },
  ] : []),
  ...(!LINES || LINES.test('memory') ? [{ framework, line: 'guarded, memory store', kind: `${framework}-memory`, path: '/me', cookie: true, store: 'memory' }] : []),
  ...(!LINES || LINES.test('redis') ? [{ framework, line: 'guarded, Redis store (session cache on)', kind: `${framework}-redis`, path: '/me', cookie: true, store: 'redis' }] : []),
])
// the Redis store's record, in a redis-server of its own, as `@codegrant/redis` writes it (prefix `codegrant:`)
const redis = CASES.some((c) => c.store === 'redis') ? await startRedis({ cpu: LOAD_CPU }) : undefined
redis?.cli('SET', `codegrant:{${session.sid}}:session`, JSON.stringify(session), 'PX', String(86_400_000))


async function profileCase(spec) {
  const dir = mkdtempSync(join(tmpdir(), 'codegrant-profile-'))
  const port = await freePort()
  const settings = { port, issuer: 'http://127.0.0.1:9/', clientId: 'bench', clientSecret: 'bench-secret', cookieSecret: secret, user, redisUrl: redis?.url, ...(spec.store === 'memory' ? { seed: { sid: session.sid, data: session } } : {}) }
  const child = spawn('taskset', ['-c', String(SERVER_CPU), process.execPath, '--cpu-prof', `--cpu-prof-dir=${dir}`, join(here, 'servers.mjs'), spec.kind], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', BENCH_SERVER: JSON.stringify(settings), BENCH_COUNT: '1' },
  })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${spec.kind} exited with ${code}`)))
    child.once('message', resolve)
  })
  // the same wrk runs as the bench's (report.lua; with `cookies`, each request carries the next one)
  const load = await runWrk({
    url: `http://127.0.0.1:${port}${spec.path}`,
    headers: { accept: 'application/json', ...(spec.cookie && !spec.rotate ? { cookie: spec.store ? storeCookie : cookie } : {}) },
    seconds: SECONDS,
    connections: CONNECTIONS,
    cpu: LOAD_CPU,
    cookies: spec.rotate ? rotating : undefined,
  })
  if (load.errors.status > 0) throw new Error(`${spec.kind} ${spec.path}: ${load.errors.status} answers other than 2xx/3xx`)
  await new Promise((resolve) => { child.removeAllListeners('exit'); child.once('exit', resolve); child.send('close') })
  const served = Number(out.match(/served (\d+) requests/)?.[1])
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
  const result = analyse(JSON.parse(readFileSync(join(dir, file), 'utf8')))
  rmSync(dir, { recursive: true, force: true })
  const per = (us) => us / served
  const cat = (name) => per(result.byCategory.get(name) ?? 0)
  return {
    ...spec,
    served,
    busy: per(result.busy),
    idle: cat('idle'),
    own: cat('codegrant core') + cat('codegrant adapter') + cat('cookie (parse)') + cat('codegrant redis'),
    redis: cat('codegrant redis') + cat('pkg @redis/client'),
    core: cat('codegrant core'),
    adapter: cat('codegrant adapter'),
    cookieParse: cat('cookie (parse)'),
    writev: cat('native writev'),
    gc: cat('GC'),
    categories: new Map([...result.byCategory].map(([name, us]) => [name, per(us)])),
    top: [...result.byFunction].filter(([name]) => /core\/dist|(express|koa|fastify|redis)\/dist|cookie\/dist|@redis\/client/.test(name)).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([name, us]) => [name, per(us)]),
  }
}

const results = []
try {
  for (const spec of CASES) {
    process.stderr.write(`profiling ${spec.kind} ${spec.path}${spec.cookie ? ' (session cookie)' : ''}…\n`)
    results.push(await profileCase(spec))
  }
} finally {
  await redis?.stop()
}
// the floor's and the cookie store's case of each store line's framework
const floorOf = (r) => results.find((x) => x.framework === r.framework && x.line === 'guarded' && x.kind.endsWith('-floor'))
const cookieOf = (r) => results.find((x) => x.framework === r.framework && x.line === 'guarded' && x.kind.endsWith('-codegrant'))
const pairs = [
  ...results.filter((r) => r.kind.endsWith('-floor')).map((floor) => [floor, results.find((x) => x.framework === floor.framework && x.line === floor.line && x.kind.endsWith('-codegrant'))]),
  ...results.filter((r) => r.store).map((r) => [floorOf(r), r]),
].filter(([floor, codegrant]) => floor && codegrant)

const f = (n) => n.toFixed(1)
const lines = [
  `Command: \`pnpm --dir bench profile\` (BENCH_PROFILE_SECONDS=${SECONDS}, BENCH_PROFILE_CONNECTIONS=${CONNECTIONS}). Date: ${new Date().toISOString()}. Node.js ${process.version}.`,
  '',
  'Per request, from one `--cpu-prof` profile per case (one server process each, pinned to one CPU; samples counted from the first request). "guarded" sends one session cookie on every connection (a browser or API client on a keep-alive connection); "guarded, 100 users per connection" sends another user\'s cookie on each request of a connection (a proxy\'s connection pool), so nothing per connection can be reused. "busy" is the process\'s sampled time minus idle; "codegrant\'s own code" is the self time of the core, the adapter and the `cookie` library; "budget at 0.95×" is what a layer may add to the floor\'s busy time and stay at 0.95× of it (anonymous: 0.98×).',
  '',
  '| framework | line | floor busy µs | codegrant busy µs | codegrant\'s own code µs (core + adapter + cookie) | budget µs | writev µs floor / codegrant | GC µs floor / codegrant |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
]
for (const [floor, codegrant] of pairs) {
  const target = codegrant.line.startsWith('guarded') ? 0.95 : 0.98
  lines.push(`| ${floor.framework} | ${codegrant.line} (${codegrant.path}) | ${f(floor.busy)} | ${f(codegrant.busy)} | ${codegrant.own.toFixed(2)} (${codegrant.core.toFixed(2)} + ${codegrant.adapter.toFixed(2)} + ${codegrant.cookieParse.toFixed(2)}) | ${f(floor.busy * (1 / target - 1))} | ${f(floor.writev)} / ${f(codegrant.writev)} | ${f(floor.gc)} / ${f(codegrant.gc)} |`)
}
lines.push('', 'codegrant\'s heaviest functions (self µs per request):', '')
for (const r of results.filter((x) => !x.kind.endsWith('-floor'))) {
  lines.push(`- ${r.framework} ${r.line}: ${r.top.map(([name, us]) => `${name.replace(/ .*\/dist\//, ' ')} ${us.toFixed(2)}`).join('; ') || '—'}`)
}
lines.push('', 'Where codegrant\'s process spent more (or less) per request than the floor\'s, by who ran (µs; the largest differences):', '')
const differences = (base, other) => {
  const names = new Set([...base.categories.keys(), ...other.categories.keys()])
  names.delete('idle')
  const diffs = [...names].map((name) => [name, (other.categories.get(name) ?? 0) - (base.categories.get(name) ?? 0)]).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 6)
  return `${f(other.busy - base.busy)} in all — ${diffs.map(([name, us]) => `${name} ${us >= 0 ? '+' : ''}${f(us)}`).join(', ')}`
}
for (const [floor, codegrant] of pairs) lines.push(`- ${floor.framework} ${codegrant.line}: ${differences(floor, codegrant)}`)
const stores = results.filter((r) => r.store && cookieOf(r))
if (stores.length) {
  lines.push('', 'What a store-backed guarded request costs over the cookie store\'s (same framework, µs per request; the largest differences):', '')
  for (const r of stores) lines.push(`- ${r.framework} ${r.line}: ${differences(cookieOf(r), r)}${r.store === 'redis' ? ` (codegrant redis + node-redis: ${r.redis.toFixed(2)} µs)` : ''}`)
}
const markdown = lines.join('\n')
mkdirSync(join(here, '..', 'results'), { recursive: true })
writeFileSync(join(here, '..', 'results', 'profile.md'), `${markdown}\n`)
console.log(markdown)
