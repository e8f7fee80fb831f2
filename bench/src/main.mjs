// codegrant's per-request cost, measured: bare frameworks vs codegrant vs peers, one load
// generator (wrk) for every case, servers in their own processes, medians of interleaved runs.
// `pnpm --dir bench start`; knobs in README.md (BENCH_SECONDS, BENCH_RUNS, ...).
import { spawn, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDevProvider } from '@codegrant/dev-provider'
import { startDemoApis } from '@codegrant/example-kit'
import { loginCookie } from './agent.mjs'
import { startRedis } from './redis.mjs'
import { renderScale, scaleOut } from './scale.mjs'
import { agedSessionCookie, createSessionCodec, sessionCookieVariants, sessionValue } from './session-codec.mjs'
import { cpuBusy, freePort, gitCommit, hasTaskset, loadAverage, median, pinnedCommand, processCpu, verdictCell } from './system.mjs'
import { requireWrk, runWrk } from './wrk.mjs'

const env = process.env
/** BENCH_SMOKE=1: one short pass per case, one process each, for quick checks while working (not for results). */
const smoke = env.BENCH_SMOKE === '1'
/**
 * The full run's defaults (`pnpm --dir bench start` with no BENCH_* variable). Only a run with
 * these, and no BENCH_SMOKE, BENCH_ONLY, BENCH_NODE_ARGS or BENCH_COUNT, is a full run: it alone
 * writes results/latest.* and the dated copy; every other run writes results/smoke.*.
 */
const FULL = {
  seconds: 1, warmup: 1, runs: 2, processes: 5, connections: 10, microSeconds: 0.5,
  pacedRuns: 3, pacedSeconds: 2, pacedConnections: 50, pacedShare: 0.5,
  stormSessions: 100, stormRequests: 1000, heapSessions: 10_000,
}
const SMOKE = { ...FULL, seconds: 1, warmup: 1, runs: 1, processes: 1, microSeconds: 0.2, pacedRuns: 1, pacedSeconds: 1, stormSessions: 20, stormRequests: 200 }
/** The variable that sets each knob (README.md, "Knobs"). */
const KNOBS = {
  seconds: 'BENCH_SECONDS', warmup: 'BENCH_WARMUP', runs: 'BENCH_RUNS', processes: 'BENCH_PROCESSES', connections: 'BENCH_CONNECTIONS',
  microSeconds: 'BENCH_MICRO_SECONDS', pacedRuns: 'BENCH_PACED_RUNS', pacedSeconds: 'BENCH_PACED_SECONDS', pacedConnections: 'BENCH_PACED_CONNECTIONS',
  pacedShare: 'BENCH_PACED_SHARE', stormSessions: 'BENCH_STORM_SESSIONS', stormRequests: 'BENCH_STORM_REQUESTS', heapSessions: 'BENCH_HEAP_SESSIONS',
}
const defaults = smoke ? SMOKE : FULL
const settings = {
  smoke,
  ...Object.fromEntries(Object.entries(KNOBS).map(([key, name]) => [key, Number(env[name] ?? defaults[key])])),
  pin: env.BENCH_PIN !== '0' && availableParallelism() >= 2 && hasTaskset(),
  only: env.BENCH_ONLY ? new RegExp(env.BENCH_ONLY) : undefined,
  /** A run during which other processes used more than this share of the server's CPU is repeated. */
  maxInterference: Number(env.BENCH_MAX_INTERFERENCE ?? 0.1),
  retries: Number(env.BENCH_RETRIES ?? (smoke ? 0 : 2)),
  /** Seconds the whole run may spend repeating disturbed runs (so a loaded machine cannot stretch it past ten minutes). */
  retryBudget: Number(env.BENCH_RETRY_BUDGET ?? 30),
  /** Seconds to wait at start for the machine to go quiet (other processes < 20% of a CPU). */
  quietWait: Number(env.BENCH_QUIET_WAIT ?? (smoke ? 0 : 20)),
}
/**
 * `BENCH_FRESH=0` measures codegrant's cookie- and Redis-store servers (and express-openid-connect,
 * whose session is a cookie too) in the process that logged in. By default a twin process (same app, port and settings) does the login and stops, and the
 * measured process starts after it: its history is then the floor's (no login: no token
 * exchange, JWKS, undici or web streams in it), and the session works in it as in any instance.
 */
settings.fresh = env.BENCH_FRESH !== '0'
const loggedInByTwin = (kind) => settings.fresh && /^((express|koa|fastify)-(codegrant|before|cookie-ended|memory|redis|redis-uncached)|express-openid-connect)$/.test(kind)
/**
 * `BENCH_BEFORE=<dir>`: a checkout of an earlier commit, installed and built there (`pnpm install
 * && pnpm build`). Its codegrant cookie-store server of each framework (its own bench/src/servers.mjs,
 * with its own packages) is measured beside today's in the same run, started afresh each round like
 * today's, and compared pass by pass (`<fw>.guard-before`, `<fw>.public-before`): a refactor's
 * before and after in one run. It adds cases, it changes no knob: a full run with it stays full.
 */
settings.before = env.BENCH_BEFORE ? resolvePath(env.BENCH_BEFORE) : undefined
const commitOf = (dir) => execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
const beforeCommit = settings.before ? commitOf(settings.before) : undefined
/**
 * `BENCH_AFTER=<dir>` (with `BENCH_BEFORE`): codegrant's own cookie-store servers (`<fw>-codegrant`)
 * come from that checkout's bench/src/servers.mjs and packages instead of this one's, so a change
 * in the middle of the history — its first commit's parent as BENCH_BEFORE, its last commit as
 * BENCH_AFTER — is measured before and after in one run, against today's floor and control. Only
 * the cookie-store lines mean that commit then: choose them with BENCH_ONLY.
 */
settings.after = env.BENCH_AFTER ? resolvePath(env.BENCH_AFTER) : undefined
const afterCommit = settings.after ? commitOf(settings.after) : undefined
const atAfter = settings.after ? ` at ${afterCommit} (BENCH_AFTER):` : ''
/** `BENCH_ONLY` matching `scale` (or no BENCH_ONLY): the scale-out measures of issue 7. */
settings.scale = !settings.only || settings.only.test('scale')
/**
 * Which kind of run this is. Full: the default command, every measuring knob at its default;
 * its tables go to results/latest.* and a dated copy. Anything else (a smoke, a subset, a
 * profile, other pass or second counts) is not a result and goes to results/smoke.* only, so
 * it can never overwrite or be mistaken for a full run's.
 */
const notFull = [
  ...(smoke ? ['BENCH_SMOKE=1'] : []),
  ...(settings.only ? [`BENCH_ONLY=${env.BENCH_ONLY}`] : []),
  ...(env.BENCH_NODE_ARGS?.trim() ? [`BENCH_NODE_ARGS=${env.BENCH_NODE_ARGS.trim()}`] : []),
  ...(env.BENCH_COUNT === '1' ? ['BENCH_COUNT=1'] : []),
  ...(env.BENCH_PIN === '0' ? ['BENCH_PIN=0'] : []),
  ...(env.BENCH_FRESH === '0' ? ['BENCH_FRESH=0'] : []),
  ...(settings.after ? [`BENCH_AFTER=${env.BENCH_AFTER} (codegrant's cookie-store servers at ${afterCommit})`] : []),
  ...Object.entries(KNOBS).filter(([key]) => !smoke && settings[key] !== FULL[key]).map(([key, name]) => `${name}=${settings[key]} (full run: ${FULL[key]})`),
]
const RUN = { full: notFull.length === 0, why: notFull }
const SERVER_CPU = 1
const LOAD_CPU = 0
const SERVER_SCRIPT = fileURLToPath(new URL('./servers.mjs', import.meta.url))
const MICRO_SCRIPT = fileURLToPath(new URL('./micro.mjs', import.meta.url))
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))
const JSON_ACCEPT = { accept: 'application/json' }
/** How far back the "stale cookie" case moves the session's last use: past the renewal interval (idle timeout / 20 = 72 min). */
const STALE_BY = 2 * 3600
/**
 * The "many users" case: each connection carries this many users' session cookies in turn (a
 * proxy's pool), so nothing codegrant keeps per connection can be reused.
 */
