/**
 * The documentation matches the code: the API reference (TypeDoc) builds from the packages'
 * sources without a warning, with the guides as pages (`pnpm run docs` writes docs/api); the
 * READMEs list every setting and error code the built core has; every relative link resolves.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { API_SETTINGS, SETTINGS } from '@codegrant/core'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { errorsSection, generate, optionsSection, readCode } from '../scripts/docs-gen.mjs'
import { deadLinks, REPOSITORY } from './support/markdown-links.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

describe('API reference', () => {
  it('pnpm run docs builds it with no warning (typedoc validation, links and anchors included), the Redis package and the guides as pages', async () => {
    rmSync(`${ROOT}docs/api`, { recursive: true, force: true })
    const child = spawn('pnpm', ['run', 'docs'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    // treatWarningsAsErrors: a warning (a broken {@link}, a missing anchor, an unhighlighted block) fails the build
    expect({ code, warnings: output.split('\n').filter((line) => /\[(warning|error)\]/.test(line)) }, output).toEqual({ code: 0, warnings: [] })
    const api = `${ROOT}docs/api`
    for (const page of ['_codegrant_express.oauth', '_codegrant_koa.requireAuth', '_codegrant_core.index.doctor', '_codegrant_core.adapter.createAdapter', '_codegrant_testing.startTestProvider', '_codegrant_redis.redisStore']) {
      expect(existsSync(`${api}/functions/${page}.html`), page).toBe(true)
    }
    expect(readFileSync(`${api}/functions/_codegrant_express.oauth.html`, 'utf8')).toContain('Mounts codegrant on an Express 4 or 5 app')
    // every guide is a page of the site, and no guide is copied as a raw .md file for a link to it
    const guides = ['README.md', 'SECURITY.md', ...readdirSync(`${ROOT}docs`, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.md') && !path.startsWith('api')).map((path) => `docs/${path}`)]
    const pages = readdirSync(`${api}/documents`)
    expect(guides.filter((guide) => !pages.includes(`${guide.replace(/\.md$/, '').replaceAll('/', '_')}.html`))).toEqual([])
    expect(readdirSync(`${api}/media`).filter((file) => file.endsWith('.md'))).toEqual([])
    expect(readFileSync(`${api}/documents/docs_README.html`, 'utf8')).toContain('href="docs_deployment.html"')
  }, 240_000)
})

describe('README', () => {
  it('documents every variable of the settings table', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8')
    const missing = SETTINGS.flatMap((setting) => setting.env).filter((name) => !readme.includes(`\`${name}\``))
    expect(missing).toEqual([])
  })

  it("documents every API setting as OAUTH_<API>_…", () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8')
    const missing = API_SETTINGS.map((setting) => setting.env[0]!.replace(/^OAUTH_/, 'OAUTH_<API>_')).filter((name) => !readme.includes(`\`${name}\``))
    expect(missing).toEqual([])
  })
})

describe('package READMEs', () => {
  let facts: ReturnType<typeof readCode> | undefined
  /** What the built core says, read once (a TypeScript program over its declarations). */
  const code = () => (facts ??= readCode())

  it('list every option and every error code with its status, as pnpm docs:gen writes them from the built core', async () => {
    const stale = (await generate(undefined, await code())).filter(({ current, expected }) => current !== expected).map(({ path }) => path)
    expect(stale, 'out of date: run pnpm build && pnpm docs:gen').toEqual([])
    const core = readFileSync(`${ROOT}packages/core/README.md`, 'utf8')
    const { errors, options } = await code()
    expect(errors.length).toBeGreaterThanOrEqual(28)
    expect(errors.filter(({ code, status }) => !core.includes(`| \`${code}\` | ${status} |`))).toEqual([])
    expect(options.filter(({ name }) => !core.includes(`| \`${name}\``))).toEqual([])
  })

  it('cannot be generated while an error code has no description or an option neither a variable nor a doc comment', async () => {
    const facts = await code()
    expect(() => errorsSection({ errors: [...facts.errors, { code: 'codegrant/new_failure', status: 500 }] })).toThrow('codegrant/new_failure')
    expect(() => optionsSection({ settings: facts.settings, options: [...facts.options, { name: 'newOption', doc: '' }] })).toThrow('newOption')
  })

  it('every error code is a member of CodegrantErrorCodes with its status as its type and a doc comment saying when it happens, which the tables show', async () => {
    const { errors } = await code()
    expect(errors.length).toBeGreaterThanOrEqual(28)
    expect(errors.filter(({ when }) => !when).map(({ code }) => code)).toEqual([])
    expect(errors.find(({ code }) => code === 'codegrant/provider_timeout')).toEqual({ code: 'codegrant/provider_timeout', status: 504, when: 'The provider did not answer within `OAUTH_HTTP_TIMEOUT`.' })
    expect(readFileSync(`${ROOT}packages/express/README.md`, 'utf8')).toContain('| `codegrant/provider_timeout` | 504 | The provider did not answer within `OAUTH_HTTP_TIMEOUT`. |')
  })

  it('every OAuthOptions field has a doc comment, so the API reference describes it', async () => {
    const { options } = await code()
    expect(options.filter(({ doc }) => doc === '').map(({ name }) => name)).toEqual([])
  })
})

