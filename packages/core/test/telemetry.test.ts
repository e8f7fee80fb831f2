import { describe, expect, it } from 'vitest'
import { instruments, observeStoreCall, traced, withTraceContext } from '../src/telemetry.js'

// With no OpenTelemetry SDK registered (this file registers none), codegrant's telemetry adds
// nothing of its own to what it wraps: the API's no-ops answer, and an external store's call (on
// the guarded path of every request with Redis) is made as it is.

describe('telemetry without an SDK', () => {
  it('measures nothing: the instruments are the API\'s no-ops', () => {
    expect(instruments().recording).toBe(false)
  })

  it('a store call is made as it is: its very promise is returned, no wrapper added', async () => {
    const pending = Promise.resolve('record')
    expect(observeStoreCall('codegrant.store.read', {}, () => pending)).toBe(pending)
    const value = { sid: 'x' }
    expect(observeStoreCall('codegrant.store.read', {}, () => value)).toBe(value)
    const failure = new Error('down')
    expect(() => observeStoreCall('codegrant.store.read', {}, () => { throw failure })).toThrow(failure)
  })

  it('an outbound call\'s options are passed on unchanged (no traceparent to add)', () => {
    const init = { method: 'POST', headers: { accept: 'application/json' } }
    expect(withTraceContext(init)).toBe(init)
  })

  it('a traced step answers and fails as it would without the span', async () => {
    await expect(traced('codegrant.test', {}, async () => 42)).resolves.toBe(42)
    const failure = new Error('refused')
    await expect(traced('codegrant.test', {}, async () => { throw failure })).rejects.toBe(failure)
  })
})
