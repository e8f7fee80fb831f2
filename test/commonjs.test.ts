import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

it('lets a CommonJS app require() and mount every adapter', async () => {
  const script = fileURLToPath(new URL('./fixtures/require-adapters.cjs', import.meta.url))
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [script], { cwd: fileURLToPath(new URL('.', import.meta.url)) })
  expect(stdout.trim().split('\n')).toEqual(['express function', 'koa function', 'fastify 401'])
  expect(stderr).not.toMatch(/Error/)
})
