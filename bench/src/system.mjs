// Small helpers shared by the bench scripts: loopback ports, CPU time and processes from /proc,
// the run's commit and load, the results files.
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

/** The repository's root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

/** USER_HZ: /proc times are in 1/100 s. */
export const TICK = 100

/**
 * A port free on 127.0.0.1 right now, below the kernel's ephemeral range (32768–60999 on Linux):
 * a port taken from that range at start can be taken by an outgoing connection's source port
 * before a server listens on it minutes later (the scale-out instances start at the end of a
 * run, after thousands of wrk and Redis connections), so the bench picks its own, at random.
 */
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await isFree(port)) return port
  }
  throw new Error('no free port found in 20000–31999 after 50 tries')
}

function isFree(port) {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * CPU seconds a process has used (all its threads: user + system), from the scheduler's own
 * nanosecond accounting (`/proc/<pid>/task/<tid>/schedstat`, first field), so a 1 s run is
 * measured to the microsecond rather than to /proc/<pid>/stat's 10 ms ticks (±1 % of a 1 s run at
 * each end). Threads that have already exited are not counted (Node's are long-lived); falls
 * back to /proc/<pid>/stat where schedstat is missing; 0 where there is no /proc.
 */
export function processCpu(pid) {
  let ns = 0
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {
        // a thread that ended while we read: its time is gone from the sum either way
      }
    }
  } catch {
    // no such process
  }
  if (Number.isFinite(ns) && ns > 0) return ns / 1e9
  // no schedstat: the coarser /proc/<pid>/stat
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICK
  } catch {
    return 0
  }
}

/** Busy seconds so far of one CPU (or all), from /proc/stat; 0 where there is no /proc. */
export function cpuBusy(cpu) {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(cpu === undefined ? 'cpu ' : `cpu${cpu} `))
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
    return (user + nice + system + irq + softirq + steal) / TICK
  } catch {
    return 0
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * A 95 % interval for the median of `values` (one value per fresh process), by the percentile
 * bootstrap: the median of `resamples` draws with replacement, their 2.5th and 97.5th
 * percentiles. Seeded, so that the same values always give the same interval. With fewer than
 * two values there is no interval: `undefined`.
 */
export function medianInterval(values, { resamples = 4000, seed = 1 } = {}) {
  if (values.length < 2) return undefined
  let state = seed >>> 0
  // mulberry32: small, fast and good enough for resampling indices
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const medians = new Float64Array(resamples)
  const draw = new Array(values.length)
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) draw[i] = values[Math.floor(random() * values.length)]
    medians[r] = median(draw)
  }
  medians.sort()
  return { low: medians[Math.floor(resamples * 0.025)], high: medians[Math.ceil(resamples * 0.975) - 1] }
}

/**
 * Whether a median over processes meets `target` (at least it; `atMost` for at most), judged by
 * its {@link medianInterval}: 'met' when the whole interval is on the target's side, 'missed' when
 * the whole interval is on the other, 'undecided' when it straddles the target (the processes
 * scatter more than the distance to the target). With one process: the median alone.
 */
export function verdict(values, target, { atMost = false } = {}) {
  const interval = medianInterval(values)
  const ok = (x) => (atMost ? x <= target : x >= target)
  if (!interval) return { verdict: ok(median(values)) ? 'met' : 'missed', interval }
  if (ok(interval.low) && ok(interval.high)) return { verdict: 'met', interval }
  if (!ok(interval.low) && !ok(interval.high)) return { verdict: 'missed', interval }
  return { verdict: 'undecided', interval }
}

/** How a verdict reads in a table: met, missed, undecided (the interval straddles the target). */
const VERDICT_MARK = { met: '✅', missed: '❌', undecided: '≈' }

/** A table cell for {@link verdict}: its mark and, with two or more values, the median's interval, e.g. `≈ [0.88–1.05]`. */
export function verdictCell(values, target) {
  const { verdict: said, interval } = verdict(values, target)
  return `${VERDICT_MARK[said]}${interval ? ` [${interval.low.toFixed(2)}–${interval.high.toFixed(2)}]` : ''}`
}