const MANY_USERS = 100

const isCodegrantSession = (name) => name === 'codegrant.session' || name.startsWith('codegrant.session.')

/**
 * The apps under test; each in its own process. `login`: how to get a real session there.
 * `app`: the app servers.mjs builds (default: the kind itself; the control is a second floor).
 * `perProcess`: the servers started afresh for each of the BENCH_PROCESSES rounds: the targets'
 * cases and the memory- and Redis-store servers beside them (their sessions are in the cookie or
 * in redis-server, so a new process accepts them; a memory-store server is given its twin's
 * record at start: `seeded`); the others (the peers not in the targets, the APIs' server) run in
 * one process.
 */
const CODEGRANT = { callback: '/auth/callback', login: { path: '/auth/login', pick: isCodegrantSession } }
const SERVERS = {
  ...Object.fromEntries(['express', 'koa', 'fastify'].flatMap((fw) => [
    [`${fw}-bare`, { user: `${fw}-codegrant`, perProcess: true }],
    [`${fw}-floor`, { user: `${fw}-codegrant`, perProcess: true }],
    [`${fw}-floor-control`, { user: `${fw}-codegrant`, perProcess: true, app: `${fw}-floor` }],
    [`${fw}-codegrant`, { ...CODEGRANT, perProcess: true, ...(settings.after ? { script: `${settings.after}/bench/src/servers.mjs` } : {}) }],
    // the session lives in the process: a twin logs in, and each process measured starts with the record that login stored
    [`${fw}-memory`, { ...CODEGRANT, perProcess: true, seeded: true }],
    [`${fw}-redis`, { ...CODEGRANT, perProcess: true }],
    [`${fw}-redis-uncached`, { ...CODEGRANT, perProcess: true }],
    // started afresh each round and logged in by a twin, like the cookie store's server it is compared with
    [`${fw}-cookie-ended`, { ...CODEGRANT, perProcess: true }],
    ...(settings.before ? [[`${fw}-before`, { ...CODEGRANT, perProcess: true, app: `${fw}-codegrant`, script: `${settings.before}/bench/src/servers.mjs` }]] : []),
  ])),
  // the memory store with an API of OAUTH_APIS configured: the demo's `orders` API (examples/kit), started by the bench
  'express-apis': CODEGRANT,
  'express-openid-connect': { callback: '/callback', login: { path: '/login', pick: (n) => n === 'appSession' || n.startsWith('appSession.') }, perProcess: true },
  passport: { callback: '/callback', login: { path: '/login', pick: (n) => n === 'connect.sid' } },
  'fastify-oauth2': { callback: '/callback' },
}

/**
 * The cases. `session`: 'once' logs in once at the case's server (or at `sessionFrom`, whose
 * cookie the floor is sent: the same Cookie header as codegrant's guard case); 'stale' is a
 * fresh login with `uat` moved back past the renewal interval, so every request renews it.
 * `baselines`: the cases a row is compared with, pass by pass (`bare`, `floor`). `extra`: not in
 * the default run (they add nothing to issue 11's targets; see README.md, "What the default run
 * leaves out"); a BENCH_ONLY that matches them measures them.
 */
