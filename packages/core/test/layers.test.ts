import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The core's layers (docs/architecture.md): each module imports only from its own layer and the
// layers below it, and no import circle exists, type-only imports included (a circle of types is
// still a circle a reader has to untangle).

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../src')

/** The layers, bottom first: a module's layer is the first whose pattern matches its path. */
const LAYERS: readonly { readonly name: string; readonly modules: RegExp }[] = [
  { name: 'base', modules: /^(errors|clock|json|single-flight|return-to|failures|session-types|telemetry)\.ts$/ },
  { name: 'config', modules: /^config\// },
  { name: 'http', modules: /^(http|diagnostics)\.ts$/ },
  { name: 'session', modules: /^session\// },
  { name: 'provider', modules: /^provider\// },
  { name: 'protocol steps', modules: /^flow\// },
  { name: 'engine', modules: /^(context|providers|wallet|api-challenge)\.ts$/ },
  { name: 'routes', modules: /^routes\// },
  { name: 'hub', modules: /^(request-state|sessions|guard|create-engine|dispatch|codegrant|create-adapter|adapter|index|doctor|cli)\.ts$/ },
]

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return modules(path)
    return path.endsWith('.ts') ? [relative(SRC, path)] : []
  })
}

/** Every relative import and re-export of a module (static, `import type` included), as module paths. */
function importsOf(module: string): string[] {
  const source = readFileSync(join(SRC, module), 'utf8')
  const found = source.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/gm)
  return [...found].map((match) => normalize(join(dirname(module), (match[1] ?? match[2] ?? '').replace(/\.js$/, '.ts'))))
}

const layerOf = (module: string) => LAYERS.findIndex(({ modules }) => modules.test(module))
const all = modules(SRC)
const graph = new Map(all.map((module) => [module, importsOf(module)]))

describe('the core\'s layers', () => {
  it('every module is in a layer, and every import is to a module that exists', () => {
    expect(all.filter((module) => layerOf(module) === -1)).toEqual([])
    expect([...graph].flatMap(([from, to]) => to.filter((target) => !graph.has(target)).map((target) => `${from} → ${target}`))).toEqual([])
  })

  it('no module imports from a layer above its own', () => {
    const upwards = [...graph].flatMap(([from, to]) =>
      to.filter((target) => layerOf(target) > layerOf(from)).map((target) => `${from} (${LAYERS[layerOf(from)]?.name}) → ${target} (${LAYERS[layerOf(target)]?.name})`),
    )
    expect(upwards).toEqual([])
  })

  it('docs/architecture.md names every module and draws these layers, top first', () => {
    const doc = readFileSync(join(SRC, '../../../docs/architecture.md'), 'utf8')
    const section = doc.slice(doc.indexOf("## The core's layers"))
    expect(all.filter((module) => !new RegExp(`\\b${basename(module, '.ts')}\\b`).test(section))).toEqual([])
    const diagram = section.slice(section.indexOf('```'), section.indexOf('```', section.indexOf('```') + 3))
    const firstWords = new Set(LAYERS.map(({ name }) => name.split(' ')[0]))
    const drawn = [...diagram.matchAll(/^ {2}(\w+)/gm)].map((match) => match[1]).filter((word) => firstWords.has(word))
    expect(drawn).toEqual(LAYERS.map(({ name }) => name.split(' ')[0]).reverse())
  })

  it('no import circle', () => {
    const circles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const path: string[] = []
    const visit = (module: string) => {
      state.set(module, 'open')
      path.push(module)
      for (const target of graph.get(module) ?? []) {
        if (state.get(target) === 'open') circles.push([...path.slice(path.indexOf(target)), target].join(' → '))
        else if (!state.has(target)) visit(target)
      }
      path.pop()
      state.set(module, 'done')
    }
    for (const module of all) if (!state.has(module)) visit(module)
    expect(circles).toEqual([])
  })
})