describe('API documentation', () => {
  /** The `@see` links of the public functions (as the built declarations carry them), by `package › name`. */
  const seeLinks = (): Record<string, string[]> => {
    const entries = ['core', 'express', 'koa', 'fastify', 'testing'].map((dir) => `${ROOT}packages/${dir}/dist/index.d.ts`)
    const program = ts.createProgram(entries, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true, types: [] })
    const checker = program.getTypeChecker()
    const exportsOf = (file: string) => checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!)
    const sees = (symbol: ts.Symbol) => symbol.getJsDocTags(checker).filter((tag) => tag.name === 'see').map((tag) => ts.displayPartsToString(tag.text))
    const found: Record<string, string[]> = {}
    for (const [index, file] of entries.entries()) {
      const dir = ['core', 'express', 'koa', 'fastify', 'testing'][index]!
      for (const symbol of exportsOf(file)) {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
        if (dir === 'core' && symbol.getName() === 'OAuthRequestState') {
          for (const member of checker.getDeclaredTypeOfSymbol(target).getProperties()) found[`core › OAuthRequestState.${member.getName()}`] = sees(member)
        } else found[`${dir} › ${symbol.getName()}`] = sees(target)
      }
    }
    return found
  }

  it('the public functions link the RFC or OpenID section they implement (@see), as oauth4webapi does', () => {
    const links = seeLinks()
    const required = [
      ...['express', 'koa', 'fastify'].flatMap((dir) => [`${dir} › oauth`, `${dir} › requireAuth`]),
      ...['accessToken', 'fetch', 'refresh', 'userinfo', 'login'].map((name) => `core › OAuthRequestState.${name}`),
      'testing › startTestProvider',
    ]
    const spec = /^\[[^\]]+\]\((https:\/\/www\.rfc-editor\.org\/rfc\/rfc\d+\.html|https:\/\/openid\.net\/specs\/[\w.-]+\.html)(#[\w.-]+)?\)/
    expect(required.filter((name) => !(links[name] ?? []).some((see) => spec.test(see)))).toEqual([])
  })
})

describe('links', () => {
  /** README.md, docs/**\/*.md (the generated API site aside) and the packages' READMEs. */
  const documents = (): string[] => [
    'README.md',
    ...readdirSync(`${ROOT}docs`, { recursive: true, encoding: 'utf8' }).filter((path) => path.endsWith('.md') && !path.startsWith('api')).map((path) => `docs/${path}`),
    ...readdirSync(`${ROOT}packages`).map((dir) => `packages/${dir}/README.md`).filter((path) => existsSync(`${ROOT}${path}`)),
  ]

  it('every relative link of the documentation leads to a file and a heading that exist', () => {
    expect(documents().length).toBeGreaterThan(10)
    expect(documents().flatMap((file) => deadLinks(ROOT, file))).toEqual([])
  })

  it('the check sees a missing file, a missing heading, a heading only inside code, and accepts what exists', () => {
    const markdown = [
      '# Title', '## Step one: `doctor`', '## Step one: `doctor`', '```sh', '# not a heading', '```',
      '[a](nowhere.md) [b](README.md#no-such-heading) [c](#not-a-heading) [d](#title) [e](#step-one-doctor-1)',
      `[f](README.md#configuration) [g](${REPOSITORY}/blob/main/docs/none.md) [h](https://example.com/x) \`[i](in-code.md)\``,
    ].join('\n')
    expect(deadLinks(ROOT, 'example.md', markdown)).toEqual([
      'example.md: nowhere.md → no nowhere.md',
      'example.md: README.md#no-such-heading → no heading #no-such-heading in README.md',
      'example.md: #not-a-heading → no heading #not-a-heading in example.md',
      `example.md: ${REPOSITORY}/blob/main/docs/none.md → no docs/none.md`,
    ])
  })
})
