// Runs wrk (the one load generator for every case) and reads the JSON line report.lua prints.
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('./report.lua', import.meta.url))

/** wrk's version line; without wrk, says how to install it and exits 1 (`why`: what the script uses it for). */
export function requireWrk(why = '') {
  const version = wrkVersion()
  if (version) return version
  console.error(`wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk (as root).${why ? ` ${why}` : ''}`)
  process.exit(1)
}

export function wrkVersion() {
  try {
    execFileSync('wrk', ['-v'], { stdio: 'pipe' })
  } catch (error) {
    // `wrk -v` prints its version and exits 1
    const out = `${error.stdout ?? ''}${error.stderr ?? ''}`
    if (/^wrk /.test(out)) return out.split('\n')[0].trim()
    return undefined
  }
  return 'wrk'
}

/**
 * One wrk run: `connections` keep-alive connections on one wrk thread for `seconds`, with the
 * given request headers. `cpu` pins wrk to that CPU (taskset) when given. `delayMs`: each
 * connection waits that long before each request (a paced load below saturation, so that two
 * servers can be compared at the same request rate; whole milliseconds). `cookies`: Cookie
 * headers that the requests of each connection carry in turn, instead of `headers.cookie`.
 */
export function runWrk({ url, headers = {}, seconds, connections, cpu, delayMs, cookies }) {
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '5s', '-s', SCRIPT]
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`)
  args.push(url)
  const [command, argv] = cpu === undefined ? ['wrk', args] : ['taskset', ['-c', String(cpu), 'wrk', ...args]]
  return new Promise((resolve, reject) => {
    const env = { ...process.env }
    if (delayMs !== undefined) env.BENCH_DELAY_MS = String(Math.max(1, Math.round(delayMs)))
    if (cookies !== undefined) env.BENCH_COOKIES = cookieFile(cookies)
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (out += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${out}`))
      const result = JSON.parse(line.slice('BENCH_RESULT '.length))
      result.rps = result.requests / (result.duration_us / 1e6)
      resolve(result)
    })
  })
}

const cookieFiles = new WeakMap()
/** The file report.lua reads `cookies` from: written once per list. */
function cookieFile(cookies) {
  let file = cookieFiles.get(cookies)
  if (file === undefined) {
    file = join(mkdtempSync(join(tmpdir(), 'codegrant-bench-')), 'cookies.txt')
    writeFileSync(file, `${cookies.join('\n')}\n`)
    cookieFiles.set(cookies, file)
  }
  return file
}
