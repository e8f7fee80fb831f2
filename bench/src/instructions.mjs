// Instructions per request, counted by valgrind's callgrind: `pnpm --dir bench instructions`.
// CPU time per request on this VM moves 1.5–2.6× between fresh processes of the same code, so a
// 5 % target cannot be decided from seconds (RESULTS.md, 2026-12-07). Callgrind counts the
// instructions a process executes instead: the same code on the same requests gives the same count
// to within ~0.5 %, whatever else the machine is doing. It is not time (a cache miss costs no
// instruction), but it is what the process does, and it is decidable.
//
// For each framework (BENCH_INSTRUCTIONS_ONLY picks), each server runs under callgrind:
//   A   the example, as its start script runs it (`node dist/server.js`, OAUTH_ISSUER of a dev
//       provider in its own process), after serving alice's login; counted with her cookie, then
//       with 100 users' cookies in turn;
//   B   a second process of it that never served a login, sent A's cookie;
//   F   the floor of its exact shape (src/example-floors.mjs), the same two ways; F2 a second
//       floor process (the control);
//   M, R  the example with the memory store and with Redis (client-side cache on), each after
//       its own login.
// Each phase: BENCH_INSTRUCTIONS_WARMUP guarded `GET /me` one after another on one keep-alive
// connection, then windows of BENCH_INSTRUCTIONS_REQUESTS between `callgrind_control -z` and
// `-d` until the compiler's threads have settled (see `count`). Each count is taken apart into
// GC, tick objects built through V8's runtime, and the rest (see STATE). Writes
// results/<BENCH_INSTRUCTIONS_NAME>.md and .json (default: instructions).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loginCookie } from './agent.mjs'
import { readDump } from './callgrind.mjs'
import { startRedis } from './redis.mjs'
import { sessionCookieVariants } from './session-codec.mjs'
import { freePort, gitCommit, loadAverage, ROOT, startProcess, writeResults } from './system.mjs'

const env = process.env
const FLOOR_SCRIPT = fileURLToPath(new URL('./example-floors.mjs', import.meta.url))
const PROVIDER_CLI = fileURLToPath(new URL('../../packages/dev-provider/bin/codegrant-dev-provider.js', import.meta.url))
const FRAMEWORKS = ['fastify', 'express', 'koa']
const settings = {
  only: env.BENCH_INSTRUCTIONS_ONLY ? new RegExp(env.BENCH_INSTRUCTIONS_ONLY) : undefined,
  warmup: Number(env.BENCH_INSTRUCTIONS_WARMUP ?? 10_000),
  requests: Number(env.BENCH_INSTRUCTIONS_REQUESTS ?? 5000),
  windows: Number(env.BENCH_INSTRUCTIONS_WINDOWS ?? 4),
  // keep callgrind's dumps (and Node's perf map of its JIT code) for callgrind_annotate
  keep: env.BENCH_INSTRUCTIONS_KEEP === '1',
  // every measured process keeps one tick object (src/pin-ticks.mjs): all in the same state
  pinTicks: env.BENCH_INSTRUCTIONS_PIN_TICKS === '1',
  // which of the phases below to count (a regular expression on `A.one`, `F.many`, …): all by default
  phases: env.BENCH_INSTRUCTIONS_PHASES ? new RegExp(env.BENCH_INSTRUCTIONS_PHASES) : undefined,
  // results/<name>.md and .json: two runs side by side (BENCH_INSTRUCTIONS_NAME)
  name: env.BENCH_INSTRUCTIONS_NAME ?? 'instructions',
}
const PIN_TICKS = new URL('./pin-ticks.mjs', import.meta.url).href
/** As the main bench's many-users case: a proxy's pool carrying this many users' cookies in turn. */
const MANY_USERS = 100
const isSessionCookie = (name) => name === 'codegrant.session' || name.startsWith('codegrant.session.')
const log = (line) => process.stderr.write(`${line}\n`)

function requireValgrind() {
  try {
    return execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    log('valgrind is not installed (apt-get install valgrind): the instruction counts need callgrind')
    process.exit(1)
  }
}

