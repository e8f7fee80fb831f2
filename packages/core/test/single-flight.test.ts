import { afterEach, describe, expect, it, vi } from 'vitest'
import { singleFlight, type Flight } from '../src/single-flight.js'

describe('singleFlight: one call per key, kept a while after', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  const deferred = <T>() => {
    let resolve!: (value: T) => void
    let reject!: (error: Error) => void
    const result = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { result, resolve, reject }
  }

  it('shares the entry while in flight; keeps it keepFor ms after it resolved (with its value), then forgets it', async () => {
    vi.useFakeTimers()
    const flights = singleFlight<string, number>()
    const call = deferred<number>()
    const entry = flights.start('a', { result: call.result }, () => 1000)
    expect(flights.get('a')).toBe(entry)
    call.resolve(7)
    await entry.result
    await Promise.resolve()
    expect(flights.get('a')?.done).toBe(7)
    vi.advanceTimersByTime(999)
    expect(flights.get('a')).toBe(entry)
    vi.advanceTimersByTime(1)
    expect(flights.get('a')).toBeUndefined()
  })

  it('forgets a call that rejects at once, so that the next caller tries again', async () => {
    const flights = singleFlight<string, number>()
    const call = deferred<number>()
    const entry = flights.start('a', { result: call.result }, () => 60_000)
    call.reject(new Error('down'))
    await expect(entry.result).rejects.toThrow('down')
    await Promise.resolve()
    expect(flights.get('a')).toBeUndefined()
  })

  it('keep() sets a new deadline from now; an older entry\'s timer never drops a newer one', async () => {
    vi.useFakeTimers()
    const flights = singleFlight<string, number, Flight<number> & { name: string }>()
    const first = flights.start('a', { name: 'first', result: Promise.resolve(1) }, () => 1000)
    await first.result
    await Promise.resolve()
    flights.keep('a', first, 5000)
    vi.advanceTimersByTime(4999)
    expect(flights.get('a')?.name).toBe('first')
    const second = flights.start('a', { name: 'second', result: new Promise<number>(() => {}) }, () => 1000)
    flights.keep('a', first, 1) // not the key's entry any more: nothing changes
    vi.advanceTimersByTime(10_000)
    expect(flights.get('a')).toBe(second)
  })
})
