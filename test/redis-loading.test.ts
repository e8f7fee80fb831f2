/**
 * `OAUTH_SESSION_STORE=redis` from the environment alone: `@codegrant/core` does not depend on
 * `@codegrant/redis` (which depends on the core), so the core finds it where the app installed
 * it. The layout below is pnpm's: the core in a directory of its own with its dependencies next
 * to it, the app's node_modules holding a link to the @codegrant/redis it declared.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ENV = {
  OAUTH_ISSUER: 'https://id.example.com',
  OAUTH_CLIENT_ID: 'app',
  OAUTH_CLIENT_SECRET: 's3cret',
  OAUTH_BASE_URL: 'https://app.example.com',
  OAUTH_COOKIE_SECRET: 'x'.repeat(32),
  OAUTH_SESSION_STORE: 'redis',
  OAUTH_REDIS_URL: 'redis://127.0.0.1:6390',
}

describe('OAUTH_SESSION_STORE=redis finds @codegrant/redis where the app installed it', () => {
  let dir: string
  let core: string
  /** Writes a script that resolves the configuration with the core from its own store directory. */
  const script = (where: string) => {
    mkdirSync(where, { recursive: true })
    const file = join(where, 'start.mjs')
    const source = `
      const { resolveConfig } = await import(${JSON.stringify(join(core, 'dist/index.js'))})
      try {
        const config = resolveConfig({ logger: { warn() {}, error() {} } })
        console.log(config.sessionStore, config.redis.address)
      } catch (error) {
        console.log(error.code, error.message)
      }`
    writeFileSync(file, source)
    return file
  }
  const run = (file: string, cwd: string) => {
    const result = spawnSync(process.execPath, [file], { cwd, env: { PATH: process.env.PATH ?? '', ...ENV }, encoding: 'utf8', timeout: 15_000 })
    return `${result.stdout}${result.stderr}`.trim()
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'codegrant-redis-'))
    // the core (as built) in a directory of its own, its dependencies beside it, no @codegrant/redis
    core = join(dir, 'store/node_modules/@codegrant/core')
    mkdirSync(core, { recursive: true })
    for (const part of ['dist', 'package.json']) cpSync(join(ROOT, 'packages/core', part), join(core, part), { recursive: true })
    for (const dependency of Object.keys(JSON.parse(readFileSync(join(core, 'package.json'), 'utf8')).dependencies)) {
      // a scoped dependency (@opentelemetry/api) needs its scope's directory first
      const link = join(dir, 'store/node_modules', dependency)
      mkdirSync(dirname(link), { recursive: true })
      symlinkSync(realpathSync(join(ROOT, 'packages/core/node_modules', dependency)), link, 'dir')
    }
    // the app: @codegrant/redis in its own node_modules
    mkdirSync(join(dir, 'app/node_modules/@codegrant'), { recursive: true })
    writeFileSync(join(dir, 'app/package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
    symlinkSync(join(ROOT, 'packages/redis'), join(dir, 'app/node_modules/@codegrant/redis'), 'dir')
    writeFileSync(join(dir, 'elsewhere.json'), '{}')
  })
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('from the app’s entry script, whatever the working directory', () => {
    expect(run(script(join(dir, 'app')), dir)).toBe('redis 127.0.0.1:6390')
  })

  it('from the app’s working directory (codegrant doctor run from the app, whose script is the core’s)', () => {
    expect(run(script(join(dir, 'tools')), join(dir, 'app'))).toBe('redis 127.0.0.1:6390')
  })

  it('and when the app has not installed it, a configuration error that names the package to install', () => {
    const output = run(script(join(dir, 'tools')), join(dir, 'tools'))
    expect(output).toContain('codegrant/config_invalid')
    expect(output).toContain('OAUTH_SESSION_STORE=redis needs the @codegrant/redis package installed in your app (next to your adapter): npm install @codegrant/redis')
  })
})
