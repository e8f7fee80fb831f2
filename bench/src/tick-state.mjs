// The tick-object state of RESULTS.md (2026-12-08), on its own: `node --expose-gc src/tick-state.mjs
// <full GCs> [pin]`. Warms `process.nextTick` up, lets every tick object die, runs that many full
// GCs, then times 2,000,000 ticks. On Node 20 (V8 11.3), 0 GCs: ~60 ns a tick; 3 GCs: ~270 ns,
// for the rest of the process (the maps the literal's define ICs saw are freed, the ICs go
// megamorphic, and every tick object is built through V8's runtime). `pin` first loads
// src/pin-ticks.mjs, which keeps one tick object alive: ~60 ns again.
const gcs = Number(process.argv[2] ?? 0)
if (process.argv[3] === 'pin') await import('./pin-ticks.mjs')
if (gcs > 0 && typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')

const TICKS = 2_000_000
const BATCH = 1000
const nothing = () => {}
const ticks = (total) => new Promise((resolve) => {
  let left = total
  const batch = () => {
    for (let i = 0; i < BATCH; i++) process.nextTick(nothing)
    left -= BATCH
    if (left > 0) setImmediate(batch)
    else resolve()
  }
  batch()
})

await ticks(200_000) // nextTick optimized, its ICs monomorphic
await new Promise((resolve) => setTimeout(resolve, 10)) // no tick object alive now
for (let i = 0; i < gcs; i++) globalThis.gc()
const started = process.hrtime.bigint()
await ticks(TICKS)
const ns = Number(process.hrtime.bigint() - started) / TICKS
console.log(`${gcs} full GC(s)${process.argv[3] === 'pin' ? ', one tick object kept' : ''}: ${ns.toFixed(1)} ns per tick`)
