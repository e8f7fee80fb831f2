// The examples themselves, measured from outside: `pnpm --dir bench examples`. For each framework
// (Fastify, Express, Koa; BENCH_EXAMPLES_ONLY picks), in each of BENCH_EXAMPLES_PROCESSES sets of
// fresh processes:
//   - the example, started as users start it: `pnpm --dir examples/<fw> start` with PORT only (the
//     demo: it starts its own dev provider and demo APIs, in a process of theirs, the BFF on), the process measured being
//     the node process that serves (pnpm's child, `exec node dist/server.js`); alice signs in
//     through the provider's login form (@codegrant/testing's signIn) for a real cookie session;
//   - the floor: an app of the example's exact shape with no-op layers (src/example-floors.mjs),
//     answering the same /me body, in its own process started with the same environment;
//   - the control: a second floor process, measured exactly like the example.
// Each: warm-up, then BENCH_EXAMPLES_RUNS passes in alternating order, wrk on one CPU and the
// servers on the other, 10 keep-alive connections, guarded `GET /me` with the session cookie; the
// server's CPU time per request from /proc. Ratios floor ÷ example and floor ÷ control by CPU
// µs/req, pass by pass; the median over every pass and each set's median. Writes
// results/examples.md and .json.
//
// BENCH_EXAMPLES_PROFILE=<dir>: every server process also runs under V8's CPU profiler (as with --cpu-prof;
// profiles in <dir>, CPU.<pid>.cpuprofile, one per process, with the requests each served printed at the end: read them with src/cpuprofile.mjs).
import { mkdirSync } from 'node:fs'
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { loginCookie } from './agent.mjs'
import { cpuBusy, exampleServerPid, freePort, gitCommit, hasTaskset, loadAverage, median, pinnedCommand, processCpu, startProcess, verdictCell, writeResults } from './system.mjs'
import { requireWrk, runWrk } from './wrk.mjs'

const env = process.env
const FLOOR_SCRIPT = fileURLToPath(new URL('./example-floors.mjs', import.meta.url))
const PRELOAD = fileURLToPath(new URL('./cpu-prof-preload.cjs', import.meta.url))
const FRAMEWORKS = ['fastify', 'express', 'koa']
const settings = {
  only: env.BENCH_EXAMPLES_ONLY ? new RegExp(env.BENCH_EXAMPLES_ONLY) : undefined,
  processes: Number(env.BENCH_EXAMPLES_PROCESSES ?? 5),
  runs: Number(env.BENCH_EXAMPLES_RUNS ?? 3),
  seconds: Number(env.BENCH_EXAMPLES_SECONDS ?? 1),
  warmup: Number(env.BENCH_EXAMPLES_WARMUP ?? 1),
  connections: Number(env.BENCH_EXAMPLES_CONNECTIONS ?? 10),
  profile: env.BENCH_EXAMPLES_PROFILE,
  pin: env.BENCH_PIN !== '0' && availableParallelism() >= 2 && hasTaskset(),
}
const SERVER_CPU = 1
const LOAD_CPU = 0
const ME = { accept: 'application/json' }
const isCodegrantSession = (name) => name === 'codegrant.session' || name.startsWith('codegrant.session.')

function log(line) {
  process.stderr.write(`${line}\n`)
}

/**
 * The environment a user's shell gives the example: PORT here, PATH and HOME from `startProcess`;
 * nothing else of the bench's (no NODE_ENV, no OAUTH_*): the example runs as
 * `pnpm --dir examples/<fw> start` runs it. The floors get the same.
 */
function userEnv(port, extra = {}) {
  // Node refuses --cpu-prof in NODE_OPTIONS: a preloaded script does what it does (src/cpu-prof-preload.cjs)
  const profile = settings.profile ? { NODE_OPTIONS: `--require ${PRELOAD}`, BENCH_CPU_PROF_DIR: settings.profile } : {}
  return { PORT: String(port), ...profile, ...extra }
}

/** Starts `command` pinned to the servers' CPU (its children inherit it), in its own process group; resolves once it listens. */
async function startPinned(command, args, childEnv) {
  const [file, argv] = pinnedCommand(command, args, settings.pin ? SERVER_CPU : undefined)
  const started = startProcess(file, argv, childEnv)
  await started.seen(/listening on http:\/\/\S+/)
  return started
}

/** Starts the example as users do; its server's pid and how to stop it (the whole process group, as Ctrl-C does). */
async function startExample(framework) {
  const port = await freePort()
  const example = await startPinned('pnpm', ['--dir', `examples/${framework}`, 'start'], userEnv(port))
  const pid = exampleServerPid(example.child.pid, framework)
  return { name: 'example', port, pid, served: 0, stop: () => example.stop(pid) }
}

/** Starts a floor of the example's shape (the same environment), answering `user` on /me. */
async function startFloor(framework, name, user) {
  const port = await freePort()
  const floor = await startPinned(process.execPath, [FLOOR_SCRIPT, framework], userEnv(port, { BENCH_SERVER: JSON.stringify({ user }) }))
  return { name, port, pid: floor.child.pid, served: 0, stop: () => floor.stop() }
}

