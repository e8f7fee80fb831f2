import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { OAuthOptions } from '../../src/config/options.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { isCodegrantError } from '../../src/errors.js'
import { createSessionBackend } from '../../src/session/backend.js'
import { createCookieCodec } from '../../src/session/cookie-codec.js'
import { BREAKER_FAILURES, BREAKER_PAUSE_MS, BREAKER_PROBE_LOST_MS } from '../../src/session/store-breaker.js'
import type { SessionData, SessionStore } from '../../src/session/store.js'

const SECRET = 'n'.repeat(32)
const T0 = 1_800_000_000
const SID = 'sid-1'
const record: SessionData = { sid: SID, iat: T0, uat: T0, exp: T0 + 3600, user: { sub: 'alice' }, tokens: { accessToken: 'at', tokenType: 'bearer', scope: 'openid' } }

type Mode = 'ok' | 'fail' | 'throw' | 'hang'

/** A custom store (the public `SessionStore` interface) whose `get` does what `mode` says, counting the calls that reach it. */
function controlledStore() {
  const hung: Array<{ resolve: (value: SessionData) => void; reject: (error: Error) => void }> = []
  const control = {
    mode: 'ok' as Mode,
    calls: 0,
    hung,
    store: {
      get(sid: string) {
        control.calls++
        const error = new Error('connection lost')
        switch (control.mode) {
          case 'ok': return Promise.resolve(sid === SID ? record : undefined)
          case 'fail': return Promise.reject(error)
          case 'throw': throw error
          case 'hang': return new Promise<SessionData>((resolve, reject) => void hung.push({ resolve, reject }))
        }
      },
      set() {},
      destroy() {},
    } satisfies SessionStore,
  }
  return control
}

function setup(extra: OAuthOptions = {}) {
  const control = controlledStore()
  const errors: string[] = []
  const warnings: string[] = []
  const config = resolveConfig(
    {
      issuer: 'http://127.0.0.1:9',
      clientId: 'app',
      clientSecret: 'secret',
      baseUrl: 'http://127.0.0.1:3000',
      cookieSecret: SECRET,
      logger: { warn: (line: string) => void warnings.push(line), error: (line: string) => void errors.push(line) },
      sessionStore: control.store,
      ...extra,
    },
    {},
  )
  const backend = createSessionBackend(config, createCookieCodec([SECRET]), 'codegrant.session')
  /** One session read as a request makes it: the record, or the error it rejects with. */
  const read = async (): Promise<SessionData | undefined | 'unavailable'> => {
    try {
      return await backend.resolve(SID, T0 + 1)
    } catch (error) {
      if (isCodegrantError(error, 'codegrant/store_unavailable')) return 'unavailable'
      throw error
    }
  }
  /** Whether a read settles before any timer runs (nothing waits on the store). */
  const settlesAtOnce = async (): Promise<boolean> => {
    let settled = false
    void read().then(() => { settled = true })
    for (let i = 0; i < 10; i++) await Promise.resolve()
    return settled
  }
  return { control, backend, read, settlesAtOnce, errors, warnings }
}

/** Opens the breaker: BREAKER_FAILURES failed reads in a row. */
/**
 * With one store call made since the breaker opened (the probe): refused without a store call
 * 1 ms before `ms` from now; at `ms`, one call reaches the store, working again by then.
 */
async function goesThroughAfter(s: ReturnType<typeof setup>, ms: number) {
  vi.advanceTimersByTime(ms - 1)
  expect(await s.read()).toBe('unavailable')
  expect(s.control.calls).toBe(BREAKER_FAILURES + 1)
  vi.advanceTimersByTime(1)
  s.control.mode = 'ok'
  expect(await s.read()).toEqual(record)
  expect(s.control.calls).toBe(BREAKER_FAILURES + 2)
}

async function open(s: ReturnType<typeof setup>) {
  s.control.mode = 'fail'
  for (let i = 0; i < BREAKER_FAILURES; i++) expect(await s.read()).toBe('unavailable')
  expect(s.control.calls).toBe(BREAKER_FAILURES)
  expect(s.backend.breaker!.open).toBe(true)
}

