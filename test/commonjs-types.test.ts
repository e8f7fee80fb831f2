/**
 * A CommonJS TypeScript project can import every package (issue 8 §4): tsc on a fixture with
 * `"type": "commonjs"`, once with `module: node16` (which resolved the ESM declarations and
 * failed with TS1479 before the packages shipped `index.d.cts`) and once with classic
 * `module: commonjs`. `skipLibCheck` is off, so the published declarations are checked too.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const FIXTURE = fileURLToPath(new URL('./fixtures/cjs-types', import.meta.url))
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc')

function tsc(project: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [TSC, '-p', project], { cwd: FIXTURE, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })))
}

describe('CommonJS TypeScript projects', () => {
  it.each(['tsconfig.node16.json', 'tsconfig.commonjs.json'])('%s: every package type-checks', async (project) => {
    expect(await tsc(project)).toEqual({ code: 0, output: '' })
  }, 60_000)
})
