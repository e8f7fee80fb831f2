#!/usr/bin/env node
// `pnpm docs:gen`: writes the generated sections of the package READMEs — every option (from the
// `SETTINGS` table and the `OAuthOptions` type) and every error code (from the
// `CodegrantErrorCodes` interface: its status and when it happens) — from the BUILT @codegrant/core (run
// `pnpm build` first), so the READMEs cannot drift from the code. `--check` writes nothing and
// exits 1 when a README is out of date; test/docs.test.ts runs the same check.
//
// A section sits between `<!-- docs:gen <name> -->` and `<!-- /docs:gen <name> -->`.
// A new error code needs its doc comment (when it happens) in `CodegrantErrorCodes`
// (packages/core/src/errors.ts); a new option needs a row in SETTINGS (with a variable) or a doc
// comment on its `OAuthOptions` field (without one).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const REPOSITORY = 'https://github.com/codegrant/codegrant'

/** The READMEs that carry the generated sections. */
export const TARGETS = ['packages/core/README.md', 'packages/express/README.md', 'packages/koa/README.md', 'packages/fastify/README.md']

/** The built @codegrant/core entry (JavaScript and declarations), as an ESM consumer resolves it. */
function coreEntry(root) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8'))
  const entry = manifest.exports?.['.']?.import ?? {}
  return { js: join(root, 'packages/core', entry.default ?? manifest.main), types: join(root, 'packages/core', entry.types ?? manifest.types) }
}

/** An exported type of the built core's declarations, followed through re-exports. */
function exportedType(checker, module, name) {
  const exported = checker.getExportsOfModule(module).find((symbol) => symbol.getName() === name)
  if (!exported) throw new Error(`@codegrant/core exports no ${name}`)
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
  return checker.getDeclaredTypeOfSymbol(symbol)
}

/** A doc comment as one line of Markdown: `{@link X}` becomes `X`. */
function oneLine(parts) {
  return ts.displayPartsToString(parts).replace(/\{@link\s+([^}\s|]+)[^}]*\}/g, '`$1`').replace(/\s+/g, ' ').trim()
}

/**
 * What the code says, read from the built package: `SETTINGS`, every `OAuthOptions` field with
 * its doc comment, and every `CodegrantErrorCode` with its status.
 */
export async function readCode(root = ROOT) {
  const entry = coreEntry(root)
  const core = await import(pathToFileURL(entry.js).href)
  const program = ts.createProgram([entry.types], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true, types: [] })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(entry.types)
  const module = source && checker.getSymbolAtLocation(source)
  if (!module) throw new Error(`docs-gen: cannot read ${entry.types} (run pnpm build first)`)
  const options = exportedType(checker, module, 'OAuthOptions').getProperties().map((property) => ({ name: property.getName(), doc: oneLine(property.getDocumentationComment(checker)) }))
  // each code's status is its member's type; the run-time status must agree (it does by type)
  const errors = exportedType(checker, module, 'CodegrantErrorCodes').getProperties().map((property) => {
    const code = property.getName()
    const status = new core.CodegrantError(code, '').status
    const declared = checker.getTypeOfSymbol(property).value
    if (declared !== status) throw new Error(`docs-gen: ${code} is declared ${declared} but answers ${status}`)
    return { code, status, when: oneLine(property.getDocumentationComment(checker)) }
  })
  return { settings: core.SETTINGS, options, errors }
}