/** A process of the run; with `dir`, under callgrind, writing its dumps there. */
function start(command, args, childEnv, { cwd = ROOT, dir } = {}) {
  const nodeFlags = command === process.execPath && dir ? [...(settings.keep ? ['--perf-basic-prof', `--logfile=${join(dir, 'v8.log')}`] : []), ...(settings.pinTicks ? ['--import', PIN_TICKS] : [])] : []
  const [file, argv] = dir ? ['valgrind', ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${join(dir, 'callgrind.out')}`, command, ...nodeFlags, ...args]] : [command, args]
  return startProcess(file, argv, childEnv, { cwd })
}

/**
 * `count` guarded requests one after another on one keep-alive connection, the `cookies` in turn;
 * every answer must be 200 with `body`.
 */
async function send(port, cookies, count, body) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const headers = cookies.map((cookie) => ({ accept: 'application/json', cookie }))
  try {
    for (let i = 0; i < count; i++) {
      const [status, text] = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/me', headers: headers[i % headers.length], agent }, (response) => {
          let data = ''
          response.setEncoding('utf8')
          response.on('data', (chunk) => { data += chunk })
          response.on('end', () => resolve([response.statusCode, data]))
        }).on('error', reject)
      })
      if (status !== 200 || text !== body) throw new Error(`/me on ${port}: ${status} ${text.slice(0, 200)}`)
    }
  } finally {
    agent.destroy()
  }
}

/**
 * The process's state, as it bears on a request's instructions though it is no request's own
 * work: the garbage collector (every scavenge first walks V8's startup object caches, ~0.4 M
 * instructions whatever the heap holds, so its share per request follows the young generation's
 * size, which a process settles on at start), and Node's tick objects built through V8's runtime
 * (see RESULTS.md, 2026-12-08: in some processes the property definitions of the tick object's
 * literal go megamorphic and every `process.nextTick` calls the runtime, ~1,300 instructions each).
 */
const STATE = {
  gc: /^v8::internal::Heap::CollectGarbage\(/,
  scavenges: /^v8::internal::ScavengerCollector::CollectGarbage\(/,
  tickRuntime: /^v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral\(/,
}

/** callgrind's last dump in `dir`: one file per thread (callgrind.out.<n>-<thread>), the main thread first. */
function lastDump(dir) {
  const files = readdirSync(dir).map((f) => /^callgrind\.out\.(\d+)-(\d+)$/.exec(f)).filter(Boolean)
  const last = Math.max(...files.map((m) => Number(m[1])))
  return files.filter((m) => Number(m[1]) === last).sort((a, b) => Number(a[2]) - Number(b[2])).map((m) => readDump(readFileSync(join(dir, m[0]), 'utf8'), STATE))
}

/**
 * Warm-up, then counted windows of `requests` (zeroed before, dumped after) until the threads
 * other than the main one (V8's optimizing compiler, mostly, still at work after the warm-up under
 * callgrind's slow motion) take under 1 % of a window, at most `windows`; the last window counts.
 */
async function count(server, cookies, body, warmup) {
  await send(server.port, cookies, warmup, body)
  let window
  for (let w = 1; w <= settings.windows; w++) {
    execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' })
    await send(server.port, cookies, settings.requests, body)
    execFileSync('callgrind_control', ['-d', String(server.pid)], { stdio: 'ignore' })
    const [main, ...others] = lastDump(server.dir)
    const per = (n) => n / settings.requests
    const background = others.reduce((sum, thread) => sum + thread.total, 0)
    window = {
      total: per(main.total + background),
      main: per(main.total),
      background: per(background),
      gc: per(main.gc.instructions),
      scavengesPer1000: (main.scavenges.calls * 1000) / settings.requests,
      tickRuntime: per(main.tickRuntime.instructions),
      tickRuntimeCalls: main.tickRuntime.calls / settings.requests,
    }
    window.own = window.main - window.gc - window.tickRuntime
    log(`    window ${w}: ${Math.round(window.total)} instructions/request: main thread ${Math.round(window.main)} (GC ${Math.round(window.gc)}, ${window.scavengesPer1000.toFixed(1)} scavenges per 1000; tick objects through the runtime ${Math.round(window.tickRuntime)}), other threads ${Math.round(window.background)}`)
    if (window.background < 0.01 * window.total) break
  }
  return window
}

/**
 * The counted phases, in order: which process, and whose cookies (`one`: the process's own user,
 * alice; `many`: MANY_USERS users in turn). A process's second phase continues its first's warm
 * state, so it is warmed up for a fifth as long.
 */
const PHASES = [
  ['A', 'one'],
  ['A', 'many'],
  ['B', 'one'],
  ['F', 'one'],
  ['F', 'many'],
  ['F2', 'one'],
  ['M', 'one'],
  ['R', 'one'],
]

async function measure(framework, redis) {
  const started = []
  const dirs = []
  try {
    const ports = { A: await freePort(), B: await freePort(), F: await freePort(), F2: await freePort(), M: await freePort(), R: await freePort() }
    const clientSecret = randomBytes(24).toString('base64url')
    const cookieSecret = randomBytes(32).toString('base64url')
    const redirects = ['A', 'M', 'R'].flatMap((name) => ['--redirect-uri', `http://localhost:${ports[name]}/auth/callback`])
    const provider = start(process.execPath, [PROVIDER_CLI, '--port', '0', '--client-secret', clientSecret, ...redirects], {})
    started.push(provider)
    const [, issuer] = await provider.seen(/OAUTH_ISSUER=(\S+)/)
    const servers = {}
    const underCallgrind = (name, command, args, childEnv, cwd) => {
      const dir = mkdtempSync(join(tmpdir(), `codegrant-instructions-${name}-`))
      dirs.push(dir)
      const one = start(command, args, { PORT: String(ports[name]), ...childEnv }, { cwd, dir })
      started.push(one)
      servers[name] = { port: ports[name], pid: one.child.pid, dir }
      return one
    }
    const exampleEnv = { OAUTH_ISSUER: issuer, OAUTH_CLIENT_ID: 'codegrant-demo', OAUTH_CLIENT_SECRET: clientSecret, OAUTH_COOKIE_SECRET: cookieSecret }
    const stores = {
      A: {},
      M: { OAUTH_SESSION_STORE: 'memory' },
      R: { OAUTH_REDIS_URL: redis.url, OAUTH_REDIS_PREFIX: `instructions-${framework}-${randomBytes(4).toString('hex')}:` },
    }
    const picked = PHASES.filter(([name, sessions]) => !settings.phases || settings.phases.test(`${name}.${sessions}`))
    // only the processes a picked phase counts are started (A always: its login gives the cookie and /me's body)
    const needed = (name) => name === 'A' || picked.some(([phase]) => phase === name)
    const example = (name, store) => underCallgrind(name, process.execPath, ['dist/server.js'], { ...exampleEnv, ...store }, join(ROOT, 'examples', framework)).seen(/listening on http/, 120)
    const cookies = {}
    let body
    for (const name of ['A', 'M', 'R'].filter(needed)) {
      await example(name, stores[name])
      cookies[name] = await loginCookie(`http://localhost:${ports[name]}/auth/login`, 'alice', isSessionCookie)
      const response = await fetch(`http://localhost:${ports[name]}/me`, { headers: { accept: 'application/json', cookie: cookies[name] } })
      const text = await response.text()
      if (response.status !== 200) throw new Error(`${name} /me: ${response.status} ${text.slice(0, 200)}`)
      if (body !== undefined && text !== body) throw new Error(`${name} answers /me differently from A`)
      body = text
    }
    // B, a second process of A's example that never serves a login, and the floors are sent A's cookie
    // (B: the same client and cookie secret; the floors read no cookie)
    for (const name of ['B', 'F', 'F2']) cookies[name] = cookies.A
    if (needed('B')) await example('B', stores.A)
    const user = JSON.parse(body).user
    for (const name of ['F', 'F2'].filter(needed)) await underCallgrind(name, process.execPath, [FLOOR_SCRIPT, framework], { BENCH_SERVER: JSON.stringify({ user }) }).seen(/listening on http/, 120)
    // MANY_USERS users' sessions sealed as the example seals alice's (each its own session id), sent in turn
    const many = sessionCookieVariants(cookies.A, cookieSecret, MANY_USERS)
    const result = {}
    for (const [name, sessions] of picked) {
      log(`  ${framework} ${name}, ${sessions === 'one' ? 'one user' : `${MANY_USERS} users in turn`}:`)
      const sent = sessions === 'many' ? many : [cookies[name]]
      result[`${name}.${sessions}`] = await count(servers[name], sent, body, result[`${name}.one`] ? settings.warmup / 5 : settings.warmup)
    }
    return { framework, cookieBytes: cookies.A.length, perRequest: result }
  } finally {
    await Promise.all(started.map((one) => one.stop()))
    if (settings.keep) log(`  kept: ${dirs.join(' ')}`)
    else for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}

const LABELS = {
  'A.one': 'A, the example (cookie store), alice',
  'A.many': `A, ${MANY_USERS} users in turn`,
  'B.one': 'B, a second example process that never served a login, alice',
  'F.one': 'F, its floor',
  'F.many': `F, ${MANY_USERS} users' cookies in turn`,
  'F2.one': 'F2, a second floor (control)',
  'M.one': 'M, the example with the memory store',
  'R.one': 'R, the example with Redis (cache on)',
}
/** The done-when lines: [label, numerator, denominator, target]. */
const LINES = [
  ['example ÷ its floor (F ÷ A)', 'F.one', 'A.one', 0.95],
  ['the login\'s leftovers (B ÷ A)', 'B.one', 'A.one', undefined],
  [`${MANY_USERS} users per connection (F ÷ A, many)`, 'F.many', 'A.many', 0.95],
  ['Redis (cache on) ÷ memory store (M ÷ R)', 'M.one', 'R.one', undefined],
  ['control (F ÷ F2)', 'F.one', 'F2.one', undefined],
]

function render(machine, results) {
  const k = (n) => (n / 1000).toFixed(1)
  const row = (framework, key, w) => `| ${framework} | ${LABELS[key]} | ${k(w.total)} | ${k(w.main)} | ${k(w.gc)} (${w.scavengesPer1000.toFixed(1)}) | ${k(w.tickRuntime)} (${w.tickRuntimeCalls.toFixed(1)}) | ${k(w.background)} | **${k(w.own)}** |`
  // the lines whose two phases were counted (BENCH_INSTRUCTIONS_PHASES may leave some out)
  const lines = LINES.filter(([, top, bottom]) => results.every(({ perRequest: p }) => p[top] && p[bottom]))
  const cell = (top, bottom, target) => `${(top / bottom).toFixed(3)}${target === undefined ? '' : top / bottom >= target ? ' ✅' : ' ❌'}`
  return [
    `Command: \`${[...Object.entries(env).filter(([key]) => key.startsWith('BENCH_')).map(([key, v]) => `${key}=${v}`), 'pnpm --dir bench instructions'].join(' ')}\``,
    '',
    `Machine: Node.js ${process.version}, ${machine.valgrind}. Date: ${machine.date}. Commit: ${machine.commit}. Took ${Math.round(machine.durationS)} s. Load average at start ${machine.loadAtStart}, at end ${machine.loadAtEnd} (instruction counts do not depend on it).${settings.pinTicks ? ' Every measured process kept one tick object (`BENCH_INSTRUCTIONS_PIN_TICKS=1`, src/pin-ticks.mjs).' : ''}`,
    '',
    `Guarded \`GET /me\` over one keep-alive connection, one request at a time; each server under callgrind: ${settings.warmup} requests of warm-up (a process's second phase: ${settings.warmup / 5}), then windows of ${settings.requests} counted until the other threads take under 1 % (at most ${settings.windows}; the last counts). Thousands of instructions per request. The examples run as their start script runs them (\`node dist/server.js\` in examples/<framework>, given OAUTH_ISSUER of a dev provider in its own process), each after serving alice's login; the floors are of the example's exact shape (src/example-floors.mjs). *GC*: the main thread's garbage collection (scavenges per 1000 requests); *tick runtime*: Node's tick objects built through V8's runtime (calls per request), a state some processes settle in; *own*: the main thread less both: the requests' own work.`,
    '',
    '| framework | process, cookies | all threads | main thread | GC (scavenges/1000) | tick runtime (calls/req) | other threads | own |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.flatMap(({ framework, perRequest }) => Object.keys(LABELS).filter((key) => perRequest[key]).map((key) => row(framework, key, perRequest[key]))),
    '',
    ...(lines.length === 0 ? [] : [
      `| line | ${results.map((r) => `${r.framework}: own | all threads`).join(' | ')} | target |`,
      `| --- | ${results.map(() => '---: | ---:').join(' | ')} | ---: |`,
    ]),
    ...lines.map(([label, top, bottom, target]) => `| ${label} | ${results.map(({ perRequest: p }) => `${cell(p[top].own, p[bottom].own, target)} | ${(p[top].total / p[bottom].total).toFixed(3)}`).join(' | ')} | ${target === undefined ? ({ 'M.one': 'within the control', 'F.one': '1.000' }[top] ?? '—') : `≥ ${target}`} |`),
    '',
  ].join('\n')
}

async function main() {
  const valgrind = requireValgrind()
  const startedAt = performance.now()
  const machine = { date: new Date().toISOString(), valgrind, commit: gitCommit(['packages', 'examples']), loadAtStart: loadAverage() }
  const redis = await startRedis()
  const results = []
  try {
    for (const framework of FRAMEWORKS.filter((fw) => !settings.only || settings.only.test(fw))) results.push(await measure(framework, redis))
  } finally {
    redis.stop()
  }
  machine.loadAtEnd = loadAverage()
  machine.durationS = (performance.now() - startedAt) / 1000
  const markdown = render(machine, results)
  writeResults(settings.name, markdown, { machine, settings: { ...settings, only: settings.only?.source, phases: settings.phases?.source }, results })
  process.stdout.write(`${markdown}\n`)
}

await main()