/** `command args` run on `cpu` (`taskset -c`), or as it is when `cpu` is undefined: the file and argv to spawn. */
export function pinnedCommand(command, args, cpu) {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]]
}

/** The pids whose parent is `pid` (from /proc/<pid>/stat's fourth field). */
export function childrenOf(pid) {
  const found = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/**
 * The node process that serves an example started with `pnpm --dir examples/<framework> start`:
 * `taskset` execs pnpm, pnpm runs the start script (`exec node dist/server.js`: the shell becomes
 * node), so it is pnpm's child whose command line is `node dist/server.js` and whose working
 * directory is the example's. Checked, not assumed.
 */
export function exampleServerPid(pnpmPid, framework) {
  const dir = `${ROOT}examples/${framework}`
  for (const pid of childrenOf(pnpmPid)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
      if (/(^|\/)node$/.test(argv[0]) && argv.at(-1) === 'dist/server.js' && readlinkSync(`/proc/${pid}/cwd`) === dir) return pid
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no node dist/server.js among pnpm's (pid ${pnpmPid}) children ${childrenOf(pnpmPid).join(', ')}`)
}

/** The checkout's short commit, marked when any of `paths` (from the root) has uncommitted changes; 'unknown' outside git. */
export function gitCommit(paths) {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: ROOT }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...paths], { encoding: 'utf8', cwd: ROOT }).trim() !== ''
    return dirty ? `${commit} (${paths.map((path) => `${path}/`).join(' or ')} modified)` : commit
  } catch {
    return 'unknown'
  }
}

/** The load averages (1, 5, 15 min), as a run's header prints them. */
export function loadAverage() {
  return loadavg().map((n) => n.toFixed(2)).join(' ')
}

/** Writes a run's tables and numbers: bench/results/<name>.md and .json. */
export function writeResults(name, markdown, data) {
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(`${RESULTS_DIR}${name}.md`, `${markdown}\n`)
  writeFileSync(`${RESULTS_DIR}${name}.json`, `${JSON.stringify(data, null, 2)}\n`)
}

/** Whether `taskset` is there to pin a process to a CPU (util-linux). */
export function hasTaskset() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * A process of a bench run, in its own process group, its output kept: `seen(pattern)` waits
 * (at most `seconds`) for its output to match and gives the match, or fails with the output;
 * `stop(server)` ends the group as Ctrl-C does (SIGTERM, SIGKILL after 10 s) and resolves once the
 * process and `server` (the pid that serves, when the process is a launcher such as pnpm) are
 * gone: a profile or callgrind's last dump is written as a process exits. Started with only PATH
 * and HOME from this environment, plus `env`.
 */
export function startProcess(file, argv, env, { cwd = ROOT } = {}) {
  const child = spawn(file, argv, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const seen = (pattern, seconds = 60) => new Promise((resolve, reject) => {
    const what = `${file} ${argv.join(' ')}`
    const timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${seconds} s:\n${output}`)), seconds * 1000)
    const check = () => {
      const match = pattern.exec(output)
      if (match) { clearTimeout(timer); resolve(match) }
    }
    check()
    child.stdout.on('data', check)
    child.stderr.on('data', check)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}:\n${output}`)) })
  })
  const signal = (name) => {
    try {
      process.kill(-child.pid, name)
    } catch {
      // gone already
    }
  }
  const stop = async (server = child.pid) => {
    if (child.exitCode === null && child.signalCode === null) {
      const kill = setTimeout(() => signal('SIGKILL'), 10_000)
      signal('SIGTERM')
      await exited
      clearTimeout(kill)
    }
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && isAlive(server); ) await new Promise((resolve) => setTimeout(resolve, 50))
    if (isAlive(server)) process.kill(server, 'SIGKILL')
  }
  return { child, seen, stop }
}

/** Whether `pid` runs (a zombie, exited and not yet reaped, does not). */
export function isAlive(pid) {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')
  } catch {
    return false
  }
}
