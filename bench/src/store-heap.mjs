// Heap per live session in the memory store. Needs --expose-gc. Used by growth.mjs, and run on
// its own by main.mjs: `node --expose-gc src/store-heap.mjs` with BENCH_STORE_HEAP='{"count":N,"session":{…}}'
// (a real session record to copy), printing one `BENCH_RESULT {…}` line.
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { memoryStore } from '@codegrant/core'

/**
 * Fills a memory store sized for `count` sessions (its default bound is 10,000) with `count`
 * records made by `makeRecord(sid)`, each parsed from JSON as a store holds it (flat strings of
 * its own, nothing shared). Returns the store, the ids, the fill time and the heap per session.
 */
export function fillMemoryStore(count, makeRecord) {
  if (typeof globalThis.gc !== 'function') throw new Error('run node with --expose-gc')
  globalThis.gc()
  const store = memoryStore({ maxSessions: count })
  const base = process.memoryUsage().heapUsed
  const started = performance.now()
  const sids = new Array(count)
  for (let i = 0; i < count; i++) {
    sids[i] = randomBytes(18).toString('base64url')
    store.set(sids[i], JSON.parse(JSON.stringify(makeRecord(sids[i]))), 7 * 86400)
  }
  const fillMs = performance.now() - started
  globalThis.gc()
  if (store.get(sids[0]) === undefined) throw new Error(`the memory store did not keep all ${count} sessions`)
  // the ids array is the bench's, not the store's: one pointer per id, and the ids themselves (kept by the store too)
  const perSession = (process.memoryUsage().heapUsed - base - count * 8) / count
  return { store, sids, fillMs, perSession, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { count, session } = JSON.parse(process.env.BENCH_STORE_HEAP ?? '{}')
  const { fillMs, perSession, heapMiB } = fillMemoryStore(count, (sid) => ({ ...session, sid }))
  console.log(`BENCH_RESULT ${JSON.stringify({ count, fillMs, perSession, heapMiB, recordBytes: JSON.stringify(session).length })}`)
}
