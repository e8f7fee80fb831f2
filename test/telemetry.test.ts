/**
 * OpenTelemetry (issue 23 item 1): codegrant's spans and instruments as an operator's backend
 * receives them, through the OpenTelemetry Node SDK (its context manager and W3C propagator, as
 * `NodeSDK` registers them) with the SDK's in-memory span exporter and metric reader, on a real
 * framework server against the dev provider. Names, parent-child links, attributes, the trace
 * context the provider and an API receive, and no secret anywhere in what is exported.
 */
import { randomUUID } from 'node:crypto'
import { memoryStore, type OAuthOptions, type SessionStore } from '@codegrant/core'
import type { DevProvider } from '@codegrant/dev-provider'
import { NodeSDK } from '@opentelemetry/sdk-node'
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { API, createAgent, login, type Agent } from './support/agent.js'
import { buildHandler, openStage, type Stage } from './support/apps.js'
import { holdTokenRequests } from './support/gate.js'
import { appOptions, captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A, startProvider } from './support/provider.js'

const SESSION = 'codegrant.session'
const spans = new InMemorySpanExporter()
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
const sdk = new NodeSDK({ serviceName: 'codegrant-suite', spanProcessors: [new SimpleSpanProcessor({ exporter: spans })], metricReaders: [reader] })

let stage: Stage
let provider: DevProvider
let agent: Agent
/** Every token the provider issued, as the token endpoint answered them, and every code (`signIn`). */
const issued = new Set<string>()
/** The `traceparent` each provider endpoint (and the API: the provider's userinfo) received, by path. */
const traceparents = new Map<string, string | undefined>()

beforeAll(async () => {
  sdk.start()
  stage = await openStage()
  provider = await startProvider(stage.url, { backchannel: true })
  provider.intercept(async (ctx, next) => {
    traceparents.set(ctx.path, ctx.get('traceparent') || undefined)
    await next()
    const body = ctx.body as Record<string, unknown> | undefined
    for (const name of ['access_token', 'refresh_token', 'id_token']) if (typeof body?.[name] === 'string') issued.add(body[name] as string)
  })
})
afterAll(async () => {
  await stage?.close()
  await provider?.close()
  await sdk.shutdown()
})
beforeEach(async () => {
  spans.reset()
  agent = createAgent()
})

/** Logs `username` in; the authorization code it carried is kept with the issued values. */
async function signIn(username: string, on = agent) {
  const { callbackUrl } = await login(on, stage.url, username)
  issued.add(new URL(callbackUrl!).searchParams.get('code')!)
}
const mount = async (extra: OAuthOptions = {}) => stage.mount(await buildHandler('express5', appOptions(provider, stage.url, captureLogs(), extra), `${provider.issuer}/me`))
const get = (path: string, init: Parameters<Agent['request']>[1] = { headers: API }) => agent.request(`${stage.url}${path}`, init)
const named = (name: string) => spans.getFinishedSpans().filter((span) => span.name === name)
const one = (name: string): ReadableSpan => {
  const found = named(name)
  expect(found.map((span) => span.name)).toEqual([name])
  return found[0]!
}
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId
const isChild = (child: ReadableSpan, parent: ReadableSpan) => parentOf(child) === parent.spanContext().spanId && child.spanContext().traceId === parent.spanContext().traceId

/** The data points of the metric `name` so far: each point's attributes and value (a sum, or a histogram's count). */
async function points(name: string): Promise<{ attributes: Record<string, unknown>; value: number }[]> {
  metricExporter.reset()
  await reader.forceFlush()
  const metrics = metricExporter.getMetrics().flatMap((resource: ResourceMetrics) => resource.scopeMetrics).filter((scope) => scope.scope.name === '@codegrant/core')
  return metrics.flatMap((scope) => scope.metrics).filter((metric) => metric.descriptor.name === name).flatMap((metric) =>
    metric.dataPoints.map((point) => ({ attributes: { ...point.attributes }, value: typeof point.value === 'number' ? point.value : (point.value as { count: number }).count })))
}
const total = async (name: string, attributes: Record<string, unknown> = {}) =>
  (await points(name)).filter((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)).reduce((sum, point) => sum + point.value, 0)

