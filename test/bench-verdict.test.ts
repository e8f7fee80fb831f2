/**
 * How the bench judges a target (bench/src/system.mjs): by the median's 95 % interval over fresh
 * processes, so that a median drawn by luck from processes that scatter across the target reads
 * "undecided" instead of met or missed. The values below are the Fastify guarded line's rounds of
 * 2026-12-07 (bench/RESULTS.md): five of them once gave 0.99× ("met"), three others 0.84×.
 */
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module of the bench, without types
import { medianInterval, verdict } from '../bench/src/system.mjs'

const rounds = [0.94, 0.79, 0.95, 1.01, 1.22, 0.83, 0.73, 0.85, 0.84, 0.85, 1.22, 0.78, 1.03, 1.03, 1.17, 1.07, 0.88, 0.91, 1.01]

describe('the bench verdict', () => {
  it('gives an interval around the median, the same one every time', () => {
    const interval = medianInterval(rounds)
    expect(interval.low).toBeLessThanOrEqual(0.94)
    expect(interval.high).toBeGreaterThanOrEqual(0.94)
    expect(interval.high - interval.low).toBeGreaterThan(0.05)
    expect(medianInterval(rounds)).toEqual(interval)
  })

  it('calls a median met, missed or undecided by where the whole interval lies', () => {
    expect(verdict(rounds, 0.95).verdict).toBe('undecided')
    // the 20:58 run's five rounds: a median of 0.99, but they scatter from 0.79 to 1.22
    expect(verdict([0.94, 0.79, 0.95, 1.01, 1.22], 0.95).verdict).toBe('undecided')
    expect(verdict([6.48, 6.01, 6.53, 7.36, 6.66], 3.5).verdict).toBe('met')
    expect(verdict([0.81, 0.83, 0.8, 0.82, 0.84], 0.95).verdict).toBe('missed')
    expect(verdict([1.04, 1.07, 1.1, 0.99], 1.1, { atMost: true }).verdict).toBe('met')
  })

  it('has no interval for one process, and then judges the median alone', () => {
    expect(medianInterval([0.97])).toBeUndefined()
    expect(verdict([0.97], 0.95)).toEqual({ verdict: 'met', interval: undefined })
    expect(verdict([0.9], 0.95)).toEqual({ verdict: 'missed', interval: undefined })
  })
})
