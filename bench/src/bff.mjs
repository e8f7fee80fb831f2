// The backend-for-frontend's proxy overhead (issue 21): one GET to a small local API, measured
// with wrk over keep-alive (a) straight to the API, (b) through codegrant's `/bff/<api>/` on
// Fastify 5 (the session cookie, the anti-forgery header, the session's token from the wallet,
// the answer streamed back), (c) through @fastify/http-proxy on Fastify 5 with a static
// Authorization header (a proxy that knows no session: the floor for "a proxy on Fastify").
// Each server in its own process; interleaved runs, medians. Prints a markdown table.
//
// `pnpm --dir bench bff`. Knobs: BENCH_SECONDS (each run, default 5), BENCH_RUNS (default 3),
// BENCH_CONNECTIONS (default 10), BENCH_WARMUP (seconds per case first, default 1), BENCH_PROFILE
// (a directory: codegrant's process writes a V8 CPU profile there, for src/cpuprofile.mjs).
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { loginCookie } from './agent.mjs'
import { freePort, median } from './system.mjs'
import { runWrk, wrkVersion } from './wrk.mjs'

const SCRIPT = fileURLToPath(import.meta.url)
const STATIC_TOKEN = 'bench-static-token'
const role = process.argv[2]

if (role) await serve(role, JSON.parse(process.env.BENCH_BFF ?? '{}'))
else await main()

/** A child: one server (`api`, `codegrant`, `proxy`), ready when it says so over IPC; stops on 'close'. */
async function serve(kind, spec) {
  const close = kind === 'api' ? await apiServer(spec) : kind === 'codegrant' ? await codegrantApp(spec) : await proxyApp(spec)
  process.on('message', (message) => {
    if (message === 'close') void close().finally(() => process.exit(0))
  })
  process.send({ ready: kind })
}

/** The API: plain node:http, a small JSON for any GET that carries a bearer token (checked for presence only). */
async function apiServer({ apiPort }) {
  const body = JSON.stringify({ hello: 'world', items: [1, 2, 3] })
  const server = createServer((req, res) => {
    const authorized = /^(Bearer|DPoP) \S+/.test(req.headers.authorization ?? '')
    if (!authorized) return void res.writeHead(401, { 'www-authenticate': 'Bearer' }).end()
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise((resolve) => server.listen(apiPort, '127.0.0.1', resolve))
  return () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) })
}

/** Fastify 5 with codegrant, `bff: true` and the API as `local` (the session's own token). */
async function codegrantApp(spec) {
  const { default: Fastify } = await import('fastify')
  const { oauth } = await import('@codegrant/fastify')
  const app = Fastify()
  await app.register(oauth, {
    issuer: spec.issuer,
    clientId: spec.clientId,
    clientSecret: spec.clientSecret,
    baseUrl: `http://127.0.0.1:${spec.appPort}`,
    cookieSecret: spec.cookieSecret,
    bff: true,
    apis: { local: { url: `http://127.0.0.1:${spec.apiPort}/` } },
    // the dev provider is http on loopback: codegrant warns about it once, which is expected here
    logger: { warn() {}, error: (line) => console.error(`[codegrant] ${line}`) },
  })
  await app.listen({ port: spec.appPort, host: '127.0.0.1' })
  return () => app.close()
}

/** Fastify 5 with @fastify/http-proxy to the API under `/proxy/local/`, adding a static Authorization header. */
async function proxyApp(spec) {
  const { default: Fastify } = await import('fastify')
  const { default: proxy } = await import('@fastify/http-proxy')
  const app = Fastify()
  await app.register(proxy, {
    upstream: `http://127.0.0.1:${spec.apiPort}`,
    prefix: '/proxy/local',
    replyOptions: { rewriteRequestHeaders: (_request, headers) => ({ ...headers, authorization: `Bearer ${STATIC_TOKEN}` }) },
  })
  await app.listen({ port: spec.proxyPort, host: '127.0.0.1' })
  return () => app.close()
}

function start(kind, spec) {
  const profile = kind === 'codegrant' && process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []
  const child = fork(SCRIPT, [kind], { execArgv: profile, env: { ...process.env, NODE_ENV: 'production', BENCH_BFF: JSON.stringify(spec) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start within 30 s`)), 30_000)
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before it was ready`)))
    child.once('message', (message) => {
      clearTimeout(timer)
      if (message?.ready === kind) resolve(child)
      else reject(new Error(`${kind}: unexpected message ${JSON.stringify(message)}`))
    })
  })
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.send('close')
  })
}

