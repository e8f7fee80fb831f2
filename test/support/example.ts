import { spawn, type ChildProcess } from 'node:child_process'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * A port no one listens on, chosen below the kernel's ephemeral range: the app is started on it
 * later, and meanwhile anything that listens on port 0 (the demo's own dev provider) is handed
 * an ephemeral port, so it can never take this one first.
 */
export async function freePort(): Promise<number> {
  const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768')).trim().split(/\s+/).map(Number)
  const top = Math.max(11_000, (low ?? 32768) - 1)
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (top - 10_000))
    const server = createServer()
    // the examples listen on every address (::), so that is what must be free
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, () => resolve(true))
    })
    if (free) {
      await new Promise((resolve) => server.close(resolve))
      return port
    }
  }
  throw new Error('no free port below the ephemeral range')
}

export interface RunningExample {
  url: string
  output: () => string
  /**
   * Sends `signal` (default SIGTERM) to the example's process group, as a terminal's Ctrl-C does;
   * resolves with pnpm's exit code (null when a signal killed it) once pnpm and the app are gone.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Starts `pnpm --dir examples/<name> start` exactly as a user would, with only `env` (plus
 * PATH and HOME), and waits for the line announcing its URL.
 */
export async function startExample(name: string, env: Record<string, string> = {}): Promise<RunningExample> {
  const port = await freePort()
  const child = spawn('pnpm', ['--dir', `examples/${name}`, 'start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match) resolve(match[1]!)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`example ${name} exited with ${code} before listening:\n${output}`)))
  })
  const url = await ready
  return { url, output: () => output, stop: (signal) => stop(child, signal) }
}

/** Runs an example to completion (for start-up failures) and returns its exit code and output. */
export async function runExample(name: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn('pnpm', ['--dir', `examples/${name}`, 'start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: String(await freePort()), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, output }
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code))
    // the whole process group: pnpm and the app it started
    process.kill(-child.pid!, signal)
  })
}

/**
 * The pid of the process listening on TCP `port` (IPv4 or IPv6), from /proc: the socket's inode
 * in /proc/net/tcp{,6}, then the process holding it among /proc/<pid>/fd. Undefined if none.
 */
export async function listenerPid(port: number): Promise<number | undefined> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      // local address ends in :PORT, state 0A is LISTEN
      if (fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A') inodes.add(fields[9]!)
    }
  }
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      if (inodes.has(target.replace(/^socket:\[(\d+)\]$/, '$1'))) return Number(pid)
    }
  }
  return undefined
}
