// What an example process pays for, taken apart: `pnpm --dir bench attribution`. The examples
// bench (src/examples.mjs) compares each example, started as users start it, with a floor of its
// exact shape; this one asks where the difference comes from. For each framework (Fastify,
// Express, Koa; BENCH_ATTRIBUTION_ONLY picks), in each of BENCH_ATTRIBUTION_PROCESSES sets of fresh
// processes, all pinned to one CPU and measured by turns as src/examples.mjs measures:
//   A  the example (`pnpm --dir examples/<fw> start`), signed in through the provider's form: it
//      served the login (authorization request, callback, code exchange, discovery, JWKS);
//   B  a second example process with the same settings, which never served a login: it is sent
//      A's cookie (same provider, client and OAUTH_COOKIE_SECRET);
//   G  the floor (src/example-floors.mjs) with the example's modules loaded but unused
//      (`--import examples/<fw>/dist/app.js`): codegrant, the kit and their dependencies in memory;
//   F  the floor itself, and F2 a second floor process, the control.
// So F ÷ G is what loaded code costs, G ÷ B what codegrant's per-request work costs (with its
// effects on the rest of the process), B ÷ A what serving the login left behind, F ÷ F2 the
// process noise. Unlike the examples bench, the examples here are not the demo: they are given
// OAUTH_ISSUER (one dev provider, its own process, shared by A and B), so neither has the demo's
// APIs or BFF. Writes results/attribution.md and .json.
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { loginCookie } from './agent.mjs'
import { exampleServerPid, freePort, gitCommit, hasTaskset, loadAverage, median, pinnedCommand, processCpu, ROOT, startProcess, writeResults } from './system.mjs'
import { requireWrk, runWrk } from './wrk.mjs'

const env = process.env
const FLOOR_SCRIPT = fileURLToPath(new URL('./example-floors.mjs', import.meta.url))
const PROVIDER_CLI = fileURLToPath(new URL('../../packages/dev-provider/bin/codegrant-dev-provider.js', import.meta.url))
const FRAMEWORKS = ['fastify', 'express', 'koa']
const SERVERS = ['A', 'B', 'G', 'F', 'F2']
const settings = {
  only: env.BENCH_ATTRIBUTION_ONLY ? new RegExp(env.BENCH_ATTRIBUTION_ONLY) : undefined,
  processes: Number(env.BENCH_ATTRIBUTION_PROCESSES ?? 3),
  runs: Number(env.BENCH_ATTRIBUTION_RUNS ?? 6),
  seconds: Number(env.BENCH_ATTRIBUTION_SECONDS ?? 1),
  connections: 10,
  pin: env.BENCH_PIN !== '0' && availableParallelism() >= 2 && hasTaskset(),
}
const SERVER_CPU = 1
const LOAD_CPU = 0
const isSessionCookie = (name) => name === 'codegrant.session' || name.startsWith('codegrant.session.')

const log = (line) => process.stderr.write(`${line}\n`)

/** A process of the set, pinned to the servers' CPU. */
function start(command, args, childEnv) {
  const [file, argv] = pinnedCommand(command, args, settings.pin ? SERVER_CPU : undefined)
  return startProcess(file, argv, childEnv)
}

async function measureSet(framework, set) {
  const started = []
  try {
    const ports = { A: await freePort(), B: await freePort(), G: await freePort(), F: await freePort(), F2: await freePort() }
    const clientSecret = randomBytes(24).toString('base64url')
    const provider = start(process.execPath, [PROVIDER_CLI, '--port', '0', '--client-secret', clientSecret, '--redirect-uri', `http://localhost:${ports.A}/auth/callback`, '--redirect-uri', `http://localhost:${ports.B}/auth/callback`], {})
    started.push(provider)
    const [, issuer] = await provider.seen(/OAUTH_ISSUER=(\S+)/)
    const shared = { OAUTH_ISSUER: issuer, OAUTH_CLIENT_ID: 'codegrant-demo', OAUTH_CLIENT_SECRET: clientSecret, OAUTH_COOKIE_SECRET: randomBytes(32).toString('base64url') }
    const servers = {}
    for (const name of ['A', 'B']) {
      const example = start('pnpm', ['--dir', `examples/${framework}`, 'start'], { ...shared, PORT: String(ports[name]) })
      started.push(example)
      await example.seen(/listening on http/)
      servers[name] = { port: ports[name], pid: exampleServerPid(example.child.pid, framework) }
    }
    const cookie = await loginCookie(`http://localhost:${ports.A}/auth/login`, 'alice', isSessionCookie)
    const headers = { accept: 'application/json', cookie }
    const me = async (name) => {
      const response = await fetch(`http://localhost:${ports[name]}/me`, { headers })
      const text = await response.text()
      if (response.status !== 200) throw new Error(`${name} /me: ${response.status} ${text.slice(0, 200)}`)
      return text
    }
    const body = await me('A')
    if ((await me('B')) !== body) throw new Error('B answers /me differently from A')
    const user = JSON.parse(body).user
    const floorEnv = (name, extra = {}) => ({ PORT: String(ports[name]), BENCH_SERVER: JSON.stringify({ user }), ...extra })
    for (const [name, extra] of [['G', { NODE_OPTIONS: `--import ${ROOT}examples/${framework}/dist/app.js` }], ['F', {}], ['F2', {}]]) {
      const floor = start(process.execPath, [FLOOR_SCRIPT, framework], floorEnv(name, extra))
      started.push(floor)
      await floor.seen(/listening on http/)
      servers[name] = { port: ports[name], pid: floor.child.pid }
      if ((await me(name)) !== body) throw new Error(`${name} answers /me differently from the example`)
    }
    const measure = async (name) => {
      const before = processCpu(servers[name].pid)
      const result = await runWrk({ url: `http://localhost:${ports[name]}/me`, headers, seconds: settings.seconds, connections: settings.connections, cpu: settings.pin ? LOAD_CPU : undefined })
      if (result.errors.status + result.errors.connect > 0) throw new Error(`${name}: ${JSON.stringify(result.errors)}`)
      return ((processCpu(servers[name].pid) - before) * 1e6) / Math.max(1, result.requests)
    }
    for (const name of SERVERS) await measure(name) // warm-up
    const passes = []
    for (let run = 0; run < settings.runs; run++) {
      const pass = {}
      for (const name of run % 2 ? [...SERVERS].reverse() : SERVERS) pass[name] = await measure(name)
      passes.push(pass)
      log(`  ${framework} set ${set} pass ${run + 1}: ${SERVERS.map((name) => `${name} ${pass[name].toFixed(1)}`).join('  ')} CPU µs/req`)
    }
    return { set, cookieBytes: cookie.length, passes }
  } finally {
    await Promise.all(started.map((one) => one.stop()))
  }
}