describe('OpenTelemetry spans', () => {
  it('a login: codegrant.login with discovery as its child, then codegrant.callback with the code exchange and the ID token check as children', async () => {
    await mount()
    const before = { started: await total('codegrant.login.started'), completed: await total('codegrant.login.completed') }
    await signIn('alice')
    expect((await get('/me')).status).toBe(200)

    const loginSpan = one('codegrant.login')
    expect(loginSpan.attributes).toMatchObject({ 'codegrant.provider': 'default', 'codegrant.outcome': 'ok' })
    expect(isChild(one('codegrant.discovery'), loginSpan)).toBe(true)
    const callback = one('codegrant.callback')
    expect(callback.attributes).toMatchObject({ 'codegrant.provider': 'default', 'codegrant.store.kind': 'cookie', 'codegrant.outcome': 'ok' })
    expect(isChild(one('codegrant.code_exchange'), callback)).toBe(true)
    expect(isChild(one('codegrant.id_token_check'), callback)).toBe(true)
    expect(await total('codegrant.login.started')).toBe(before.started + 1)
    expect(await total('codegrant.login.completed', { 'codegrant.provider': 'default' })).toBe(before.completed + 1)
    expect(await total('codegrant.callback.duration', { 'codegrant.outcome': 'ok' })).toBeGreaterThanOrEqual(1)
    // the guarded read of a cookie session is not traced
    expect(spans.getFinishedSpans().filter((span) => span.name.startsWith('codegrant.store'))).toEqual([])
  })

  it('the trace context goes to the provider with the code exchange, and to an API with oauth.fetch', async () => {
    await mount()
    traceparents.clear()
    await signIn('alice')
    const exchange = one('codegrant.code_exchange')
    expect(traceparents.get('/token')).toBe(`00-${exchange.spanContext().traceId}-${exchange.spanContext().spanId}-01`)

    traceparents.clear()
    spans.reset()
    expect((await get('/api/userinfo')).status).toBe(200)
    const fetched = one('codegrant.fetch')
    expect(fetched.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': provider.port, 'http.response.status_code': 200, 'codegrant.outcome': 'ok' })
    expect(traceparents.get('/me')).toBe(`00-${fetched.spanContext().traceId}-${fetched.spanContext().spanId}-01`)
  })

  it('oauth.fetch answered 404 by the API: the status is the span\'s error.type, with an error status', async () => {
    stage.mount(await buildHandler('express5', appOptions(provider, stage.url, captureLogs()), `${provider.issuer}/no-such-api`))
    await signIn('alice')
    spans.reset()
    await get('/api/userinfo') // the suite's route reads the answer as JSON: its own 500 follows
    const fetched = one('codegrant.fetch')
    expect(fetched.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404' })
    expect(fetched.status.code).toBe(2) // SpanStatusCode.ERROR
  })

  it('a refresh and a logout: their spans and counters', async () => {
    await mount()
    await signIn('alice')
    const before = { refreshes: await total('codegrant.refresh.count', { 'codegrant.outcome': 'ok' }), logouts: await total('codegrant.logout.count') }
    spans.reset()
    expect((await get('/api/refresh', { method: 'POST', headers: API })).status).toBe(200)
    expect(one('codegrant.refresh').attributes).toMatchObject({ 'codegrant.provider': 'default', 'codegrant.refresh.waited_on_lock': false, 'codegrant.outcome': 'ok' })
    expect(traceparents.get('/token')).toContain(one('codegrant.refresh').spanContext().traceId)
    expect(await total('codegrant.refresh.count', { 'codegrant.outcome': 'ok' })).toBe(before.refreshes + 1)
    expect(await total('codegrant.refresh.duration')).toBeGreaterThanOrEqual(1)

    expect((await get('/auth/logout', { method: 'POST', headers: { ...API, 'sec-fetch-site': 'same-origin' } })).status).toBe(302)
    const logout = one('codegrant.logout')
    expect(logout.attributes).toMatchObject({ 'codegrant.provider': 'default', 'codegrant.outcome': 'ok' })
    expect(await total('codegrant.logout.count', { 'codegrant.provider': 'default' })).toBe(before.logouts + 1)
  })

  it('a refused callback: the span carries the code as error.type with an error status, and the failed login is counted by it', async () => {
    await mount()
    const before = await total('codegrant.login.failed', { 'error.type': 'codegrant/transaction_missing' })
    expect((await get('/auth/callback?code=forged&state=forged')).status).toBe(400)
    const callback = one('codegrant.callback')
    expect(callback.attributes).toMatchObject({ 'codegrant.outcome': 'codegrant/transaction_missing', 'error.type': 'codegrant/transaction_missing' })
    expect(callback.status.code).toBe(2) // SpanStatusCode.ERROR
    expect(await total('codegrant.login.failed', { 'error.type': 'codegrant/transaction_missing' })).toBe(before + 1)
  })

  it('back-channel logout: a span and a counter by outcome, for a valid and a forged logout token', async () => {
    await mount({ sessionStore: 'memory', backchannelLogout: true })
    await signIn('alice')
    const EVENT = 'http://schemas.openid.net/event/backchannel-logout'
    const now = Math.floor(Date.now() / 1000)
    const claims = { iss: provider.issuer, aud: CLIENT_ID, iat: now, exp: now + 120, jti: randomUUID(), events: { [EVENT]: {} }, sub: 'alice' }
    const send = (token: string) => get('/auth/backchannel-logout', { method: 'POST', headers: API, body: new URLSearchParams({ logout_token: token }).toString() })
    const before = { ok: await total('codegrant.backchannel_logout.count', { 'codegrant.outcome': 'ok' }), refused: await total('codegrant.backchannel_logout.count', { 'codegrant.outcome': 'codegrant/logout_token_invalid' }) }
    spans.reset()
    expect((await send(provider.signJwt(claims))).status).toBe(200)
    expect(one('codegrant.backchannel_logout').attributes).toMatchObject({ 'codegrant.provider': 'default', 'codegrant.outcome': 'ok' })
    spans.reset()
    expect((await send(provider.signJwt({ ...claims, jti: randomUUID(), aud: 'someone-else' }))).status).toBe(400)
    expect(one('codegrant.backchannel_logout').attributes).toMatchObject({ 'error.type': 'codegrant/logout_token_invalid' })
    expect(await total('codegrant.backchannel_logout.count', { 'codegrant.outcome': 'ok' })).toBe(before.ok + 1)
    expect(await total('codegrant.backchannel_logout.count', { 'codegrant.outcome': 'codegrant/logout_token_invalid' })).toBe(before.refused + 1)
  })
})

describe('OpenTelemetry and an external session store', () => {
  /** The memory store passed in as the app's own store (so an external one), failing while `down`. */
  function flakyStore(): { store: SessionStore; down: boolean } {
    const base = memoryStore()
    const state = { down: false, store: {} as SessionStore }
    const fail = () => Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }))
    state.store = {
      ...base,
      get: (sid) => (state.down ? fail() : Promise.resolve(base.get(sid))),
      set: (sid, data, ttl) => (state.down ? fail() : Promise.resolve(base.set(sid, data, ttl))),
    }
    return state
  }

  it('each store call is a client span under the step that made it, and timed by operation', async () => {
    const { store } = flakyStore()
    await mount({ sessionStore: store })
    await signIn('alice')
    spans.reset()
    const before = await total('codegrant.store.operation.duration', { 'codegrant.store.operation': 'read', 'codegrant.outcome': 'ok' })
    expect((await get('/me')).status).toBe(200)
    const read = one('codegrant.store.read')
    expect(read.kind).toBe(2) // SpanKind.CLIENT
    expect(read.attributes).toMatchObject({ 'codegrant.store.operation': 'read', 'codegrant.store.kind': 'external', 'codegrant.outcome': 'ok' })
    expect(await total('codegrant.store.operation.duration', { 'codegrant.store.operation': 'read', 'codegrant.outcome': 'ok' })).toBe(before + 1)

    // the callback's writes are its children
    spans.reset()
    await signIn('bob', createAgent())
    const callback = one('codegrant.callback')
    expect(named('codegrant.store.write').some((write) => isChild(write, callback))).toBe(true)
  })

  it('a refresh that waited on another instance\'s lock says so on its span', async () => {
    // two instances sharing one store that locks (the memory store passed in as the app's own)
    const shared = memoryStore()
    let locks = 0
    const store: SessionStore = { ...shared, lock: (...args) => (locks++, shared.lock!(...args)) }
    const [a, b] = await Promise.all([0, 1].map(() => buildHandler('express5', appOptions(provider, stage.url, captureLogs(), { sessionStore: store }), `${provider.issuer}/me`)))
    stage.mount((req, res) => (req.headers['x-instance'] === 'b' ? b! : a!)(req, res))
    await signIn('alice')
    spans.reset()
    const gate = holdTokenRequests(provider, 'refresh_token', 'before')
    const first = get('/api/refresh', { method: 'POST', headers: API })
    await gate.waitForHeld(1)
    const second = get('/api/refresh', { method: 'POST', headers: { ...API, 'x-instance': 'b' } })
    // b asked for the lock a holds, and waits
    const deadline = Date.now() + 5000
    while (locks < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    gate.release()
    expect([(await first).status, (await second).status]).toEqual([200, 200])
    const waited = named('codegrant.refresh').map((span) => span.attributes['codegrant.refresh.waited_on_lock']).sort()
    expect(waited).toEqual([false, true])
  })

  it('the breaker: its opening is counted and its state is a gauge', async () => {
    const flaky = flakyStore()
    await mount({ sessionStore: flaky.store })
    await signIn('alice')
    const opens = await total('codegrant.store.breaker.opens')
    flaky.down = true
    // three failed reads in a row open the breaker (store-breaker.ts)
    for (let i = 0; i < 3; i++) expect((await get('/me')).status).toBe(503)
    expect(await total('codegrant.store.breaker.opens')).toBe(opens + 1)
    expect(await points('codegrant.store.breaker.state')).toEqual([{ attributes: { 'codegrant.store.kind': 'external' }, value: 1 }])
    const failedRead = named('codegrant.store.read').at(-1)!
    expect(failedRead.attributes).toMatchObject({ 'error.type': 'codegrant/store_unavailable' })
    flaky.down = false
    const deadline = Date.now() + 5000
    while ((await get('/me')).status !== 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await points('codegrant.store.breaker.state')).toEqual([{ attributes: { 'codegrant.store.kind': 'external' }, value: 0 }])
  })
})

