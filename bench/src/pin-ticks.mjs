// Preloaded (`node --import`) into every process the instruction bench measures when
// BENCH_INSTRUCTIONS_PIN_TICKS=1: keeps one of Node's tick objects reachable for the life of the
// process, so that every process stays in the same state. Node 20 builds each
// `process.nextTick`'s tick object from a literal with computed keys; V8 keeps the maps after the
// first key only weakly, and a full GC that runs while no tick object is alive frees them. The next
// tick object then meets its define ICs with new maps and turns them megamorphic for good, and
// from then on every tick object is built through V8's runtime (~1,300 instructions for each of
// three properties). Whether that happens depends on when a start-up GC lands: some fresh
// processes of the same code run in that state and some do not (RESULTS.md, 2026-12-08). A kept
// tick object keeps its maps, and so the ICs, alive. The hook is enabled only for this one call.
import { createHook } from 'node:async_hooks'

let kept
const hook = createHook({
  init(_id, type, _trigger, resource) {
    if (type === 'TickObject') kept ??= resource
  },
}).enable()
process.nextTick(() => {})
hook.disable()
globalThis[Symbol.for('codegrant.bench.keptTick')] = kept