/** Checks a server answers /me with the session cookie: 200 and `body` when given; returns the body. */
async function probe(server, headers, body) {
  const response = await fetch(`http://localhost:${server.port}/me`, { headers })
  const text = await response.text()
  if (response.status !== 200 || (body !== undefined && text !== body)) throw new Error(`${server.name} /me: ${response.status} ${text.slice(0, 300)}${body === undefined ? '' : `\nexpected ${body.slice(0, 300)}`}`)
  return text
}

/** One wrk run of guarded /me on `server`: req/s, the server's CPU µs per request, and other processes' share of its CPU. */
async function measure(server, headers, seconds) {
  const before = { cpu: cpuBusy(settings.pin ? SERVER_CPU : undefined), server: processCpu(server.pid), at: performance.now() }
  const result = await runWrk({ url: `http://localhost:${server.port}/me`, headers, seconds, connections: settings.connections, cpu: settings.pin ? LOAD_CPU : undefined })
  const elapsed = (performance.now() - before.at) / 1000
  const serverCpu = processCpu(server.pid) - before.server
  server.served += result.requests
  const errors = result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout + result.errors.status
  return {
    rps: result.rps,
    requests: result.requests,
    cpuUs: (serverCpu * 1e6) / Math.max(1, result.requests),
    serverCpuShare: serverCpu / elapsed,
    interference: settings.pin ? Math.max(0, cpuBusy(SERVER_CPU) - before.cpu - serverCpu) / elapsed : 0,
    p99: result.latency_us.p99,
    errors,
  }
}

/** One set of fresh processes for `framework`: example, floor, control; warm-up; passes in alternating order. */
async function measureSet(framework, set) {
  const started = []
  try {
    const example = await startExample(framework)
    started.push(example)
    const cookie = await loginCookie(`http://localhost:${example.port}/auth/login`, 'alice', isCodegrantSession)
    const headers = { ...ME, cookie }
    const body = await probe(example, headers)
    const user = JSON.parse(body).user
    const floor = await startFloor(framework, 'floor', user)
    started.push(floor)
    const control = await startFloor(framework, 'control', user)
    started.push(control)
    for (const server of [floor, control]) await probe(server, headers, body)
    log(`${framework} set ${set}: example pid ${example.pid} (port ${example.port}), floor pid ${floor.pid}, control pid ${control.pid}; /me ${body.length} B, cookie ${cookie.length} B`)
    const servers = [example, floor, control]
    for (const server of servers) await measure(server, headers, settings.warmup)
    if (settings.profile) {
      // the profiles start now (src/cpu-prof-preload.cjs): the passes only, and their requests
      for (const server of servers) {
        process.kill(server.pid, 'SIGUSR2')
        server.served = 0
      }
    }
    const passes = []
    for (let run = 0; run < settings.runs; run++) {
      const pass = {}
      for (const server of run % 2 ? [...servers].reverse() : servers) {
        pass[server.name] = await measure(server, headers, settings.seconds)
        const r = pass[server.name]
        log(`  ${framework} set ${set} pass ${run + 1} ${server.name.padEnd(7)} ${r.rps.toFixed(0).padStart(6)} req/s ${r.cpuUs.toFixed(1).padStart(6)} CPU µs/req  server CPU ${(r.serverCpuShare * 100).toFixed(0)}%  others ${(r.interference * 100).toFixed(0)}%${r.errors ? `  ⚠ ${r.errors} errors` : ''}`)
      }
      passes.push({ ...pass, ratio: pass.floor.cpuUs / pass.example.cpuUs, controlRatio: pass.floor.cpuUs / pass.control.cpuUs })
    }
    return { set, pids: Object.fromEntries(servers.map((s) => [s.name, s.pid])), bodyBytes: body.length, cookieBytes: cookie.length, passes }
  } finally {
    for (const server of started.reverse()) {
      await server.stop()
      // for a profile per request (src/cpuprofile.mjs --requests N): the requests of the passes
      if (settings.profile) log(`  ${framework} ${server.name} pid ${server.pid} served ${server.served} requests while profiled`)
    }
  }
}

function summary(framework, sets) {
  const passes = sets.flatMap((s) => s.passes)
  const of = (key) => ({
    median: median(passes.map((p) => p[key])),
    min: Math.min(...passes.map((p) => p[key])),
    max: Math.max(...passes.map((p) => p[key])),
    bySet: sets.map((s) => median(s.passes.map((p) => p[key]))),
  })
  const cpu = (name) => median(passes.map((p) => p[name].cpuUs))
  const others = median(passes.flatMap((p) => ['example', 'floor', 'control'].map((name) => p[name].interference)))
  return { framework, ratio: of('ratio'), control: of('controlRatio'), others, cpuUs: { example: cpu('example'), floor: cpu('floor'), control: cpu('control') }, rps: { example: median(passes.map((p) => p.example.rps)), floor: median(passes.map((p) => p.floor.rps)) }, sets }
}