/** A Markdown table cell: pipes escaped, one line. */
function cell(text) {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** The options table: every `OAuthOptions` field, its variable, default and meaning. */
export function optionsSection({ settings, options }) {
  const bySetting = new Map(settings.map((setting) => [setting.option, setting]))
  const missing = options.filter((option) => !bySetting.has(option.name) && !option.doc).map((option) => option.name)
  if (missing.length) throw new Error(`OAuthOptions fields with neither a SETTINGS row nor a doc comment: ${missing.join(', ')}`)
  const rows = options.map(({ name, doc }) => {
    const setting = bySetting.get(name)
    if (!setting) return `| \`${name}\` | — (option only) | — | ${cell(doc)} |`
    const [variable, ...aliases] = setting.env
    const variables = `\`${variable}\`${aliases.length ? ` (also ${aliases.map((alias) => `\`${alias}\``).join(', ')})` : ''}`
    const values = setting.values ? `: ${setting.values.map((value) => `\`${value}\``).join(', ')}` : ''
    const perProvider = setting.scope === 'provider' ? ' ◆' : ''
    // a value (a number, a boolean, a string), or in words when other settings decide it
    const shown = setting.default === undefined ? setting.computed : String(setting.default)
    return `| \`${name}\`${perProvider} | ${variables} | ${shown === undefined ? '—' : /^\S+$/.test(shown) ? `\`${shown}\`` : cell(shown)} | ${cell(setting.doc)}${values} |`
  })
  return [
    'Every option also has an environment variable, except where the table says "option only";',
    'options override the environment. ◆ marks a provider setting: with several providers',
    '(`providers`, `OAUTH_PROVIDERS`) each has its own, `OAUTH_<NAME>_…`. Each variable is explained',
    `in full in the [main README › Configuration](${REPOSITORY}/blob/main/README.md#configuration).`,
    '',
    '| option | variable | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

/** The errors table: every code, its HTTP status and when it happens. */
export function errorsSection({ errors }) {
  const undocumented = errors.filter(({ when }) => !when).map(({ code }) => code)
  if (undocumented.length) throw new Error(`error codes without a doc comment (when it happens) in CodegrantErrorCodes (packages/core/src/errors.ts): ${undocumented.join(', ')}`)
  return [
    'Start-up: `codegrant/config_invalid`, listing every problem. At run time every failure is a',
    '`CodegrantError` with a stable `code` (assert on it, not on the message) and the HTTP status the',
    'adapter answers with (`status`, `statusCode`; a 503 carries `Retry-After`); browsers get an HTML',
    'page, API clients JSON `{ "error", "code", "message" }`, never a stack trace:',
    '',
    '| code | status | when |',
    '| --- | --- | --- |',
    ...errors.map(({ code, status, when }) => `| \`${code}\` | ${status} | ${cell(when)} |`),
  ].join('\n')
}

/** `text` with each generated section replaced; throws when a README lacks a section's markers. */
export function render(text, sections, path = 'README') {
  let out = text
  for (const [name, body] of Object.entries(sections)) {
    const pattern = new RegExp(`(<!-- docs:gen ${name} -->)[\\s\\S]*?(<!-- /docs:gen ${name} -->)`)
    if (!pattern.test(out)) throw new Error(`${path} has no <!-- docs:gen ${name} --> … <!-- /docs:gen ${name} --> section`)
    out = out.replace(pattern, (_, open, close) => `${open}\n${body}\n${close}`)
  }
  return out
}

/** Each target README as it is and as it should be (`code`: what {@link readCode} read, if at hand). */
export async function generate(root = ROOT, code) {
  code ??= await readCode(root)
  const sections = { options: optionsSection(code), errors: errorsSection(code) }
  return TARGETS.map((path) => {
    const current = readFileSync(join(root, path), 'utf8')
    return { path, current, expected: render(current, sections, path) }
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const check = process.argv.includes('--check')
  const stale = []
  for (const { path, current, expected } of await generate()) {
    if (current === expected) continue
    stale.push(path)
    if (!check) writeFileSync(join(ROOT, path), expected)
  }
  if (check && stale.length) {
    console.error(`out of date (run pnpm docs:gen): ${stale.join(', ')}`)
    process.exit(1)
  }
  console.log(stale.length ? `${check ? 'out of date' : 'updated'}: ${stale.join(', ')}` : 'generated sections up to date')
}
