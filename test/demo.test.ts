/**
 * `pnpm demo` as a user runs it in a terminal: Ctrl-C (SIGINT to the whole foreground process
 * group) or SIGTERM stops it cleanly, exit status 0, without pnpm's "ELIFECYCLE Command failed".
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { freePort } from './support/example.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('pnpm demo', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('stops on %s to its process group with exit 0 and no ELIFECYCLE', async (signal) => {
    const port = await freePort()
    const child = spawn('pnpm', ['demo'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let output = ''
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        if (/listening on http/.test(output)) resolve()
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', onData)
      void exited.then(() => reject(new Error(`pnpm demo exited before listening:\n${output}`)))
    })
    // a browser's keep-alive connection must not hold the shutdown
    const keepAlive = await fetch(`http://localhost:${port}/`, { headers: { connection: 'keep-alive' } })
    await keepAlive.text()
    process.kill(-child.pid!, signal)
    expect(await exited).toBe(0)
    expect(output).not.toContain('ELIFECYCLE')
  }, 60_000)
})

describe('a fresh clone', () => {
  it('links every bin at install time: no bin points into a build output that does not exist yet', async () => {
    const { readFileSync, existsSync, readdirSync } = await import('node:fs')
    const { join } = await import('node:path')
    for (const dir of readdirSync(join(ROOT, 'packages'))) {
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { bin?: Record<string, string> }
      for (const target of Object.values(manifest.bin ?? {})) {
        expect(target, `${dir}: ${target}`).not.toMatch(/(^|\/)dist\//)
        expect(existsSync(join(ROOT, 'packages', dir, target)), `${dir}: ${target}`).toBe(true)
      }
    }
  })
})
