/**
 * Adapters are written against `@codegrant/core/adapter` only (issue 19 §6), as tRPC holds its
 * adapters to `@trpc/server/http`: each adapter's source imports that entry and its framework,
 * the framework for its types only (it is a peer dependency; fastify-plugin is a dependency).
 * The entry works from ESM and CommonJS, and the app-facing entry no longer carries the contract.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import * as app from '@codegrant/core'
import * as adapter from '@codegrant/core/adapter'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const PACKAGES = fileURLToPath(new URL('../packages/', import.meta.url))

/** What each adapter may import: the adapter entry at run time, its framework for types. */
const ALLOWED: Record<string, { values: string[]; types: string[] }> = {
  express: { values: ['@codegrant/core/adapter'], types: ['@codegrant/core/adapter', 'express'] },
  koa: { values: ['@codegrant/core/adapter'], types: ['@codegrant/core/adapter', 'koa'] },
  fastify: { values: ['@codegrant/core/adapter', 'fastify-plugin'], types: ['@codegrant/core/adapter', 'fastify'] },
}

interface ModuleImport {
  specifier: string
  typeOnly: boolean
}

/** Every module a source file imports or re-exports from, including `import()` and `require()`. */
function importsOf(file: string): ModuleImport[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const found: ModuleImport[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const bindings = clause?.namedBindings
      const everyNameTyped = !clause?.name && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.every((element) => element.isTypeOnly)
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: clause?.isTypeOnly === true || everyNameTyped })
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly })
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ specifier: node.moduleReference.expression.text, typeOnly: node.isTypeOnly })
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      const [argument] = node.arguments
      found.push({ specifier: argument && ts.isStringLiteral(argument) ? argument.text : '<computed>', typeOnly: false })
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

describe('adapters import only @codegrant/core/adapter and their framework', () => {
  it.each(Object.keys(ALLOWED))('@codegrant/%s', (name) => {
    const dir = `${PACKAGES}${name}/src/`
    const files = readdirSync(dir).filter((file) => file.endsWith('.ts'))
    expect(files.length).toBeGreaterThan(0)
    const imports = files.flatMap((file) => importsOf(dir + file).map((found) => ({ ...found, file })))
    const allowed = ALLOWED[name]!
    const stray = imports.filter(({ specifier, typeOnly }) => !(typeOnly ? allowed.types : allowed.values).includes(specifier))
    expect(stray).toEqual([])
    expect(imports.some(({ specifier, typeOnly }) => specifier === '@codegrant/core/adapter' && !typeOnly)).toBe(true)
  })

  it('the check sees what it must refuse', () => {
    const file = fileURLToPath(new URL('./fixtures/stray-imports.ts', import.meta.url))
    expect(importsOf(file)).toEqual([
      { specifier: '@codegrant/core', typeOnly: false },
      { specifier: 'express', typeOnly: false },
      { specifier: 'koa', typeOnly: true },
      { specifier: '../../core/src/http.js', typeOnly: false },
      { specifier: 'node:http', typeOnly: false },
      { specifier: 'node:fs', typeOnly: false },
    ])
  })
})

describe('@codegrant/core/adapter', () => {
  it('carries the adapter contract, from ESM and CommonJS alike', () => {
    const contract = ['createAdapter', 'createCodegrant', 'guard', 'guardOptions', 'readBody', 'formParams', 'CodegrantError', 'isCodegrantError']
    expect(contract.filter((name) => typeof (adapter as Record<string, unknown>)[name] !== 'function')).toEqual([])
    const required = createRequire(import.meta.url)('@codegrant/core/adapter') as Record<string, unknown>
    // vitest's module graph is not Node's require cache: the same names, not the same objects
    expect(contract.filter((name) => typeof required[name] !== 'function')).toEqual([])
  })

  it('is apart from the app-facing entry, which keeps only the documented createCodegrant and guard (deprecated)', () => {
    const names = Object.keys(app)
    expect(names.filter((name) => ['createAdapter', 'readBody', 'formParams', 'guardOptions'].includes(name))).toEqual([])
    expect([app.createCodegrant, app.guard]).toEqual([adapter.createCodegrant, adapter.guard])
  })
})
