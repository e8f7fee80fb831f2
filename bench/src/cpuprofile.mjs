// Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went: self time by
// category (codegrant core, adapters, the framework, Node's HTTP, crypto, GC, idle) and by
// function, and the inclusive (top-down) time of chosen functions. With `--requests N`, every
// figure is also given per request (µs). `node src/cpuprofile.mjs file.cpuprofile [--requests N] [--top 30]`;
// `analyse(profile)` gives the same figures to other scripts (src/profile.mjs).
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

function category(frame) {
  const { url, functionName } = frame.callFrame
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(garbage collector)') return 'GC'
  if (functionName === '(program)') return 'program (native, unattributed)'
  if (/packages\/core\//.test(url)) return 'codegrant core'
  if (/packages\/(express|koa|fastify)\//.test(url)) return 'codegrant adapter'
  if (/packages\/redis\//.test(url)) return 'codegrant redis'
  if (/node_modules\/(\.pnpm\/)?cookie[@/]/.test(url)) return 'cookie (parse)'
  if (/servers\.mjs/.test(url)) return 'app (bench servers.mjs)'
  const pkg = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/)
  if (pkg) return `pkg ${pkg[1]}`
  if (url.startsWith('node:internal/crypto') || url.startsWith('node:crypto')) return 'node crypto'
  if (url.startsWith('node:') || url === '') return functionName && url === '' ? `native ${functionName.slice(0, 40)}` : `node ${url.replace(/^node:(internal\/)?/, '').split('/')[0]}`
  return url
}

// inclusive time of every function whose name matches (counted once per sample stack)
const WANTED = /^(codegrantMiddleware|codegrantGuard|guard|attach|load|open|read|decode|userOf|sessionUser|parseCookies|readChunked|decide|toCore|send|renew|match|get user|floorMiddleware|floorGuard|handleErrors|json|stringify)$/

/**
 * Self time (µs) by category and by function, and the inclusive time of codegrant's and the
 * floor's main functions, counted from the first request parsed (start-up is left out).
 */
export function analyse(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stackHas = (id, name) => {
    for (let at = id; at !== undefined; at = parent.get(at)) if (nodes.get(at).callFrame.functionName === name) return true
    return false
  }
  const first = profile.samples.findIndex((id) => stackHas(id, 'parserOnIncoming'))
  const self = new Map()
  profile.samples.forEach((id, i) => { if (first !== -1 && i >= first) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)) })
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byCategory = new Map()
  const byFunction = new Map()
  for (const [id, us] of self) {
    const n = nodes.get(id)
    const cat = category(n)
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + us)
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|packages)\//, '')}:${n.callFrame.lineNumber + 1}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  }
  const inclusive = new Map()
  for (const [id, us] of self) {
    const seen = new Set()
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at).callFrame
      if (!WANTED.test(f.functionName) || !/packages\/|servers\.mjs/.test(f.url)) continue
      const key = `${f.functionName} ${f.url.replace(/^.*\/(packages)\//, '')}:${f.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + us)
    }
  }
  return { total, busy: total - (byCategory.get('idle') ?? 0), byCategory, byFunction, inclusive }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const file = args[0]
  const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback)
  const requests = option('--requests', 0)
  const top = option('--top', 30)
  const { total, busy, byCategory, byFunction, inclusive } = analyse(JSON.parse(readFileSync(file, 'utf8')))
  const fmt = (us) => `${(us / 1000).toFixed(1).padStart(8)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%${requests ? ` ${(us / requests).toFixed(2).padStart(7)} µs/req` : ''}`
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy${requests ? `, ${requests} requests → ${(busy / requests).toFixed(2)} µs busy/req` : ''}`)
  console.log('\nself time by category')
  for (const [cat, us] of [...byCategory].sort((a, b) => b[1] - a[1])) console.log(`${fmt(us)}  ${cat}`)
  console.log(`\nself time, top ${top} functions`)
  for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(us)}  ${fn}`)
  console.log('\ninclusive time (top-down) of codegrant and floor functions')
  for (const [fn, us] of [...inclusive].sort((a, b) => b[1] - a[1])) console.log(`${fmt(us)}  ${fn}`)
}
