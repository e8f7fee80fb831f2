/**
 * How the instruction bench (bench/src/instructions.mjs) reads callgrind's dumps
 * (bench/src/callgrind.mjs): a function's inclusive instructions and calls are summed over the
 * call edges into it, names given once and then referred to by number, recursion counted once.
 * The text below is in callgrind's format as valgrind 3.19 writes it (compressed names, relative
 * positions), with a GC reached from two callers and recursing into itself.
 */
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module of the bench, without types
import { readDump } from '../bench/src/callgrind.mjs'

const DUMP = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
part: 2
thread: 1

events: Ir
summary: 10000

ob=(1) /usr/bin/node
fl=(1) ???
fn=(1) main
0 100
cfn=(2) v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace)
calls=2 0
0 3000
cfn=(3) v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral(int, unsigned long*, v8::internal::Isolate*)
calls=27 0
+2 2700

fn=(2)
0 1000
cfn=(2)
calls=1 0
0 500
cfn=(4) v8::internal::ScavengerCollector::CollectGarbage()
calls=2 0
* 1500

fn=(5) Builtins_CEntry
0 50
cfn=(2)
calls=1 0
0 700

totals: 10000
`

const PATTERNS = {
  gc: /^v8::internal::Heap::CollectGarbage\(/,
  scavenges: /^v8::internal::ScavengerCollector::CollectGarbage\(/,
  tick: /^v8::internal::Runtime_DefineKeyedOwnPropertyInLiteral\(/,
}

describe('readDump', () => {
  it('sums the call edges into a function from its callers, by name or by its number', () => {
    const dump = readDump(DUMP, PATTERNS)
    expect(dump.total).toBe(10_000)
    // main → GC (3000, 2 calls) and CEntry → GC (700, 1 call); GC → GC (500) is recursion, inside the 3000
    expect(dump.gc).toEqual({ instructions: 3700, calls: 3 })
    expect(dump.scavenges).toEqual({ instructions: 1500, calls: 2 })
    expect(dump.tick).toEqual({ instructions: 2700, calls: 27 })
  })

  it('reads a dump without the functions asked for as none of them', () => {
    expect(readDump('summary: 5\ntotals: 7\n', PATTERNS)).toEqual({ total: 7, gc: { instructions: 0, calls: 0 }, scavenges: { instructions: 0, calls: 0 }, tick: { instructions: 0, calls: 0 } })
  })
})
