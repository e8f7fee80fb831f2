/**
 * The API reference (TypeDoc) builds from the packages' sources, as CI builds it with the tests:
 * `pnpm run docs` writes docs/api with a page for each package's public functions.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS } from '@codegrant/core'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('API reference', () => {
  it('pnpm run docs builds it without errors', async () => {
    const child = spawn('pnpm', ['run', 'docs'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect({ code, errors: /Found (\d+) errors/.exec(output)?.[1] }, output).toEqual({ code: 0, errors: '0' })
    for (const page of ['_codegrant_express.oauth', '_codegrant_koa.requireAuth', '_codegrant_core.index.doctor', '_codegrant_core.adapter.createAdapter', '_codegrant_testing.startTestProvider']) {
      expect(existsSync(`${ROOT}docs/api/functions/${page}.html`), page).toBe(true)
    }
    expect(readFileSync(`${ROOT}docs/api/functions/_codegrant_express.oauth.html`, 'utf8')).toContain('Mounts codegrant on an Express 4 or 5 app')
  }, 240_000)
})

describe('README', () => {
  it('documents every variable of the settings table', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8')
    const missing = SETTINGS.flatMap((setting) => setting.env).filter((name) => !readme.includes(`\`${name}\``))
    expect(missing).toEqual([])
  })
})