describe('the session store circuit breaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['performance', 'Date', 'setTimeout'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('never short-circuits a healthy store, nor one whose failures are not 3 in a row', async () => {
    const s = setup()
    for (let i = 0; i < 100; i++) expect(await s.read()).toEqual(record)
    expect(s.control.calls).toBe(100)
    // two failures, a success, again and again: never opens
    for (let round = 0; round < 5; round++) {
      s.control.mode = 'fail'
      expect(await s.read()).toBe('unavailable')
      s.control.mode = 'throw'
      expect(await s.read()).toBe('unavailable')
      s.control.mode = 'ok'
      expect(await s.read()).toEqual(record)
      expect(s.backend.breaker!.open).toBe(false)
    }
    expect(s.control.calls).toBe(115)
  })

  it('after 3 failures in a row, reads fail at once with store_unavailable and reach no store; logged once', async () => {
    const s = setup()
    await open(s)
    // even a store that would now hang is not called: every read answers unavailable without waiting
    s.control.mode = 'hang'
    for (let i = 0; i < 20; i++) expect(await s.settlesAtOnce()).toBe(true)
    expect(await s.read()).toBe('unavailable')
    expect(s.control.calls).toBe(BREAKER_FAILURES)
    expect(s.control.hung).toHaveLength(0)
    // one error line for the outage; refusals are not failures
    expect(s.errors).toHaveLength(1)
    expect(s.errors[0]).toMatch(/session store failed to read a session/)
    // still refused just before the pause is over
    vi.advanceTimersByTime(BREAKER_PAUSE_MS - 1)
    expect(await s.read()).toBe('unavailable')
    expect(s.control.calls).toBe(BREAKER_FAILURES)
  })

  it('after the pause exactly one probe reaches the store while the others fail fast; its success closes the breaker', async () => {
    const s = setup()
    await open(s)
    vi.advanceTimersByTime(BREAKER_PAUSE_MS)
    s.control.mode = 'hang'
    const probe = s.read()
    const others = await Promise.all(Array.from({ length: 10 }, () => s.read()))
    expect(others).toEqual(Array(10).fill('unavailable'))
    expect(s.control.calls).toBe(BREAKER_FAILURES + 1)
    expect(s.control.hung).toHaveLength(1)
    // the probe succeeds: closed, everything goes through again, and the end of the outage is logged
    s.control.hung[0]!.resolve(record)
    expect(await probe).toEqual(record)
    expect(s.backend.breaker!.open).toBe(false)
    s.control.mode = 'ok'
    for (let i = 0; i < 5; i++) expect(await s.read()).toEqual(record)
    expect(s.control.calls).toBe(BREAKER_FAILURES + 1 + 5)
    expect(s.warnings.filter((line) => /session store/.test(line))).toEqual([expect.stringMatching(/^the session store answers again, after 3 failed call\(s\) \(and 10 refused at once/)])
    // and it takes 3 new failures to open again
    s.control.mode = 'fail'
    expect(await s.read()).toBe('unavailable')
    expect(await s.read()).toBe('unavailable')
    expect(s.backend.breaker!.open).toBe(false)
  })

  it('a failed probe opens it again for another pause, then lets one more probe through', async () => {
    const s = setup()
    await open(s)
    vi.advanceTimersByTime(BREAKER_PAUSE_MS)
    expect(await s.read()).toBe('unavailable') // the probe, failing
    expect(s.control.calls).toBe(BREAKER_FAILURES + 1)
    for (let i = 0; i < 5; i++) expect(await s.read()).toBe('unavailable')
    expect(s.control.calls).toBe(BREAKER_FAILURES + 1)
    await goesThroughAfter(s, BREAKER_PAUSE_MS)
    expect(s.errors).toHaveLength(1)
  })

  it('a probe that never answers is given up after a while: one more call goes through', async () => {
    const s = setup()
    await open(s)
    vi.advanceTimersByTime(BREAKER_PAUSE_MS)
    s.control.mode = 'hang'
    void s.read()
    await goesThroughAfter(s, BREAKER_PROBE_LOST_MS)
  })

  it('the memory store has no breaker (it cannot fail)', () => {
    expect(setup({ sessionStore: 'memory' }).backend.breaker).toBeUndefined()
  })
})