const ALL_CASES = [
  ...['express', 'koa', 'fastify'].flatMap((fw) => {
    const group = { express: 'Express 5', koa: 'Koa 3', fastify: 'Fastify 5' }[fw]
    const guardName = fw === 'fastify' ? 'requireAuth() preHandler' : 'requireAuth()'
    const vsPublic = { bare: `${fw}.bare`, floor: `${fw}.floor` }
    const vsMe = { bare: `${fw}.bare-me`, floor: `${fw}.floor-me` }
    const floorSession = { session: 'once', sessionFrom: `${fw}-codegrant` }
    return [
      { id: `${fw}.bare`, group, label: `bare ${group}, /public`, server: `${fw}-bare`, path: '/public', expect: 200 },
      { id: `${fw}.bare-me`, group, label: `bare ${group}, /me (constant user, no layers)`, server: `${fw}-bare`, path: '/me', expect: 200, user: true },
      { id: `${fw}.floor`, group, label: 'floor (no-op layers), anonymous, /public', server: `${fw}-floor`, path: '/public', expect: 200, baselines: { bare: `${fw}.bare` } },
      { id: `${fw}.floor-me`, group, label: 'floor (no-op layers), /me with the session cookie', server: `${fw}-floor`, path: '/me', expect: 200, user: true, ...floorSession, baselines: { bare: `${fw}.bare-me` } },
      { id: `${fw}.control`, group, label: 'control: a second floor process, anonymous, /public', server: `${fw}-floor-control`, path: '/public', expect: 200, baselines: { floor: `${fw}.floor` } },
      { id: `${fw}.control-me`, group, label: 'control: a second floor process, /me with the session cookie', server: `${fw}-floor-control`, path: '/me', expect: 200, user: true, ...floorSession, baselines: { floor: `${fw}.floor-me` } },
      { id: `${fw}.public`, group, label: `(b)${atAfter} codegrant mounted, anonymous, /public`, server: `${fw}-codegrant`, path: '/public', expect: 200, baselines: vsPublic },
      { id: `${fw}.guard-valid`, group, label: `(c)${atAfter} codegrant ${guardName}, valid session cookie, /me`, server: `${fw}-codegrant`, path: '/me', expect: 200, user: true, session: 'once', baselines: vsMe },
      { id: `${fw}.guard-many`, group, label: `(c″)${atAfter} codegrant ${guardName}, ${MANY_USERS} users' session cookies in turn on each connection, /me`, server: `${fw}-codegrant`, path: '/me', expect: 200, user: true, session: 'many', baselines: vsMe },
      { id: `${fw}.guard-none`, group, label: `(d) codegrant ${guardName}, no cookie (401)`, server: `${fw}-codegrant`, path: '/me', expect: 401, baselines: vsPublic, extra: true },
      { id: `${fw}.guard-memory`, group, label: `(e) codegrant ${guardName}, memory store, valid session cookie, /me`, server: `${fw}-memory`, path: '/me', expect: 200, user: true, session: 'once', baselines: vsMe },
      { id: `${fw}.guard-redis`, group, label: `(f) codegrant ${guardName}, Redis store, session cache on (no round trip once read), valid session cookie, /me`, server: `${fw}-redis`, path: '/me', expect: 200, user: true, session: 'once', baselines: vsMe },
      { id: `${fw}.guard-cookie-ended`, group, label: `(c‴) codegrant ${guardName}, cookie sessions with OAUTH_REDIS_URL ("ended before" records per sub and sid, read from the client-side cache), valid session cookie, /me`, server: `${fw}-cookie-ended`, path: '/me', expect: 200, user: true, session: 'once', baselines: vsMe },
      { id: `${fw}.guard-redis-uncached`, group, label: `(f′) codegrant ${guardName}, Redis store, session cache off (OAUTH_REDIS_CACHE=false: one GET per request), valid session cookie, /me`, server: `${fw}-redis-uncached`, path: '/me', expect: 200, user: true, session: 'once', baselines: vsMe },
      ...(settings.before
        ? [
            { id: `${fw}.public-before`, group, label: `(b) at ${beforeCommit} (BENCH_BEFORE): codegrant mounted, anonymous, /public`, server: `${fw}-before`, path: '/public', expect: 200, baselines: vsPublic },
            { id: `${fw}.guard-before`, group, label: `(c) at ${beforeCommit} (BENCH_BEFORE): codegrant ${guardName}, valid session cookie, /me`, server: `${fw}-before`, path: '/me', expect: 200, user: true, session: 'once', baselines: vsMe },
            { id: `${fw}.guard-many-before`, group, label: `(c″) at ${beforeCommit} (BENCH_BEFORE): codegrant ${guardName}, ${MANY_USERS} users' session cookies in turn on each connection, /me`, server: `${fw}-before`, path: '/me', expect: 200, user: true, session: 'many', baselines: vsMe },
          ]
        : []),
      ...(fw === 'express'
        ? [{ id: 'express.guard-stale', group, label: '(c′) codegrant requireAuth(), session cookie last renewed > 72 min ago (renewed on every request)', server: 'express-codegrant', path: '/me', expect: 200, user: true, session: 'stale', baselines: vsMe, extra: true }]
        : []),
    ]
  }),
  // Calling APIs (issue 20): configuring APIs costs the guarded request nothing (compared with the
  // memory store's /me, the same store), and what `req.oauth.fetch('orders', '/')` adds over a plain
  // fetch of the same API with a token the app holds (the API is the demo's, checking a JWT access
  // token with oauth4webapi, in the bench's own process: its CPU is not the server's)
  { id: 'apis.me', group: 'Calling APIs (issue 20)', label: 'codegrant requireAuth(), memory store, OAUTH_APIS=orders configured, valid session, /me', server: 'express-apis', path: '/me', expect: 200, user: true, session: 'once', baselines: { bare: 'express.bare-me', floor: 'express.floor-me' } },
  { id: 'apis.call-plain', group: 'Calling APIs (issue 20)', label: 'GET /call/plain: the app\'s own fetch of the orders API with a token it holds', server: 'express-apis', path: '/call/plain', expect: 200, user: true, session: 'once' },
  { id: 'apis.call-oauth', group: 'Calling APIs (issue 20)', label: "GET /call/oauth: req.oauth.fetch('orders', '/'), the wallet's token for the API", server: 'express-apis', path: '/call/oauth', expect: 200, user: true, session: 'once', baselines: { floor: 'apis.call-plain' } },
  { id: 'eoidc.public', group: 'Peers', label: 'express-openid-connect auth({ authRequired: false }), anonymous, /public', server: 'express-openid-connect', path: '/public', expect: 200, baselines: { bare: 'express.bare', floor: 'express.floor' } },
  { id: 'eoidc.guard-valid', group: 'Peers', label: 'express-openid-connect requiresAuth(), valid appSession cookie, /me', server: 'express-openid-connect', path: '/me', expect: 200, user: true, session: 'once', baselines: { bare: 'express.bare-me', floor: 'express.floor-me' } },
  { id: 'eoidc.guard-none', group: 'Peers', label: 'express-openid-connect requiresAuth(), no cookie (401, errorOnRequiredAuth)', server: 'express-openid-connect', path: '/me', expect: 401, baselines: { bare: 'express.bare', floor: 'express.floor' }, extra: true },
  { id: 'passport.public', group: 'Peers', label: 'passport + express-session mounted, anonymous, /public', server: 'passport', path: '/public', expect: 200, baselines: { bare: 'express.bare', floor: 'express.floor' }, extra: true },
  { id: 'passport.guard-valid', group: 'Peers', label: 'passport + express-session, isAuthenticated() guard, valid connect.sid, /me', server: 'passport', path: '/me', expect: 200, user: true, session: 'once', baselines: { bare: 'express.bare-me', floor: 'express.floor-me' }, extra: true },
  { id: 'passport.guard-none', group: 'Peers', label: 'passport + express-session, isAuthenticated() guard, no cookie (401)', server: 'passport', path: '/me', expect: 401, baselines: { bare: 'express.bare', floor: 'express.floor' }, extra: true },
  { id: 'fastify-oauth2.public', group: 'Peers', label: '@fastify/oauth2 registered, anonymous, /public', server: 'fastify-oauth2', path: '/public', expect: 200, baselines: { bare: 'fastify.bare', floor: 'fastify.floor' }, extra: true },
]
/** Head-to-head ratios (req/s of `case` ÷ req/s of `versus`, pass by pass), shown with the targets. */
const VERSUS = [
  { case: 'express.guard-valid', versus: 'eoidc.guard-valid' },
  { case: 'express.public', versus: 'eoidc.public' },
  { case: 'apis.me', versus: 'express.guard-memory' },
  { case: 'apis.call-oauth', versus: 'apis.call-plain' },
  // issue 24's done-when: the Redis store (session cache on) within the control's noise of the memory store
  ...['express', 'koa', 'fastify'].map((fw) => ({ case: `${fw}.guard-redis`, versus: `${fw}.guard-memory`, control: `${fw}.control-me` })),
  ...(settings.before ? ['express', 'koa', 'fastify'].flatMap((fw) => [{ case: `${fw}.guard-valid`, versus: `${fw}.guard-before` }, { case: `${fw}.guard-many`, versus: `${fw}.guard-many-before` }, { case: `${fw}.public`, versus: `${fw}.public-before` }]) : []),
]
const selected = ALL_CASES.filter((c) => (settings.only ? settings.only.test(c.id) : !c.extra))
// a filtered run (BENCH_ONLY) still measures the baselines its cases are compared with
// measured in this order: each peer right after its framework's cases, so near its baseline in time
const ORDER = ['express.', 'eoidc.', 'passport.', 'apis.', 'koa.', 'fastify.', 'fastify-oauth2.']
const needed = new Set(selected.map((c) => c.id))
// a head-to-head pair is measured whole when either side is selected
// (with the control it is read against, if it has one)
for (const v of VERSUS) if (needed.has(v.case) || needed.has(v.versus)) needed.add(v.case).add(v.versus).add(v.control ?? v.case)
for (let size = 0; size !== needed.size; ) {
  size = needed.size
  for (const c of ALL_CASES) if (needed.has(c.id)) for (const id of Object.values(c.baselines ?? {})) needed.add(id)
}
const CASES = ALL_CASES.filter((c) => needed.has(c.id))
  .sort((a, b) => ORDER.findIndex((p) => a.id.startsWith(p)) - ORDER.findIndex((p) => b.id.startsWith(p)))

/** Waits (up to `seconds`) until the whole machine is less than 20% busy over one second. */
async function waitForQuiet(seconds) {
  const until = Date.now() + seconds * 1000
  for (;;) {
    const before = cpuBusy()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const busy = cpuBusy() - before
    if (busy < 0.2) return true
    if (Date.now() >= until) {
      log(`the machine is still ${(busy * 100).toFixed(0)}% busy (other processes): measuring anyway`)
      return false
    }
    log(`waiting for the machine to go quiet (${(busy * 100).toFixed(0)}% of a CPU busy)`)
  }
}

/** The environment for children: none of the variables codegrant or its peers would read. */
function childEnv(extra) {
  const clean = Object.fromEntries(
    Object.entries(env).filter(([k]) => !k.startsWith('OAUTH_') && !['ISSUER_BASE_URL', 'BASE_URL', 'CLIENT_ID', 'CLIENT_SECRET', 'SECRET'].includes(k)),
  )
  return { ...clean, NODE_ENV: 'production', ...extra }
}

/** Extra node flags for the servers and the micro-benchmark, for diagnosis (e.g. `--trace-gc`). */
const NODE_ARGS = (env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)

function spawnPinned(script, args, extraEnv) {
  const [command, argv] = pinnedCommand(process.execPath, [...NODE_ARGS, script, ...args], settings.pin ? SERVER_CPU : undefined)
  return spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: childEnv(extraEnv) })
}

function startServer(kind, spec) {
  const app = SERVERS[kind]?.app ?? kind
  const child = spawnPinned(SERVERS[kind]?.script ?? SERVER_SCRIPT, [app], { BENCH_SERVER: JSON.stringify(spec) })
  child.stdout.on('data', (chunk) => process.stderr.write(`[${kind}] ${chunk}`))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start within 30 s`)), 30_000)
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before it was ready`)))
    child.once('message', (message) => {
      clearTimeout(timer)
      if (message?.ready === app) resolve(child)
      else reject(new Error(`${kind}: unexpected message ${JSON.stringify(message)}`))
    })
  })
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.send('close')
  })
}

function log(line) {
  process.stderr.write(`${line}\n`)
}

const startedAt = performance.now()

/** results/<YYYY-MM-DD-HHMM>-full: the dated copy of a full run (UTC start time). */
const resultName = (isoDate) => `${isoDate.slice(0, 10)}-${isoDate.slice(11, 13)}${isoDate.slice(14, 16)}-full`
const minutes = (seconds) => `${Math.floor(seconds / 60)} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`

