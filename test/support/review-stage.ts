/**
 * The stage of the threat suites that reproduce the outside security review's findings (issue 6)
 * against the hostile provider (support/hostile-provider.ts), registered inside a
 * `describe.each(FRAMEWORKS)` block: the hostile stage, the suite's app mounted before each test
 * (with the errors it passed on collected in `caught`), no unhandled rejection allowed, and the
 * steps and checks those suites share: a login up to or through the callback, a session whose
 * access token is due, no leak in a response, a Location that stays on the app's origin, a 503
 * with Retry-After. `faultyStore` is a real session store that fails on command.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OAuthOptions, SessionData, SessionStore } from '@codegrant/core'
import { afterAll, afterEach, beforeAll, beforeEach, expect, vi } from 'vitest'
import { HTML, type Agent, type Hop } from './agent.js'
import { buildHandler, type Framework, type Stage } from './apps.js'
import type { HostileProvider } from './hostile-provider.js'
import { useHostileStage } from './hostile-stage.js'
import { SECRET_A, type captureLogs } from './provider.js'


export const TIMEOUT = 1000 // OAUTH_HTTP_TIMEOUT, milliseconds: a hanging provider costs a second; a loaded machine's stall never turns a normal answer into a timeout
export const SESSION = 'codegrant.session'
export const STACK = /at .*\(.*:\d+:\d+\)/
export const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' }

export const isSessionCookie = (line: string) => line.startsWith(`${SESSION}=`) || line.startsWith(`${SESSION}.`)
export const setsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line))
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export type Op = 'get' | 'set' | 'destroy'

/**
 * A real SessionStore (our own interface) that keeps records in a Map and fails on command:
 * synchronously (`delay: 0`) or with a rejection after `delay` ms. `settled()` resolves once
 * every failure it handed out has been delivered, so a test can then look for what leaked.
 */
export function faultyStore() {
  const records = new Map<string, SessionData>()
  const written: string[] = []
  const pending: Promise<unknown>[] = []
  let fault: { op: Op; delay: number } | undefined
  const act = <T>(op: Op, run: () => T): T | Promise<T> => {
    if (fault?.op !== op) return run()
    const error = Object.assign(new Error(`the store failed to ${op} (connection lost)`), { code: 'ECONNRESET' })
    if (fault.delay === 0) throw error
    const failure = new Promise<T>((_, reject) => setTimeout(() => reject(error), fault!.delay))
    pending.push(failure.catch(() => {}))
    return failure
  }
  const store: SessionStore = {
    get: (sid) => act('get', () => records.get(sid)),
    set: (sid, data) => act('set', () => { records.set(sid, data); written.push(sid) }),
    destroy: (sid) => act('destroy', () => { records.delete(sid) }),
  }
  return {
    store,
    records,
    written,
    fail: (op?: Op, delay = 0) => { fault = op ? { op, delay } : undefined },
    settled: async () => { await Promise.all(pending); await nextTurn(); await nextTurn() },
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

// dot-segments and their encodings that the URL parser turns into `//host` after the check
export const NORMALISED_AWAY = ['/.//evil.example', '/..//evil.example', '/%2e//evil.example', '/%2E%2E//evil.example/x', '/a/..//evil.example', '/./%2F/evil.example', '/.\\/evil.example']

/** What a threat suite's test reaches through {@link useReviewStage}, beside the steps. */
export interface ReviewState {
  readonly stage: Stage
  readonly hostile: HostileProvider
  readonly logs: ReturnType<typeof captureLogs>
  readonly agent: Agent
  /** What the app passed on to its framework's error handling in this test. */
  readonly caught: unknown[]
}

export function useReviewStage(framework: Framework) {
  const fixture = useHostileStage(framework, { httpTimeout: TIMEOUT, mount: false })
  const { get } = fixture
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  let caught: unknown[]
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => void unhandled.push(reason)

  const mount = async (extra: OAuthOptions = {}, userinfo = hostile.userinfoUrl, wrap = (h: Handler) => h) => {
    stage.mount(wrap(await buildHandler(framework, fixture.options(extra), userinfo, (error) => void caught.push(error))))
  }
  const isCallback = (url: string) => url.startsWith(`${stage.url}/auth/callback`)
  /** GET /auth/login (with `returnTo`), through the hostile /authorize, up to (not into) the callback. */
  const toCallback = async (returnTo?: string): Promise<string> => {
    const query = returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`
    const started = await agent.follow(`${stage.url}/auth/login${query}`, { headers: HTML }, isCallback)
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status} ${started.last.body.slice(0, 200)}`)
    return started.stoppedAt
  }
  const signIn = async (returnTo?: string) => agent.request(await toCallback(returnTo), { headers: HTML })
  const signedIn = async () => {
    const response = await signIn()
    expect([response.status, setsSession(response.setCookies)]).toEqual([302, true])
  }
  /** Signs in with a 2 s access token and moves the clock on: the next use refreshes. */
  const signInAndExpire = async () => {
    hostile.set({ tokenResponse: { expires_in: 2 } })
    await signedIn()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 10_000)
  }
  const expectNoLeak = (hop: Hop) => {
    let seen = hop.body
    hop.headers.forEach((value, name) => void (seen += `\n${name}: ${value}`))
    expect(seen).not.toMatch(STACK)
    for (const secret of [...hostile.secrets(), SECRET_A]) expect(seen).not.toContain(secret)
  }
  /** A Location a browser resolves to this app's origin, whatever it strips or normalises. */
  const expectLocal = (location: string | null, vector: string) => {
    expect(location, vector).toMatch(/^\/(?![/\\])[^\u0000-\u0020\u007f\\]*$/)
    expect(new URL(location!, `${stage.url}/some/page`).origin, vector).toBe(stage.url)
  }
  const expectUnavailable = (response: Hop) => {
    expect(response.status).toBe(503)
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
    expectNoLeak(response)
  }
  beforeAll(() => void process.on('unhandledRejection', onUnhandled))
  afterAll(() => void process.off('unhandledRejection', onUnhandled))
  beforeEach(async () => {
    ;({ stage, hostile, logs, agent } = fixture)
    caught = []
    unhandled.length = 0
    await mount()
  })
  afterEach(() => {
    expect(unhandled).toEqual([])
  })
  const state: ReviewState = {
    get stage() { return stage },
    get hostile() { return hostile },
    get logs() { return logs },
    get agent() { return agent },
    get caught() { return caught },
  }
  return { fixture, state, get, mount, isCallback, toCallback, signIn, signedIn, signInAndExpire, expectNoLeak, expectLocal, expectUnavailable }
}
