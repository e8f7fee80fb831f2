#!/usr/bin/env node
// `pnpm demo [express|koa|fastify]`: starts one example (default express) with the embedded dev
// provider when no OAUTH_ISSUER is set. Runs `pnpm --dir examples/<framework> start`.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const FRAMEWORKS = ['express', 'koa', 'fastify']
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2).filter((arg) => arg !== '--')
const framework = args[0] ?? 'express'

if (args.length > 1 || !FRAMEWORKS.includes(framework)) {
  console.error(`usage: pnpm demo [${FRAMEWORKS.join('|')}]`)
  process.exit(2)
}
if (!existsSync(join(root, 'examples', framework, 'dist', 'server.js'))) {
  console.error(`examples/${framework} is not built yet: run \`pnpm build\` first.`)
  process.exit(1)
}

// the pnpm that runs this script (npm_execpath), else the one on PATH
const execPath = process.env.npm_execpath
const [command, prefix] = execPath && /pnpm/.test(execPath) && /\.[cm]?js$/.test(execPath) ? [process.execPath, [execPath]] : ['pnpm', []]
const windows = process.platform === 'win32'
// In its own process group, and signals go to the whole group: pnpm runs the example through
// `sh -c`, and a SIGTERM passed only to pnpm kills that shell and leaves the example running.
const child = spawn(command, [...prefix, '--dir', join(root, 'examples', framework), 'start'], {
  stdio: 'inherit',
  env: process.env,
  detached: !windows,
  shell: windows && command === 'pnpm',
})

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    try {
      if (windows) child.kill(signal)
      else process.kill(-child.pid, signal)
    } catch {
      // already gone
    }
  })
}
child.on('error', (error) => {
  console.error(`could not start pnpm: ${error.message}`)
  process.exit(1)
})
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)))