/**
 * Seconds each part of the run takes on this 2-core machine, from the phases of the test runs of
 * 2026-12-01 (load average ~10; bench/README.md "Duration"): a wrk run costs its whole seconds
 * plus ≤ 0.1 s (spawn, connect, /proc reads); a server ≤ 0.6 s to start; a login through the
 * dev provider ≤ 0.8 s; the micro-benchmark ~0.5 s per row beyond its measured CPU time.
 */
const COST = { base: 3, serverStart: 0.6, login: 0.8, run: 0.1, microRow: 0.5, scaleBase: 8, scaleLogin: 0.03 }
const wrkSeconds = (seconds) => Math.max(1, Math.round(seconds))

/** The run's planned duration, from the cases and settings (printed at start; checked at the end). */
function plan(kinds) {
  const perProcess = CASES.filter((c) => SERVERS[c.server].perProcess)
  const warmups = settings.processes * perProcess.length + (CASES.length - perProcess.length)
  const runs = settings.processes * settings.runs * CASES.length
  const twins = kinds.filter(loggedInByTwin).length
  const logins = new Set(CASES.filter((c) => c.session).map((c) => c.sessionFrom ?? c.server)).size
  const restarted = kinds.filter((k) => SERVERS[k].perProcess).length
  const pacedPairs = ['express', 'koa', 'fastify'].filter((fw) => CASES.some((c) => c.id === `${fw}.floor-me`) && CASES.some((c) => c.id === `${fw}.guard-valid`)).length
  const micro = !settings.only || settings.only.test('micro')
  const parts = {
    'start-up': COST.base + (kinds.length + twins) * COST.serverStart + logins * COST.login,
    'warm-up': warmups * (wrkSeconds(settings.warmup) + COST.run),
    passes: runs * (wrkSeconds(settings.seconds) + COST.run),
    'fresh processes': (settings.processes - 1) * restarted * COST.serverStart,
    'paced p99': pacedPairs * settings.pacedRuns * 2 * (wrkSeconds(settings.pacedSeconds) + COST.run),
    'micro-benchmark': micro ? 15 * (settings.microSeconds + COST.microRow) + COST.login : 0,
    'scale-out': settings.scale ? COST.scaleBase + 2 * COST.serverStart + settings.stormSessions * COST.scaleLogin : 0,
  }
  return { parts, total: Object.values(parts).reduce((a, b) => a + b, 0) }
}

