// Instructions per request, counted by valgrind (callgrind): a measure of the server's own work
// that other processes on the machine cannot move, unlike req/s. Each server runs under
// callgrind with instrumentation off; after a warm-up (so V8 has optimised the hot code) it is
// switched on for one wrk run per path, and the instructions counted are divided by the
// requests served. Kernel work (sockets) is not counted, and it is the same for every case.
//
//   pnpm --dir bench instructions            # floor, codegrant and bare on Express 5, Koa 3, Fastify 5
//   BENCH_IR_KINDS='fastify-floor fastify-codegrant' BENCH_IR_SECONDS=5 pnpm --dir bench instructions
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDevProvider } from '@codegrant/dev-provider'
import { loginCookie } from './agent.mjs'
import { runWrk } from './wrk.mjs'

const env = process.env
const SERVER_SCRIPT = env.BENCH_IR_SERVERS ?? fileURLToPath(new URL('./servers.mjs', import.meta.url))
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))
const seconds = Number(env.BENCH_IR_SECONDS ?? 8)
const warmup = Number(env.BENCH_IR_WARMUP ?? 8)
const parallel = Number(env.BENCH_IR_PARALLEL ?? 3)
const FRAMEWORKS = ['express', 'koa', 'fastify']
const kinds = (env.BENCH_IR_KINDS ?? FRAMEWORKS.flatMap((fw) => [`${fw}-bare`, `${fw}-floor`, `${fw}-codegrant`]).join(' ')).split(' ').filter(Boolean)
const isCodegrant = (kind) => kind.endsWith('-codegrant') || kind.endsWith('-memory')
const pick = (name) => name === 'codegrant.session' || name.startsWith('codegrant.session.')

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitForServer(url, child) {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited ${child.exitCode}`)
    try {
      await fetch(url)
      return
    } catch {
      await wait(250)
    }
  }
  throw new Error(`${url}: not up after 150 s`)
}

/** Sum of the instruction counts (Ir) in a callgrind dump. */
function instructionsIn(file) {
  const text = readFileSync(file, 'utf8')
  const totals = text.match(/^totals:\s*(\d+)/m)
  return totals ? Number(totals[1]) : 0
}

async function measureKind(kind, provider, specs, users) {
  const spec = specs[kind]
  const dir = mkdtempSync(join(tmpdir(), `ir-${kind}-`))
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${dir}/out`, process.execPath, SERVER_SCRIPT, kind], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...env, NODE_ENV: 'production', BENCH_SERVER: JSON.stringify({ ...spec, issuer: provider.issuer, user: users[kind.split('-')[0]] }) },
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const base = `http://127.0.0.1:${spec.port}`
  try {
    await waitForServer(`${base}/public`, child)
    const cookie = isCodegrant(kind) ? await loginCookie(`${base}/auth/login`, 'alice', pick) : users.cookies[kind.split('-')[0]]
    const paths = [
      { path: '/public', headers: { accept: 'application/json' } },
      { path: '/me', headers: { accept: 'application/json', ...(kind.endsWith('-bare') ? {} : { cookie }) } },
    ]
    const results = {}
    for (const { path, headers } of paths) {
      await runWrk({ url: `${base}${path}`, headers, seconds: warmup, connections: 2 })
      execFileSync('callgrind_control', ['--instr=on', String(child.pid)], { stdio: 'ignore' })
      const run = await runWrk({ url: `${base}${path}`, headers, seconds, connections: 2 })
      execFileSync('callgrind_control', ['--instr=off', String(child.pid)], { stdio: 'ignore' })
      execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' })
      await wait(500)
      const dumps = readdirSync(dir).filter((f) => f.startsWith('out')).sort()
      const file = join(dir, dumps.at(-1))
      const bad = run.errors.connect + run.errors.read + run.errors.write + run.errors.timeout + run.errors.status
      results[path] = { requests: run.requests, instructions: instructionsIn(file), errors: bad, dump: file }
      results[path].perRequest = results[path].instructions / run.requests
      execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' })
      process.stderr.write(`${kind} ${path}: ${run.requests} requests, ${(results[path].perRequest / 1000).toFixed(1)} k instructions/request${bad ? `, ${bad} errors` : ''}\n`)
    }
    return results
  } finally {
    child.kill('SIGKILL')
    if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve))
    if (stderr.includes('Error')) process.stderr.write(`[${kind}] ${stderr.split('\n').filter((l) => !l.startsWith('==')).join('\n')}\n`)
  }
}

async function main() {
  const cookieSecret = randomBytes(32).toString('base64url')
  const specs = {}
  for (const kind of kinds) specs[kind] = { port: await freePort(), clientId: `ir-${kind}`, clientSecret: randomBytes(24).toString('base64url'), cookieSecret }
  // codegrant servers also run outside valgrind first: the floor and bare apps get the same user and cookie
  const plain = {}
  for (const fw of FRAMEWORKS) plain[fw] = { port: await freePort(), clientId: `ir-plain-${fw}`, clientSecret: randomBytes(24).toString('base64url'), cookieSecret }
  const clients = [
    ...kinds.filter(isCodegrant).map((kind) => ({ client_id: specs[kind].clientId, client_secret: specs[kind].clientSecret, redirect_uris: [`http://127.0.0.1:${specs[kind].port}/auth/callback`] })),
    ...FRAMEWORKS.map((fw) => ({ client_id: plain[fw].clientId, client_secret: plain[fw].clientSecret, redirect_uris: [`http://127.0.0.1:${plain[fw].port}/auth/callback`] })),
  ]
  const provider = await startDevProvider({ quiet: true, clients })
  const users = { cookies: {} }
  for (const fw of FRAMEWORKS) {
    const child = spawn(process.execPath, [SERVER_SCRIPT, `${fw}-codegrant`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...env, BENCH_SERVER: JSON.stringify({ ...plain[fw], issuer: provider.issuer }) } })
    await new Promise((resolve) => child.once('message', resolve))
    const base = `http://127.0.0.1:${plain[fw].port}`
    users.cookies[fw] = await loginCookie(`${base}/auth/login`, 'alice', pick)
    users[fw] = (await (await fetch(`${base}/me`, { headers: { accept: 'application/json', cookie: users.cookies[fw] } })).json()).user
    child.kill()
  }
  const results = {}
  try {
    const queue = [...kinds]
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (queue.length) {
          const kind = queue.shift()
          results[kind] = await measureKind(kind, provider, specs, users)
        }
      }),
    )
  } finally {
    await provider.close()
  }
  const lines = ['| framework | case | k instructions / request | vs floor (floor ÷ case) |', '| --- | --- | ---: | ---: |']
  for (const fw of FRAMEWORKS) {
    const floor = results[`${fw}-floor`]
    for (const kind of kinds.filter((k) => k.startsWith(`${fw}-`))) {
      for (const path of ['/public', '/me']) {
        const r = results[kind]?.[path]
        if (!r) continue
        const ratio = floor?.[path] ? (floor[path].perRequest / r.perRequest).toFixed(3) : '—'
        lines.push(`| ${fw} | ${kind.slice(fw.length + 1)} ${path}${path === '/me' && !kind.endsWith('-bare') ? ' (session cookie)' : ''} | ${(r.perRequest / 1000).toFixed(1)} | ${ratio} |`)
      }
    }
  }
  const table = `${lines.join('\n')}\n`
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(`${RESULTS_DIR}instructions-latest.json`, `${JSON.stringify({ date: new Date().toISOString(), seconds, warmup, results }, null, 2)}\n`)
  writeFileSync(`${RESULTS_DIR}instructions-latest.md`, table)
  process.stdout.write(table)
}

await main()
