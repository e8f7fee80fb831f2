/**
 * The packages as they will be published (issue 25 §2), checked the way oauth4webapi checks its
 * own in CI: every publishable package is packed with `pnpm pack` into a temporary directory,
 * and the tarball must pass publint (suggestions and warnings count) and are-the-types-wrong
 * (every resolution mode: node10, node16 from CommonJS and from ESM, bundler). Each tarball
 * carries LICENSE and README.md however it is packed (npm leaves out what pnpm would add from the
 * workspace root), its package.json says where the code and the issues are, and its README links
 * only to absolute addresses that exist (the registry renders relative links dead).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { afterAll, describe, expect, it } from 'vitest'
import { deadLinks as brokenLinks, links, REPOSITORY } from './support/markdown-links.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)

/**
 * are-the-types-wrong rules deliberately ignored, per package, with the reason. Nothing else is:
 * a new problem anywhere fails the test.
 */
const ATTW_IGNORED: Record<string, Record<string, string>> = {
  fastify: {
    'false-export-default':
      "dist/index.cjs is `module.exports = require('./index.js')`, and require() of an ES module gives its namespace, " +
      'which carries `__esModule: true` and `default` (the plugin). So the `export default` of index.d.cts is what ' +
      "TypeScript's CommonJS output reads at run time (`require(…).default`, or through `__importDefault`, which keeps a " +
      'module marked `__esModule`). attw sees a bare `module.exports =` and not the marker; "the CommonJS default is the plugin" below checks it.',
  },
}

interface PackageJson {
  name: string
  private?: boolean
  repository?: { type?: string; url?: string; directory?: string }
  homepage?: string
  bugs?: { url?: string }
  publishConfig?: { access?: string }
}

const manifest = (dir: string): PackageJson => JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as PackageJson
const PUBLISHED = readdirSync(join(ROOT, 'packages')).filter((dir) => existsSync(join(ROOT, 'packages', dir, 'package.json')) && !manifest(dir).private)

const scratch = mkdtempSync(join(tmpdir(), 'codegrant-pack-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** `pnpm pack` of one package into its own temporary directory: the tarball's path. */
async function pack(dir: string): Promise<string> {
  const destination = mkdtempSync(join(scratch, `${dir}-`))
  await run('pnpm', ['pack', '--pack-destination', destination], { cwd: join(ROOT, 'packages', dir) })
  const [tarball] = readdirSync(destination).filter((file) => file.endsWith('.tgz'))
  if (!tarball) throw new Error(`pnpm pack wrote no tarball for packages/${dir}`)
  return join(destination, tarball)
}

/**
 * What are-the-types-wrong finds wrong with a tarball, the `ignored` rules aside: nothing when it
 * passes (exit 0), else every problem of its JSON report (which lists the ignored ones too).
 */
async function typesProblems(tarball: string, ignored: string[]): Promise<unknown[]> {
  const cli = require.resolve('@arethetypeswrong/cli/package.json')
  const { bin } = JSON.parse(readFileSync(cli, 'utf8')) as { bin: { attw: string } }
  const args = [join(cli, '..', bin.attw), tarball, '--format', 'json', ...(ignored.length ? ['--ignore-rules', ...ignored] : [])]
  try {
    await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 })
    return []
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    if (!stdout.startsWith('{')) return [stderr || String(error)]
    return (JSON.parse(stdout) as { analysis: { problems: unknown[] } }).analysis.problems
  }
}