async function main() {
  const wrk = requireWrk('The bench uses wrk for every case.')
  const machine = {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    wrk,
    commit: gitCommit(['packages']),
    pinned: settings.pin ? `servers on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU} (taskset)` : 'not pinned',
    loadAverageAtStart: loadAverage(),
  }
  log(`machine: ${JSON.stringify(machine)}`)
  log(`settings: ${JSON.stringify({ ...settings, only: settings.only?.source })}`)
  log(RUN.full
    ? `FULL RUN (every default): tables go to bench/results/latest.md and ${resultName(machine.date)}.md (+ .json)`
    : `SMOKE / PARTIAL RUN, not a result (${RUN.why.join('; ')}): tables go to bench/results/smoke.md (+ .json) only`)
  // express-codegrant also provides the session cookie of the stale case and the micro-benchmark
  const kinds = [...new Set([...CASES.flatMap((c) => [c.server, c.sessionFrom, SERVERS[c.server].user]), 'express-codegrant'].filter(Boolean))]
  const planned = plan(kinds)
  machine.plannedS = planned.total
  log(`planned duration: ${minutes(planned.total)} (${Object.entries(planned.parts).map(([name, seconds]) => `${name} ${Math.round(seconds)} s`).join(', ')}), plus at most ${settings.quietWait} s waiting for the machine to go quiet and ${settings.retries ? settings.retryBudget : 0} s repeating disturbed runs`)
  if (env.BENCH_PLAN === '1') {
    // BENCH_PLAN=1: the plan only (cases, processes, duration), nothing started or measured
    log(`cases: ${CASES.map((c) => c.id).join(' ')}`)
    return
  }
  log(`cases: ${CASES.length} (${CASES.filter((c) => SERVERS[c.server].perProcess).length} in ${settings.processes} fresh process(es) each: ${CASES.filter((c) => SERVERS[c.server].perProcess).map((c) => c.id).join(' ')}; in one process: ${CASES.filter((c) => !SERVERS[c.server].perProcess).map((c) => c.id).join(' ') || 'none'})`)

  machine.quietAtStart = await waitForQuiet(settings.quietWait)
  const cookieSecret = randomBytes(32).toString('base64url')
  // a real redis-server for the Redis rows and the scale-out measures, on the load generator's CPU
  // (the server's CPU time per request is then codegrant's and node-redis's, not Redis's)
  const redis = kinds.some((k) => k.includes('-redis') || k.endsWith('-cookie-ended')) || settings.scale || !settings.only || settings.only.test('micro') ? await startRedis({ cpu: settings.pin ? LOAD_CPU : undefined }) : undefined
  if (redis) log(`started redis-server (pid ${redis.pid}) on ${redis.url}`)
  const specs = {}
  for (const kind of kinds) {
    specs[kind] = { port: await freePort(), clientId: `bench-${kind}`, clientSecret: randomBytes(24).toString('base64url'), cookieSecret, redisUrl: redis?.url, ...(kind.endsWith('-redis-uncached') ? { redisCache: false } : {}) }
  }
  const clients = kinds
    .filter((kind) => SERVERS[kind].callback)
    .map((kind) => ({ client_id: specs[kind].clientId, client_secret: specs[kind].clientSecret, redirect_uris: [`http://127.0.0.1:${specs[kind].port}${SERVERS[kind].callback}`] }))
  // scale-out: two instances of one client (one redirect URI each), sharing the Redis store
  const scaleSpecs = []
  if (settings.scale) {
    const shared = { clientId: 'bench-scale', clientSecret: randomBytes(24).toString('base64url'), cookieSecret, redisUrl: redis.url, redisPrefix: 'scale:' }
    for (let i = 0; i < 2; i++) scaleSpecs.push({ ...shared, port: await freePort() })
    clients.push({ client_id: shared.clientId, client_secret: shared.clientSecret, redirect_uris: scaleSpecs.map((spec) => `http://127.0.0.1:${spec.port}${CODEGRANT.callback}`) })
  }
  const provider = await startDevProvider({ quiet: true, clients })
  for (const spec of [...Object.values(specs), ...scaleSpecs]) spec.issuer = provider.issuer
  // the demo's APIs (examples/kit), registered with the provider; the bench calls `orders` (a token by
  // a refresh-token grant with its resource, RFC 8707)
  const demoApis = specs['express-apis'] ? await startDemoApis(provider) : undefined
  if (demoApis) specs['express-apis'].apis = { orders: demoApis.apis.orders }

  const children = {}
  try {
    const urlOf = (c) => `http://127.0.0.1:${specs[c.server].port}${c.path}`
    const login = (kind) => loginCookie(`http://127.0.0.1:${specs[kind].port}${SERVERS[kind].login.path}`, 'alice', SERVERS[kind].login.pick)
    const onceCookies = {}
    const cookieOf = async (kind) => (onceCookies[kind] ??= await login(kind))
    const codec = createSessionCodec(cookieSecret)
    /**
     * The record the login at a memory-store server stored (its cookie holds the session id,
     * sealed), asked of the process that logged in: what each of its fresh processes starts with.
     */
    const recordOf = async (kind) => {
      const sid = JSON.parse(codec.open('codegrant.session', sessionValue(await cookieOf(kind))))
      const child = children[kind]
      const answer = new Promise((resolve) => child.once('message', (message) => resolve(message?.record)))
      child.send({ record: sid })
      const data = await answer
      if (!data || data.sid !== sid) throw new Error(`${kind}: the process that logged in has no record for its session`)
      return { sid, data }
    }
    let staleCookie
    let manyCookies
    const cookiesFor = async (c) => (c.session === 'many' ? (manyCookies ??= sessionCookieVariants(await cookieOf(c.server), cookieSecret, MANY_USERS)) : undefined)
    async function headersFor(c) {
      if (!c.session) return JSON_ACCEPT
      if (c.session === 'once') return { ...JSON_ACCEPT, cookie: await cookieOf(c.sessionFrom ?? c.server) }
      // probes send the first of the many (wrk sends them all in turn)
      if (c.session === 'many') return { ...JSON_ACCEPT, cookie: (await cookiesFor(c))[0] }
      staleCookie ??= agedSessionCookie(await cookieOf(c.server), cookieSecret, STALE_BY)
      return { ...JSON_ACCEPT, cookie: staleCookie }
    }
    // the floor and the bare app answer /me with the user codegrant answers there (given at start)
    const meBodies = {}
    const phases = {}
    let phaseAt = performance.now()
    const phase = (name) => {
      const now = performance.now()
      phases[name] = (phases[name] ?? 0) + (now - phaseAt) / 1000
      phaseAt = now
    }
    for (const kind of [...kinds.filter((k) => !SERVERS[k].user), ...kinds.filter((k) => SERVERS[k].user)]) {
      const source = SERVERS[kind].user
      if (source) {
        meBodies[source] ??= await (await fetch(`http://127.0.0.1:${specs[source].port}/me`, { headers: { ...JSON_ACCEPT, cookie: await cookieOf(source) } })).text()
        specs[kind].user = JSON.parse(meBodies[source]).user
      }
      children[kind] = await startServer(kind, specs[kind])
      // a memory-store server's record, for its fresh processes (BENCH_FRESH=0: the first one logged in itself)
      if (SERVERS[kind].seeded && (loggedInByTwin(kind) || SERVERS[kind].perProcess)) specs[kind].seed = await recordOf(kind)
      if (loggedInByTwin(kind)) {
        await cookieOf(kind) // the login, in this twin process, which then stops
        await stopServer(children[kind])
        children[kind] = await startServer(kind, specs[kind])
      }
      log(`started ${kind} (pid ${children[kind].pid}) on 127.0.0.1:${specs[kind].port}${loggedInByTwin(kind) ? ' (logged in by a twin process)' : ''}`)
    }

    // check a case answers what it should before measuring it (every case at start, and the
    // cases of the servers started afresh for each round)
    const probe = async (c) => {
      const headers = await headersFor(c)
      const response = await fetch(urlOf(c), { headers })
      const body = await response.text()
      const setCookies = response.headers.getSetCookie()
      if (response.status !== c.expect || (c.user && !body.includes('alice'))) {
        throw new Error(`${c.id}: expected ${c.expect}${c.user ? ' with the user' : ''}, got ${response.status} ${body.slice(0, 200)}`)
      }
      const source = SERVERS[c.server].user
      if (c.user && source && body !== meBodies[source]) throw new Error(`${c.id}: the answer differs from ${source}'s /me: ${body.slice(0, 200)}`)
      c.probe ??= { status: response.status, setCookie: setCookies.length > 0, setCookieBytes: setCookies.join('').length, cookieBytes: headers.cookie?.length ?? 0, bodyBytes: body.length }
      return `${response.status}, ${setCookies.length} Set-Cookie, request cookie ${headers.cookie?.length ?? 0} B, body ${body}`
    }
    for (const c of CASES) log(`probe ${c.id}: ${await probe(c)}`)
    // the bench's codec copy matches codegrant's (with the cookie of the twin's login: a login
    // here would put the token exchange into the process about to be measured)
    JSON.parse(codec.open('codegrant.session', sessionValue(await cookieOf('express-codegrant'))))
    phase('start-up')

    const measure = async (c, seconds) => {
      const headers = await headersFor(c)
      const server = children[c.server].pid
      const before = { cpu: cpuBusy(settings.pin ? SERVER_CPU : undefined), server: processCpu(server), at: performance.now() }
      const storeCpu = c.server.includes('-redis') ? processCpu(redis.pid) : undefined
      const result = await runWrk({ url: urlOf(c), headers, seconds, connections: settings.connections, cpu: settings.pin ? LOAD_CPU : undefined, cookies: await cookiesFor(c) })
      const elapsed = (performance.now() - before.at) / 1000
      const serverCpu = processCpu(server) - before.server
      result.serverCpuShare = serverCpu / elapsed
      result.cpuUsPerRequest = (serverCpu * 1e6) / Math.max(1, result.requests)
      // redis-server's own CPU time per request (it runs beside wrk, not on the server's CPU)
      if (storeCpu !== undefined) result.storeCpuUs = ((processCpu(redis.pid) - storeCpu) * 1e6) / Math.max(1, result.requests)
      // pinned: busy time on the server's CPU that was not the server's (wrk is on the other one)
      result.interference = settings.pin ? Math.max(0, cpuBusy(SERVER_CPU) - before.cpu - serverCpu) / elapsed : 0
      return result
    }

    for (const c of CASES) c.runs = []
    let retryBudget = settings.retryBudget
    let retries = 0
    let pass = 0
    const restarted = kinds.filter((k) => SERVERS[k].perProcess)
    // Rounds: each round measures the targets' cases in servers started afresh for it (the
    // servers of the other cases stay up), so every ratio is taken over several processes of
    // each server, and the control (two floor processes) shows how far process variance alone
    // moves a ratio. Within a round, passes interleave every case, so a slow moment of the
    // machine hits all cases alike; passes alternate direction, so no case always follows the
    // same neighbour.
    for (let round = 1; round <= settings.processes; round++) {
      if (round > 1) {
        for (const kind of restarted) await stopServer(children[kind])
        for (const kind of restarted) children[kind] = await startServer(kind, specs[kind])
        for (const c of CASES.filter((x) => restarted.includes(x.server))) await probe(c)
        log(`round ${round}: fresh processes for ${restarted.map((k) => `${k} (pid ${children[k].pid})`).join(', ')}`)
        phase('fresh processes')
      }
      const warm = CASES.filter((c) => round === 1 || restarted.includes(c.server))
      log(`round ${round}: warm-up ${settings.warmup} s for ${warm.length} case(s)`)
      for (const c of warm) await measure(c, settings.warmup)
      phase('warm-up')
      for (let run = 1; run <= settings.runs; run++) {
        pass++
        for (const c of pass % 2 ? CASES : [...CASES].reverse()) {
          let result = await measure(c, settings.seconds)
          for (let retry = 0; retry < settings.retries && settings.pin && result.interference > settings.maxInterference && retryBudget > 0; retry++) {
            log(`  ~ ${c.id}: other processes used ${(result.interference * 100).toFixed(0)}% of the server's CPU during the run: repeating it`)
            const started = performance.now()
            await waitForQuiet(Math.min(5, retryBudget))
            result = await measure(c, settings.seconds)
            retryBudget -= (performance.now() - started) / 1000
            retries++
          }
          const bad = result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout
          const wrongStatus = c.expect === 200 ? result.errors.status : result.requests - result.errors.status
          if (bad > 0 || wrongStatus > 0) log(`  ! ${c.id}: ${bad} socket errors, ${wrongStatus} responses with an unexpected status`)
          c.runs.push({ round, pass, pid: children[c.server].pid, rps: result.rps, p50: result.latency_us.p50, p90: result.latency_us.p90, p99: result.latency_us.p99, requests: result.requests, socketErrors: bad, unexpectedStatus: wrongStatus, serverCpuShare: result.serverCpuShare, cpuUs: result.cpuUsPerRequest, storeCpuUs: result.storeCpuUs, interference: result.interference })
          log(`round ${round} pass ${pass} ${c.id.padEnd(24)} ${result.rps.toFixed(0).padStart(7)} req/s  p50 ${(result.latency_us.p50 / 1000).toFixed(2)} ms  p99 ${(result.latency_us.p99 / 1000).toFixed(2)} ms  ${result.cpuUsPerRequest.toFixed(1)} CPU µs/req  server CPU ${(result.serverCpuShare * 100).toFixed(0)}%  others ${(result.interference * 100).toFixed(0)}%`)
        }
      }
      phase('passes')
    }

    // p99 at the same load: floor and codegrant guard (cookie store) paced to the same request
    // rate, below what either can serve (a share of the floor's req/s in this run), pass by pass
    const paced = []
    for (const fw of ['express', 'koa', 'fastify']) {
      const floor = CASES.find((c) => c.id === `${fw}.floor-me`)
      const guarded = CASES.find((c) => c.id === `${fw}.guard-valid`)
      if (!floor?.runs?.length || !guarded?.runs?.length || settings.pacedRuns < 1) continue
      const rate = settings.pacedShare * median(floor.runs.map((r) => r.rps))
      const delayMs = Math.max(1, Math.round((settings.pacedConnections * 1000) / rate))
      const pair = { framework: fw, group: floor.group, floor: floor.id, guarded: guarded.id, targetRps: rate, delayMs, runs: [] }
      for (let run = 1; run <= settings.pacedRuns; run++) {
        const result = {}
        for (const c of [floor, guarded]) {
          const r = await runWrk({ url: urlOf(c), headers: await headersFor(c), seconds: settings.pacedSeconds, connections: settings.pacedConnections, cpu: settings.pin ? LOAD_CPU : undefined, delayMs })
          result[c === floor ? 'floor' : 'guarded'] = { rps: r.rps, p50: r.latency_us.p50, p99: r.latency_us.p99, errors: r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout + (c.expect === 200 ? r.errors.status : 0) }
        }
        pair.runs.push(result)
        log(`paced ${run} ${fw}: ${pacedLine(result.floor)} floor, ${pacedLine(result.guarded)} codegrant (delay ${delayMs} ms × ${settings.pacedConnections} connections)`)
      }
      const ratios = pair.runs.map((r) => r.guarded.p99 / r.floor.p99)
      pair.p99Ratio = median(ratios)
      pair.p99Min = Math.min(...ratios)
      pair.p99Max = Math.max(...ratios)
      paced.push(pair)
    }
    phase('paced p99')

    let micro
    if (!settings.only || settings.only.test('micro')) {
      log('core micro-benchmark')
      const fresh = await login('express-codegrant')
      const port = specs['express-codegrant'].port
      micro = await runMicro({
        options: { issuer: provider.issuer, clientId: specs['express-codegrant'].clientId, clientSecret: specs['express-codegrant'].clientSecret, baseUrl: `http://127.0.0.1:${port}`, cookieSecret },
        cookie: fresh,
        staleCookie: agedSessionCookie(fresh, cookieSecret, STALE_BY),
        // the Redis store's row (session cache on), on the bench's redis-server
        redisUrl: redis?.url,
      })
      phase('micro-benchmark')
    }
    // issue 7's measures: two instances on one Redis (their own processes, started now)
    let scale
    if (settings.scale) {
      log('scale-out: two instances on one Redis')
      const instances = []
      for (const [i, spec] of scaleSpecs.entries()) {
        children[`scale-${i}`] = await startServer('fastify-redis', spec)
        instances.push({ base: `http://127.0.0.1:${spec.port}` })
      }
      scale = await scaleOut({
        redis,
        provider,
        instances,
        cookieSecret,
        sessions: settings.stormSessions,
        requests: settings.stormRequests,
        heapSessions: settings.heapSessions,
        login: (base) => loginCookie(`${base}${CODEGRANT.login.path}`, 'alice', CODEGRANT.login.pick),
        log,
      })
      phase('scale-out')
    }
    machine.phasesS = Object.fromEntries(Object.entries(phases).map(([name, seconds]) => [name, Math.round(seconds)]))
    machine.loadAverageAtEnd = loadAverage()
    machine.repeatedRuns = retries
    machine.durationS = Math.round((performance.now() - startedAt) / 1000)

    const byId = Object.fromEntries(CASES.map((c) => [c.id, c]))
    for (const c of CASES) c.median = { rps: median(c.runs.map((r) => r.rps)), p50: median(c.runs.map((r) => r.p50)), p99: median(c.runs.map((r) => r.p99)), cpuUs: median(c.runs.map((r) => r.cpuUs)), storeCpuUs: c.runs[0]?.storeCpuUs === undefined ? undefined : median(c.runs.map((r) => r.storeCpuUs)) }
    // each ratio is paired with the other case's run of the same pass (seconds apart, so under
    // the same conditions); with several rounds, the median is over (process × pass), and the
    // median of each round's passes is kept too (one value per process: process variance)
    const compare = (c, other) => {
      const ratios = c.runs.map((r, i) => r.rps / other.runs[i].rps)
      const added = c.runs.map((r, i) => 1e6 / r.rps - 1e6 / other.runs[i].rps)
      const p99 = c.runs.map((r, i) => r.p99 / other.runs[i].p99)
      // the same ratio from the server's own CPU time per request (other processes cannot lower it by taking the CPU)
      const cpu = c.runs.map((r, i) => other.runs[i].cpuUs / r.cpuUs)
      const rounds = [...new Set(c.runs.map((r) => r.round))]
      const byProcess = (values) => rounds.map((round) => median(values.filter((_, i) => c.runs[i].round === round)))
      return {
        case: c.id,
        versus: other.id,
        ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), byProcess: byProcess(ratios),
        addedUs: median(added),
        p99Ratio: median(p99), p99Min: Math.min(...p99), p99Max: Math.max(...p99),
        cpuRatio: median(cpu), cpuMin: Math.min(...cpu), cpuMax: Math.max(...cpu), cpuByProcess: byProcess(cpu),
      }
    }
    for (const c of CASES) {
      c.vs = {}
      for (const [name, id] of Object.entries(c.baselines ?? {})) if (byId[id]) c.vs[name] = compare(c, byId[id])
    }
    const versus = VERSUS.filter((v) => byId[v.case] && byId[v.versus]).map((v) => compare(byId[v.case], byId[v.versus]))
    const names = RUN.full ? ['latest', resultName(machine.date)] : ['smoke']
    const report = render(machine, micro, versus, paced, scale, names)
    const json = `${JSON.stringify({ run: { kind: RUN.full ? 'full' : 'smoke', notFullBecause: RUN.why }, machine, settings: { ...settings, only: settings.only?.source }, cases: CASES, versus, paced, micro, scale }, null, 2)}\n`
    mkdirSync(RESULTS_DIR, { recursive: true })
    for (const name of names) {
      writeFileSync(`${RESULTS_DIR}${name}.json`, json)
      writeFileSync(`${RESULTS_DIR}${name}.md`, report)
    }
    process.stdout.write(report)
    log(`${RUN.full ? 'full run' : 'smoke / partial run'}: took ${minutes(machine.durationS)} (planned ${minutes(machine.plannedS)}; ${Object.entries(machine.phasesS).map(([name, seconds]) => `${name} ${seconds} s`).join(', ')})`)
    log(`written: ${names.map((name) => `bench/results/${name}.md and .json`).join(', ')}`)
  } finally {
    await Promise.all(Object.values(children).map(stopServer))
    await demoApis?.close()
    await provider.close()
    await redis?.stop()
  }
}

