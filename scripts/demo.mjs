#!/usr/bin/env node
// `pnpm demo [express|koa|fastify]`: starts one example (default express) with the embedded dev
// provider when no OAUTH_ISSUER is set. Runs `node dist/server.js` in examples/<framework>.
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

// The example runs as `node dist/server.js` directly, not through a second `pnpm start`: a pnpm
// that receives Ctrl-C reports "ELIFECYCLE Command failed" even when its script exits 0.
// In its own process group, and signals go to the whole group.
const windows = process.platform === 'win32'
const child = spawn(process.execPath, [join('dist', 'server.js')], {
  cwd: join(root, 'examples', framework),
  stdio: 'inherit',
  env: process.env,
  detached: !windows,
})

let signalled = false
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    signalled = true
    try {
      if (windows) child.kill(signal)
      else process.kill(-child.pid, signal)
    } catch {
      // already gone
    }
  })
}
child.on('error', (error) => {
  console.error(`could not start the example: ${error.message}`)
  process.exit(1)
})
// stopped on purpose (Ctrl-C, SIGTERM): a clean exit 0, so pnpm reports no failure
child.on('exit', (code, signal) => process.exit(signalled ? 0 : (code ?? 128 + (constants.signals[signal] ?? 0))))