async function main() {
  if (!wrkVersion()) throw new Error('wrk is not installed: apt-get install -y wrk')
  const env = process.env
  const seconds = Number(env.BENCH_SECONDS ?? 5)
  const runs = Number(env.BENCH_RUNS ?? 3)
  const connections = Number(env.BENCH_CONNECTIONS ?? 10)
  const warmup = Number(env.BENCH_WARMUP ?? 1)
  const { startDevProvider } = await import('@codegrant/dev-provider')
  const [apiPort, appPort, proxyPort] = [await freePort(), await freePort(), await freePort()]
  const spec = { apiPort, appPort, proxyPort, clientId: 'bench-bff', clientSecret: randomBytes(24).toString('base64url'), cookieSecret: randomBytes(32).toString('base64url') }
  // an access token that outlives the run: the measured requests never refresh
  const provider = await startDevProvider({ quiet: true, accessTokenTtl: 3600, clients: [{ client_id: spec.clientId, client_secret: spec.clientSecret, redirect_uris: [`http://127.0.0.1:${appPort}/auth/callback`] }] })
  spec.issuer = provider.issuer
  const children = []
  try {
    for (const kind of ['api', 'codegrant', 'proxy']) children.push(await start(kind, spec))
    const cookie = await loginCookie(`http://127.0.0.1:${appPort}/auth/login`, 'alice', (name) => name.startsWith('codegrant.session'))
    const cases = [
      { label: 'direct to the API', url: `http://127.0.0.1:${apiPort}/x`, headers: { authorization: `Bearer ${STATIC_TOKEN}` } },
      { label: 'codegrant `/bff/local/x` (Fastify 5)', url: `http://127.0.0.1:${appPort}/bff/local/x`, headers: { cookie, 'x-csrf': '1' } },
      { label: '@fastify/http-proxy (Fastify 5, static token)', url: `http://127.0.0.1:${proxyPort}/proxy/local/x`, headers: {} },
    ].map((c) => ({ ...c, runs: [] }))
    // every case answers the API's 200 before anything is measured
    for (const c of cases) {
      const response = await fetch(c.url, { headers: c.headers })
      const text = await response.text()
      if (response.status !== 200 || !text.includes('"hello"')) throw new Error(`${c.label} answered ${response.status}: ${text.slice(0, 200)}`)
    }
    if (warmup > 0) for (const c of cases) await runWrk({ url: c.url, headers: c.headers, seconds: warmup, connections })
    for (let round = 1; round <= runs; round++) {
      for (const c of cases) {
        const result = await runWrk({ url: c.url, headers: c.headers, seconds, connections })
        const failed = result.errors.status + result.errors.connect + result.errors.read + result.errors.write + result.errors.timeout
        if (failed > 0) throw new Error(`${c.label}: ${failed} failed requests in round ${round} (${JSON.stringify(result.errors)})`)
        c.runs.push(result)
        process.stderr.write(`round ${round} ${c.label.padEnd(48)} ${result.rps.toFixed(0).padStart(7)} req/s  p50 ${result.latency_us.p50} µs  p99 ${result.latency_us.p99} µs\n`)
      }
    }
    console.log(table(cases, { seconds, runs, connections }))
  } finally {
    await Promise.all(children.map(stop))
    await provider.close()
  }
}

/** The medians as a markdown table, each proxy's added time per request against the direct call. */
function table(cases, { seconds, runs, connections }) {
  const rows = cases.map((c) => ({ label: c.label, rps: median(c.runs.map((r) => r.rps)), p50: median(c.runs.map((r) => r.latency_us.p50)), p99: median(c.runs.map((r) => r.latency_us.p99)) }))
  const [direct] = rows
  const added = (row, value) => (row === direct ? '–' : `${Math.round(value).toLocaleString('en')}`)
  return [
    `GET of a small JSON from a local API, keep-alive, ${connections} connections, ${runs} runs of ${seconds} s per case (medians); wrk, the API and each proxy in their own processes, not pinned.`,
    '',
    '| case | req/s | p50 µs | p99 µs | added µs/request (p50) | added µs/request (1/throughput) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row.label} | ${Math.round(row.rps).toLocaleString('en')} | ${row.p50} | ${row.p99} | ${added(row, row.p50 - direct.p50)} | ${added(row, 1e6 / row.rps - 1e6 / direct.rps)} |`),
  ].join('\n')
}