const pacedLine = (r) => `${Math.round(r.rps)} req/s p50 ${(r.p50 / 1000).toFixed(2)} ms p99 ${(r.p99 / 1000).toFixed(2)} ms`

function runMicro(input) {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(MICRO_SCRIPT, [], { BENCH_MICRO: JSON.stringify(input), BENCH_MICRO_SECONDS: String(settings.microSeconds) })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.on('error', reject)
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
      if (code !== 0 || !line) return reject(new Error(`micro-benchmark exited ${code}: ${out}`))
      resolve(JSON.parse(line.slice('BENCH_RESULT '.length)))
    })
    child.disconnect?.()
  })
}

const fmt = {
  rps: (n) => Math.round(n).toLocaleString('en-US'),
  ms: (us) => (us / 1000).toFixed(2),
  ratio: (n) => `${n.toFixed(2)}×`,
}

/** Targets of issue 11, one row each, from this run (ratios pass by pass against the floor). */
function renderTargets(byId, versus, paced) {
  const range = (v) => `${fmt.ratio(v.ratio)} [${v.min.toFixed(2)}–${v.max.toFixed(2)}]`
  const cpuRange = (v) => `${fmt.ratio(v.cpuRatio)} [${v.cpuMin.toFixed(2)}–${v.cpuMax.toFixed(2)}]`
  const perProcess = (values) => values.map((n) => n.toFixed(2)).join(' · ')
  // judged by the median's 95 % interval over processes (src/system.mjs verdict): ≈ when the processes scatter across the target
  const met = (v, target) => `${verdictCell(v.byProcess, target)} / ${verdictCell(v.cpuByProcess, target)}`
  const row = (group, label, goal, vs, verdict) => `| ${group} | ${label} | ${goal} | ${vs.map(range).join(', ')} | ${vs.map((v) => perProcess(v.byProcess)).join('; ')} | ${vs.map(cpuRange).join(', ')} | ${vs.map((v) => perProcess(v.cpuByProcess)).join('; ')} | ${verdict} |`
  const rows = []
  for (const fw of ['express', 'koa', 'fastify']) {
    const at = (suffix) => byId[`${fw}.${suffix}`]
    const group = at('floor')?.group ?? at('floor-me')?.group
    if (!group) continue
    const target = (label, c, goal) => {
      if (c?.vs.floor) rows.push(row(group, label, goal ? `≥ ${goal.toFixed(2)}×` : '(reported)', [c.vs.floor], goal ? met(c.vs.floor, goal) : '—'))
    }
    const control = (label, c) => {
      if (c?.vs.floor) rows.push(row(group, label, '1.00× = no process noise', [c.vs.floor], '—'))
    }
    target('anonymous through `oauth()` vs floor', at('public'), 0.98)
    control('↳ floor ÷ floor (control: a second floor process), /public', at('control'))
    target('guarded, valid session (cookie store) vs floor', at('guard-valid'), 0.95)
    control('↳ floor ÷ floor (control: a second floor process), /me', at('control-me'))
    target(`guarded, ${MANY_USERS} users' cookies in turn on each connection (nothing per connection reused) vs floor — read it by CPU µs/req: wrk runs Lua for every request of this case only`, at('guard-many'), 0.95)
    const pair = paced.find((p) => p.framework === fw)
    if (pair) rows.push(`| ${group} | p99 guarded ÷ floor's p99, same load (${fmt.rps(pair.targetRps)} req/s offered) | ≤ 1.10 | ${pair.p99Ratio.toFixed(2)} [${pair.p99Min.toFixed(2)}–${pair.p99Max.toFixed(2)}] | — | — | — | ${pair.p99Ratio <= 1.1 ? '✅' : '❌'} |`)
    target('guarded, memory store vs floor', at('guard-memory'))
    for (const [id, what] of [['guard-redis', 'session cache on'], ['guard-redis-uncached', 'session cache off']]) {
      const redis = at(id)
      target(`guarded, Redis store (${what}) vs floor${redis?.median.storeCpuUs !== undefined ? ` (+ ${redis.median.storeCpuUs.toFixed(2)} µs/req of redis-server's CPU)` : ''}`, redis)
    }
    // the Redis store is at the memory store's speed when their ratio is no further from 1.00×
    // than the control's (floor ÷ floor, /me): closer than process noise can tell apart
    const redisVsMemory = versus.find((v) => v.case === `${fw}.guard-redis` && v.versus === `${fw}.guard-memory`)
    const noise = at('control-me')?.vs.floor
    if (redisVsMemory) {
      const within = (values, control) => (control === undefined ? '?' : verdictCell(values, 1 - Math.abs(1 - control)))
      rows.push(row(group, 'guarded: Redis store (session cache on) ÷ memory store', '≥ 1 − the control\'s distance from 1.00×', [redisVsMemory], `${within(redisVsMemory.byProcess, noise?.ratio)} / ${within(redisVsMemory.cpuByProcess, noise?.cpuRatio)}`))
      control('↳ floor ÷ floor (control: a second floor process), /me', at('control-me'))
    }
    const floors = [at('floor'), at('floor-me')].filter((c) => c?.vs.bare)
    if (floors.length) rows.push(row(group, `floor vs bare: ${floors.map((c) => c.path).join(', ')}`, '(reported)', floors.map((c) => c.vs.bare), '—'))
  }
  for (const v of versus.filter((x) => x.versus.startsWith('eoidc.'))) {
    const goal = v.versus === 'eoidc.guard-valid' ? 3.5 : undefined
    rows.push(row('Express 5', `${v.versus === 'eoidc.guard-valid' ? 'guarded' : 'anonymous'}: codegrant ÷ express-openid-connect`, goal ? '≥ 3.5×' : '(reported)', [v], goal ? met(v, goal) : '—'))
  }
  if (!rows.length) return []
  const samples = settings.processes > 1 ? `${settings.processes} processes × ${settings.runs} passes` : `${settings.runs} pass${settings.runs === 1 ? '' : 'es'} in one process`
  return [
    '### Targets (issue 11), side by side in this run',
    '',
    `Each ratio is taken pass by pass against the floor's run of the same pass; the median is over ${samples} [lowest–highest]${settings.processes > 1 ? ', and "per process" gives the median of each process\'s passes (the servers of these lines are started afresh for each process round)' : ''}. "By req/s" is the issue's measure; "by CPU µs/req" is the same ratio from each server's own CPU time per request (other processes cannot lower it by taking the CPU). **The control** (↳ rows) is a second floor process measured exactly like codegrant's: floor ÷ floor, whose only difference is the process, so its distance from 1.00× is how far process-to-process variance alone moves a ratio in this run — a line that misses its target by less than that is not distinguishable from noise here. **The verdict** (last column, by req/s / by CPU µs/req) judges the median's 95 % interval over the processes (a seeded percentile bootstrap of the per-process medians, \`src/system.mjs\`, shown in brackets): ✅ when the whole interval meets the target, ❌ when the whole interval misses it, ≈ when it straddles the target — the processes scatter more than the distance to the target, and more processes (or a quieter machine) are needed to decide; with one process, the median alone. p99 is measured separately, at the same paced load for both (below).`,
    '',
    '| framework | line | target | by req/s: median [range] | per process | by CPU µs/req: median [range] | per process | met? (req/s / CPU) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | :---: |',
    ...rows,
  ]
}

function renderPaced(paced) {
  if (!paced.length) return []
  const cell = (r) => `${fmt.rps(r.rps)} / ${fmt.ms(r.p50)} / ${fmt.ms(r.p99)}${r.errors ? ' ⚠' : ''}`
  return [
    '',
    '### p99 at the same load',
    '',
    `The floor's \`/me\` and codegrant's guarded \`/me\` (cookie store, same Cookie header) under the same paced load: ${settings.pacedConnections} keep-alive connections, each waiting a fixed delay before each request, so both are offered ~${Math.round(settings.pacedShare * 100)} % of the floor's req/s in the passes above (below saturation: latency is then the server's, not a queue's). ${settings.pacedRuns} interleaved passes of ${settings.pacedSeconds} s (in the last round's processes); the ratio is codegrant's p99 ÷ the floor's in the same pass, median [range].`,
    '',
    '| framework | offered (delay × connections) | floor: req/s / p50 ms / p99 ms | codegrant: req/s / p50 ms / p99 ms | p99 ÷ floor [range] | within 10 %? |',
    '| --- | ---: | --- | --- | ---: | :---: |',
    ...paced.map((p) => {
      const mid = (side) => ({ rps: median(p.runs.map((r) => r[side].rps)), p50: median(p.runs.map((r) => r[side].p50)), p99: median(p.runs.map((r) => r[side].p99)), errors: p.runs.reduce((n, r) => n + r[side].errors, 0) })
      return `| ${p.group} | ${fmt.rps(p.targetRps)} req/s (${p.delayMs} ms × ${settings.pacedConnections}) | ${cell(mid('floor'))} | ${cell(mid('guarded'))} | ${p.p99Ratio.toFixed(2)} [${p.p99Min.toFixed(2)}–${p.p99Max.toFixed(2)}] | ${p.p99Ratio <= 1.1 ? '✅' : '❌'} |`
    }),
  ]
}

function render(machine, micro, versus, paced = [], scale = undefined, names = []) {
  const byId = Object.fromEntries(CASES.map((c) => [c.id, c]))
  const range = (v) => `${fmt.ratio(v.ratio)} [${v.min.toFixed(2)}–${v.max.toFixed(2)}]`
  const lines = []
  const written = names.map((name) => `\`bench/results/${name}.md\``).join(' and ')
  lines.push(RUN.full
    ? `**Full run** — the default \`pnpm --dir bench start\`, every measuring knob at its default (written to ${written}).`
    : `**Smoke / partial run — not a result** (${RUN.why.join('; ')}): written to ${written} only; a result is the full run, \`pnpm --dir bench start\` with no BENCH_* variable.`)
  lines.push('')
  // every BENCH_* variable that was set, so the command can be repeated as it was
  const set = Object.entries(env).filter(([name]) => name.startsWith('BENCH_')).map(([name, value]) => `${name}=${/^[\w.,:/=-]*$/.test(value) ? value : `'${value}'`}`)
  const knobs = `BENCH_PROCESSES=${settings.processes} BENCH_RUNS=${settings.runs} BENCH_SECONDS=${settings.seconds} BENCH_WARMUP=${settings.warmup} BENCH_CONNECTIONS=${settings.connections}`
  lines.push(`Command: \`${[...set, 'pnpm --dir bench start'].join(' ')}\` (${knobs})`)
  lines.push('')
  lines.push(`Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB, Node.js ${machine.node}, Linux ${machine.kernel}, ${machine.wrk}; ${machine.pinned}. Date: ${machine.date}. Commit: ${machine.commit}. Whole run ${minutes(machine.durationS)} (planned ${minutes(machine.plannedS)}: ${Object.entries(machine.phasesS).map(([name, seconds]) => `${name} ${seconds} s`).join(', ')}); ${machine.repeatedRuns} runs repeated because other processes took the server's CPU. Load average at start ${machine.loadAverageAtStart}, at end ${machine.loadAverageAtEnd}${machine.quietAtStart ? '' : '; **the machine was busy with other work when the run started**'}.`)
  lines.push('')
  const allRuns = CASES.flatMap((c) => c.runs)
  const processes = settings.processes > 1
    ? `${settings.processes} process rounds × ${settings.runs} passes of ${settings.seconds} s: the servers of the targets' cases (bare, floor, the control's second floor, codegrant's cookie-, memory- and Redis-store servers, express-openid-connect) are started afresh for each round and warmed up ${settings.warmup} s per case; the others run in one process for the whole run, warmed up once`
    : `${settings.runs} pass${settings.runs === 1 ? '' : 'es'} of ${settings.seconds} s in one process per server, after a ${settings.warmup} s warm-up per case`
  lines.push(`Each row: median over ${processes} (every pass runs every case once, so a slow moment of the machine hits all cases alike; passes alternate direction), ${settings.connections} keep-alive connections, one wrk thread. "vs floor" / "vs bare": the median over passes of req/s ÷ the floor's (or bare framework's) req/s in the same pass, [lowest–highest pass]; the floor is the examples' app shape with no-op layers, sent the same Cookie header.${settings.fresh ? ' codegrant\'s cookie-, memory- and Redis-store servers and express-openid-connect (cookie sessions) are measured in processes that did not log in themselves (a twin on the same port did, then stopped; later rounds\' processes never see a login), like the floor — a memory-store server starts with the record its twin\'s login stored, put into its own store; passport and the APIs\' server (memory store), whose sessions live in the process, logged in in the process measured.' : ' Every server was measured in the process that logged in (BENCH_FRESH=0).'} "p99 vs floor": the same for the 99th percentile latency (lower is better; 1.10 = 10% slower). "CPU µs/req": the server process's own CPU time (all its threads, from the scheduler's nanosecond accounting in /proc) ÷ requests, median over passes; "vs floor by CPU/req": the floor's CPU µs/req ÷ this case's, pass by pass — the same ratio as "vs floor" when the server has its core to itself, and the steadier one when other processes take CPU time. "added": the median over passes of 1/(req/s) − 1/(floor req/s), the extra server time per request (the server process, on one core, is the bottleneck: its CPU use was ${Math.round(Math.min(...allRuns.map((r) => r.serverCpuShare), 1) * 100)}–${Math.round(Math.max(...allRuns.map((r) => r.serverCpuShare), 0) * 100)}% per run; other processes used at most ${Math.round(Math.max(...allRuns.map((r) => r.interference), 0) * 100)}% of its CPU).${settings.processes > 1 ? ' "runs": req/s of each pass, processes separated by ‖.' : ''}`)
  lines.push('', ...renderTargets(byId, versus, paced))
  lines.push(...renderPaced(paced))
  if (versus.length) {
    lines.push('', '### Head to head', '', '| case | ÷ | ratio [range] | by CPU/req | p99 ratio |', '| --- | --- | ---: | ---: | ---: |')
    for (const v of versus) lines.push(`| ${byId[v.case].label} (${byId[v.case].group}) | ${byId[v.versus].label} | ${range(v)} | ${fmt.ratio(v.cpuRatio)} | ${v.p99Ratio.toFixed(2)} |`)
  }
  const shown = ALL_CASES.filter((c) => CASES.includes(c)) // display order, not measurement order
  for (const group of [...new Set(shown.map((c) => c.group))]) {
    lines.push('', `### ${group}`, '', '| case | req/s | p50 ms | p99 ms | vs floor | vs bare | p99 vs floor | CPU µs/req | vs floor by CPU/req | added µs vs floor | answer | Set-Cookie | runs (req/s) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |')
    for (const c of shown.filter((x) => x.group === group)) {
      const { floor, bare } = c.vs
      const answer = `${c.probe.status}${c.probe.cookieBytes ? `, cookie ${c.probe.cookieBytes} B` : ''}, body ${c.probe.bodyBytes} B`
      const flags = c.runs.some((r) => r.socketErrors || r.unexpectedStatus) ? ' ⚠' : ''
      lines.push(`| ${c.label}${flags} | ${fmt.rps(c.median.rps)} | ${fmt.ms(c.median.p50)} | ${fmt.ms(c.median.p99)} | ${floor ? range(floor) : '—'} | ${bare ? range(bare) : '—'} | ${floor ? floor.p99Ratio.toFixed(2) : '—'} | ${c.median.cpuUs.toFixed(1)} | ${floor ? `${fmt.ratio(floor.cpuRatio)} [${floor.cpuMin.toFixed(2)}–${floor.cpuMax.toFixed(2)}]` : '—'} | ${floor ? floor.addedUs.toFixed(1) : '—'} | ${answer} | ${c.probe.setCookie ? `yes (${c.probe.setCookieBytes} B)` : 'no'} | ${[...new Set(c.runs.map((r) => r.round))].map((round) => c.runs.filter((r) => r.round === round).map((r) => fmt.rps(r.rps)).join(' / ')).join(' ‖ ')} |`)
    }
  }
  if (scale) lines.push('', ...renderScale(scale))
  if (micro) {
    lines.push('', '### Core alone (no HTTP)', '', `Session cookie ${micro.cookieBytes} B (decrypted session JSON ${micro.sessionJsonBytes} B: ${micro.sessionKeys.join(', ')}). CPU time per operation (process.cpuUsage, so other processes do not inflate it): median of ~5 ms batches over ${settings.microSeconds} s of CPU per row, one process pinned like the servers.`, '', '| operation | ops/s | ns/op (median) | fastest batch ns/op |', '| --- | ---: | ---: | ---: |')
    for (const r of micro.results) lines.push(`| ${r.name} | ${fmt.rps(r.opsPerSec)} | ${fmt.rps(r.nsPerOp)} | ${fmt.rps(r.minNs)} |`)
  }
  lines.push('')
  return `${lines.join('\n')}\n`
}

await main()