function render(machine, results) {
  const r2 = (n) => n.toFixed(2)
  const range = (v) => `${r2(v.median)}× [${r2(v.min)}–${r2(v.max)}]`

  const lines = [
    `Command: \`${[...Object.entries(env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v}`), 'pnpm --dir bench examples'].join(' ')}\` (BENCH_EXAMPLES_PROCESSES=${settings.processes} BENCH_EXAMPLES_RUNS=${settings.runs} BENCH_EXAMPLES_SECONDS=${settings.seconds} BENCH_EXAMPLES_WARMUP=${settings.warmup} BENCH_EXAMPLES_CONNECTIONS=${settings.connections}${settings.profile ? ` BENCH_EXAMPLES_PROFILE=${settings.profile}: under --cpu-prof, not a result` : ''})`,
    '',
    `Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB, Node.js ${machine.node}, Linux ${machine.kernel}, ${machine.wrk}; ${machine.pinned}. Date: ${machine.date}. Commit: ${machine.commit}. Took ${Math.round(machine.durationS)} s. Load average at start ${machine.loadAverageAtStart}, at end ${machine.loadAverageAtEnd}.`,
    '',
    `Each example started as users start it (\`pnpm --dir examples/<fw> start\`, PORT only: the demo, which starts its own dev provider and demo APIs in a process of theirs, the BFF on), alice signed in through the provider's login form, and the node process that serves measured; beside it the floor (bench/src/example-floors.mjs: the example's routes in its order, its error handler, its /me body, codegrant's layers as no-ops) and the control (a second floor process), all three with the same environment, started afresh for each of ${settings.processes} sets. Per set: ${settings.warmup} s warm-up each, then ${settings.runs} passes of ${settings.seconds} s in alternating order; guarded \`GET /me\` with the session cookie, ${settings.connections} keep-alive connections, one wrk thread. The ratio is the floor's CPU µs/req ÷ the example's, pass by pass (1.00× = the example costs what its floor does; the target is ≥ 0.95×), and the control's floor ÷ control the same way: its distance from 1.00× is process noise in this run.`,
    '',
    '| framework | example vs floor (floor\'s CPU µs/req ÷ the example\'s): median [range] | per set | ≥ 0.95×? (the median\'s 95 % interval over sets) | control (floor ÷ floor): median [range] | per set | CPU µs/req example / floor / control | req/s example / floor | other processes\' share of the server\'s CPU (median) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.framework} | ${range(r.ratio)} | ${r.ratio.bySet.map(r2).join(' · ')} | ${verdictCell(r.ratio.bySet, 0.95)} | ${range(r.control)} | ${r.control.bySet.map(r2).join(' · ')} | ${r.cpuUs.example.toFixed(1)} / ${r.cpuUs.floor.toFixed(1)} / ${r.cpuUs.control.toFixed(1)} | ${Math.round(r.rps.example)} / ${Math.round(r.rps.floor)} | ${Math.round(r.others * 100)} % |`),
    '',
    'The verdict judges the median\'s 95 % interval over the sets (a seeded percentile bootstrap of the per-set medians, src/system.mjs): ✅ when the whole interval is at or above 0.95×, ❌ when the whole interval is below, ≈ when it straddles 0.95× (more sets, or a quieter machine, are needed to decide).',
    '',
  ]
  return lines.join('\n')
}

async function main() {
  const wrk = requireWrk()
  const startedAt = performance.now()
  const machine = {
    date: new Date().toISOString(), nproc: availableParallelism(), cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, kernel: release(), wrk, commit: gitCommit(['packages', 'examples']),
    pinned: settings.pin ? `servers on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU} (taskset)` : 'not pinned',
    loadAverageAtStart: loadAverage(),
  }
  if (settings.profile) mkdirSync(settings.profile, { recursive: true })
  const frameworks = FRAMEWORKS.filter((fw) => !settings.only || settings.only.test(fw))
  log(`examples bench: ${frameworks.join(', ')}; ${settings.processes} sets × ${settings.runs} passes of ${settings.seconds} s (warm-up ${settings.warmup} s); about ${Math.round(frameworks.length * settings.processes * (6 + 3 * (settings.warmup + settings.runs * (settings.seconds + 0.1))))} s`)
  const results = []
  for (const framework of frameworks) {
    const sets = []
    for (let set = 1; set <= settings.processes; set++) sets.push(await measureSet(framework, set))
    const result = summary(framework, sets)
    results.push(result)
    log(`${framework}: example vs floor ${result.ratio.median.toFixed(2)}× (per set ${result.ratio.bySet.map((n) => n.toFixed(2)).join(' · ')}), control ${result.control.median.toFixed(2)}× (per set ${result.control.bySet.map((n) => n.toFixed(2)).join(' · ')})`)
  }
  machine.loadAverageAtEnd = loadAverage()
  machine.durationS = (performance.now() - startedAt) / 1000
  const markdown = render(machine, results)
  writeResults('examples', markdown, { machine, settings: { ...settings, only: settings.only?.source }, results })
  process.stdout.write(`${markdown}\n`)
  log('written: bench/results/examples.md and .json')
}

await main()