/** Each ratio is taken pass by pass (the same moment of the machine), then the median over every pass of every set. */
const RATIOS = [
  ['F ÷ F2', 'F', 'F2', 'control: process noise'],
  ['F ÷ G', 'F', 'G', 'the example\'s modules loaded, unused'],
  ['G ÷ B', 'G', 'B', 'codegrant\'s work per request, and its effects on the process'],
  ['B ÷ A', 'B', 'A', 'what serving the login left in the process'],
  ['F ÷ A', 'F', 'A', 'all of it: the example that signed in ÷ its floor'],
]

function summary(framework, sets) {
  const passes = sets.flatMap((s) => s.passes)
  const ratios = Object.fromEntries(RATIOS.map(([label, top, bottom]) => [label, {
    median: median(passes.map((p) => p[top] / p[bottom])),
    bySet: sets.map((s) => median(s.passes.map((p) => p[top] / p[bottom]))),
  }]))
  const cpuUs = Object.fromEntries(SERVERS.map((name) => [name, median(passes.map((p) => p[name]))]))
  return { framework, ratios, cpuUs, sets }
}

function render(machine, results) {
  const r2 = (n) => n.toFixed(2)
  return [
    `Command: \`${[...Object.entries(env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v}`), 'pnpm --dir bench attribution'].join(' ')}\` (BENCH_ATTRIBUTION_PROCESSES=${settings.processes} BENCH_ATTRIBUTION_RUNS=${settings.runs} BENCH_ATTRIBUTION_SECONDS=${settings.seconds})`,
    '',
    `Machine: ${machine.nproc} CPUs, Node.js ${process.version}, ${machine.wrk}; ${settings.pin ? `servers on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}` : 'not pinned'}. Date: ${machine.date}. Commit: ${machine.commit}. Took ${Math.round(machine.durationS)} s. Load average at start ${machine.loadAtStart}, at end ${machine.loadAtEnd}.`,
    '',
    `Guarded \`GET /me\` with alice's session cookie, ${settings.connections} keep-alive connections, one wrk thread; the server process's CPU µs per request. A: the example that served the login; B: a second example process that never did (same provider, client and cookie secret: sent A's cookie); G: the floor with the example's modules loaded, unused; F: the floor; F2: a second floor (the control). ${settings.processes} sets of fresh processes × ${settings.runs} passes of ${settings.seconds} s, in alternating order; each ratio pass by pass, then the median (per set: the set's median). The examples get OAUTH_ISSUER here, so they run without the demo's APIs and BFF.`,
    '',
    `| framework | CPU µs/req A / B / G / F / F2 | ${RATIOS.map(([label, , , meaning]) => `${label} (${meaning})`).join(' | ')} |`,
    `| --- | ---: | ${RATIOS.map(() => '---:').join(' | ')} |`,
    ...results.map((r) => `| ${r.framework} | ${SERVERS.map((name) => r.cpuUs[name].toFixed(1)).join(' / ')} | ${RATIOS.map(([label]) => `${r2(r.ratios[label].median)} (${r.ratios[label].bySet.map(r2).join(' · ')})`).join(' | ')} |`),
    '',
  ].join('\n')
}

async function main() {
  const wrk = requireWrk()
  const startedAt = performance.now()
  const machine = { date: new Date().toISOString(), nproc: availableParallelism(), wrk, commit: gitCommit(['packages', 'examples']), loadAtStart: loadAverage() }
  const results = []
  for (const framework of FRAMEWORKS.filter((fw) => !settings.only || settings.only.test(fw))) {
    const sets = []
    for (let set = 1; set <= settings.processes; set++) sets.push(await measureSet(framework, set))
    const result = summary(framework, sets)
    results.push(result)
    log(`${framework}: ${RATIOS.map(([label]) => `${label} ${result.ratios[label].median.toFixed(2)}`).join(', ')}`)
  }
  machine.loadAtEnd = loadAverage()
  machine.durationS = (performance.now() - startedAt) / 1000
  const markdown = render(machine, results)
  writeResults('attribution', markdown, { machine, settings: { ...settings, only: settings.only?.source }, results })
  process.stdout.write(`${markdown}\n`)
  log('written: bench/results/attribution.md and .json')
}

await main()
