// A real redis-server for the bench: started on a free loopback port (no persistence), pinned
// to a CPU when asked, stopped at the end. redis-cli for INFO and MEMORY USAGE.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './system.mjs'

const INSTALL = 'the bench starts a real redis-server for its Redis rows: apt-get install -y redis-server redis-tools (Debian/Ubuntu, as root)'

function binary(name) {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/usr/sbin']) if (existsSync(join(dir, name))) return join(dir, name)
  throw new Error(`${name} is missing: ${INSTALL}`)
}

/**
 * Starts redis-server (`cpu`: pinned there with taskset). Returns its `url`, `pid`, `cli(...args)`
 * (redis-cli, synchronous, the reply as text), `info(section)` (INFO as an object) and `stop()`.
 */
export async function startRedis({ cpu } = {}) {
  const server = binary('redis-server')
  const cliBinary = binary('redis-cli')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'codegrant-bench-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning']
  const [command, argv] = cpu === undefined ? [server, args] : ['taskset', ['-c', String(cpu), server, ...args]]
  const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const cli = (...command) => execFileSync(cliBinary, ['-h', '127.0.0.1', '-p', String(port), ...command], { encoding: 'utf8', timeout: 30_000 }).trim()
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      if (cli('PING') === 'PONG') break
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} at start (${INSTALL})`)
    if (Date.now() > deadline) throw new Error('redis-server did not answer PING within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid, // taskset execs redis-server: the same process
    cli,
    /** INFO <section> as { field: value } (numbers where they are numbers). */
    info(section) {
      const fields = {}
      for (const line of cli('INFO', section).split('\n')) {
        const at = line.indexOf(':')
        if (at > 0) fields[line.slice(0, at)] = Number.isNaN(Number(line.slice(at + 1))) ? line.slice(at + 1).trim() : Number(line.slice(at + 1))
      }
      return fields
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