/** The paths in a tarball (`package/…` stripped). */
async function contents(tarball: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', tarball])
  return stdout.trim().split('\n').map((path) => path.replace(/^package\//, ''))
}

/**
 * What is wrong with a README's links on the registry: relative ones (rendered dead there), and
 * links into the repository that lead nowhere (the documentation's own link check, support/markdown-links.ts).
 */
function deadLinks(readme: string): string[] {
  const found = links(readme).filter((link) => !link.startsWith('#'))
  const relativeLinks = found.filter((link) => !/^https?:\/\//.test(link)).map((link) => `${link}: relative (dead on the registry)`)
  const intoRepository = found.filter((link) => link.startsWith(`${REPOSITORY}/`)).map((link) => `[](${link})`).join('\n')
  return [...relativeLinks, ...brokenLinks(ROOT, 'README.md', intoRepository)]
}

describe('packages as published', () => {
  it('are the seven publishable packages', () => {
    expect(PUBLISHED.sort()).toEqual(['core', 'dev-provider', 'express', 'fastify', 'koa', 'redis', 'testing'])
  })

  describe.each(PUBLISHED)('@codegrant/%s', (dir) => {
    let tarball: Promise<string> | undefined
    const packed = () => (tarball ??= pack(dir))

    it('passes publint on the packed tarball', async () => {
      const file = readFileSync(await packed())
      const { messages, pkg } = await publint({ pack: { tarball: file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) }, level: 'suggestion', strict: true })
      expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`)).toEqual([])
    }, 60_000)

    it('passes are-the-types-wrong on the packed tarball', async () => {
      expect(await typesProblems(await packed(), Object.keys(ATTW_IGNORED[dir] ?? {}))).toEqual([])
    }, 60_000)

    it('carries LICENSE and README.md whether packed by pnpm or npm', async () => {
      expect(await contents(await packed())).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']))
      const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: join(ROOT, 'packages', dir) })
      const [npm] = JSON.parse(stdout) as [{ files: { path: string }[] }]
      expect(npm.files.map((entry) => entry.path)).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']))
      expect(readFileSync(join(ROOT, 'packages', dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(ROOT, 'LICENSE'), 'utf8'))
    }, 60_000)

    it('is published public (a scoped package is restricted unless it says so: its first npm publish would fail)', () => {
      expect(manifest(dir).publishConfig?.access).toBe('public')
    })

    it('says where its code, home page and issues are', () => {
      const { repository, homepage, bugs } = manifest(dir)
      expect({ repository, homepage, bugs }).toEqual({
        repository: { type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${dir}` },
        homepage: `${REPOSITORY}/tree/main/packages/${dir}#readme`,
        bugs: { url: `${REPOSITORY}/issues` },
      })
    })

    it('links its README only to absolute addresses that exist', () => {
      expect(deadLinks(readFileSync(join(ROOT, 'packages', dir, 'README.md'), 'utf8'))).toEqual([])
    })
  })

  it('are each named in the release checklist (docs/publishing.md), which says to publish with pnpm', () => {
    const checklist = readFileSync(join(ROOT, 'docs/publishing.md'), 'utf8')
    expect(PUBLISHED.filter((dir) => !checklist.includes(`\`${manifest(dir).name}\``))).toEqual([])
    expect(checklist).toContain('`pnpm publish -r`')
    // what pnpm rewrites and npm would not: the reason the checklist says pnpm
    expect(PUBLISHED.filter((dir) => readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8').includes('"workspace:'))).not.toEqual([])
  })

  it('the link check sees a relative link, a missing file and a missing heading', () => {
    expect(deadLinks(`[a](../../README.md) \`<a href="/in-code">\` [b](${REPOSITORY}/blob/main/nowhere.md) [c](${REPOSITORY}/blob/main/README.md#no-such-heading) [d](${REPOSITORY}/blob/main/README.md#configuration) [e](#local)`)).toEqual([
      '../../README.md: relative (dead on the registry)',
      `README.md: ${REPOSITORY}/blob/main/nowhere.md → no nowhere.md`,
      `README.md: ${REPOSITORY}/blob/main/README.md#no-such-heading → no heading #no-such-heading in README.md`,
    ])
  })

  it('the CommonJS default is the plugin (the reason attw\'s false-export-default is ignored for @codegrant/fastify)', () => {
    const fastify = require('@codegrant/fastify') as { __esModule?: unknown; default?: unknown; oauth?: unknown }
    expect(fastify.__esModule).toBe(true)
    expect(typeof fastify.default).toBe('function')
    expect(fastify.default).toBe(fastify.oauth)
  })
})

describe('workspace packages', () => {
  it('depend on each other without a cycle (the core does not declare @codegrant/redis), and no cycle is silenced', () => {
    const folders = ['packages', 'examples'].flatMap((parent) => readdirSync(join(ROOT, parent)).map((name) => join(ROOT, parent, name)))
    const manifests = [...folders, join(ROOT, 'bench'), join(ROOT, 'test')].map((folder) => JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')))
    const names = new Set(manifests.map((manifest) => manifest.name))
    const edges = new Map<string, string[]>(
      manifests.map((manifest) => {
        const declared = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'].flatMap((field) => Object.keys(manifest[field] ?? {}))
        return [manifest.name, declared.filter((name) => names.has(name))]
      }),
    )
    const cycles: string[] = []
    const visit = (name: string, path: string[]) => {
      if (path.includes(name)) return void cycles.push([...path.slice(path.indexOf(name)), name].join(' → '))
      for (const next of edges.get(name) ?? []) visit(next, [...path, name])
    }
    for (const name of names) visit(name, [])
    expect([...new Set(cycles)]).toEqual([])
    expect(readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8')).not.toMatch(/ignoreWorkspaceCycles/)
  })
})