describe('what OpenTelemetry receives', () => {
  it('carries no token, code, client secret, cookie secret, session cookie or sub in any span or metric attribute', async () => {
    await mount({ sessionStore: 'memory', backchannelLogout: true })
    spans.reset()
    const user = `user-${randomUUID()}`
    provider.addUser({ sub: user, name: 'Traced User', email: 'traced@example.com', groups: [] })
    await signIn(user)
    const cookie = agent.cookies(stage.url).get(SESSION)!
    expect((await get('/api/userinfo')).status).toBe(200)
    expect((await get('/api/refresh', { method: 'POST', headers: API })).status).toBe(200)
    expect((await get('/auth/logout', { method: 'POST', headers: { ...API, 'sec-fetch-site': 'same-origin' } })).status).toBe(302)
    const secrets = [...issued, CLIENT_SECRET, SECRET_A, cookie, user]
    expect(issued.size).toBeGreaterThanOrEqual(5) // codes, access, refresh and ID tokens
    const exported = spans.getFinishedSpans()
    expect(exported.length).toBeGreaterThan(5)
    const values = [
      ...exported.flatMap((span) => [span.name, span.status.message ?? '', ...Object.values(span.attributes).map(String), ...span.events.flatMap((event) => [event.name, ...Object.values(event.attributes ?? {}).map(String)])]),
      ...(await Promise.all(['codegrant.login.started', 'codegrant.login.completed', 'codegrant.refresh.count', 'codegrant.logout.count', 'codegrant.callback.duration', 'codegrant.refresh.duration'].map(points)))
        .flat().flatMap((point) => Object.entries(point.attributes).flatMap(([key, value]) => [key, String(value)])),
    ]
    for (const secret of secrets) expect(values.filter((value) => value.includes(secret))).toEqual([])
  })
})
