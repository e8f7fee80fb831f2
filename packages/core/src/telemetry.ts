/**
 * OpenTelemetry, through `@opentelemetry/api` only: codegrant's tracer and meter (named
 * `@codegrant/core`, with its version), the span helper every traced step uses, the instruments,
 * and the trace context for outbound calls. The app registers an SDK (or not): with none, every
 * call lands in the API's no-ops, and nothing here allocates on its own beyond them.
 *
 * What spans and instruments carry is chosen, never copied from a request: the step's outcome (a
 * `codegrant/…` code, or `ok`), the provider's configured name, the session store's kind, a store
 * operation's name. Never a token, a code, a secret, a cookie, a session id or the user's `sub`.
 */
import { createRequire } from 'node:module'
import { context, createNoopMeter, metrics, propagation, SpanKind, SpanStatusCode, trace, ValueType, type Attributes, type Counter, type Histogram, type MeterProvider, type Span } from '@opentelemetry/api'
import { isCodegrantError } from './errors.js'

export { SpanKind } from '@opentelemetry/api'

/** The instrumentation scope of codegrant's tracer and meter. */
export const INSTRUMENTATION_NAME = '@codegrant/core'
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version

/** Attribute names: OpenTelemetry's own where one exists (`error.type`), else `codegrant.*`. */
export const ATTR = {
  provider: 'codegrant.provider',
  storeKind: 'codegrant.store.kind',
  outcome: 'codegrant.outcome',
  operation: 'codegrant.store.operation',
  waited: 'codegrant.refresh.waited_on_lock',
  errorType: 'error.type',
} as const

/** The outcome of a step that succeeded. */
export const OK = 'ok'

/**
 * The global tracer provider's tracer, through the API's proxy: an SDK registered after this
 * module loaded (but before the first span) is used.
 */
const tracer = trace.getTracer(INSTRUMENTATION_NAME, VERSION)

/**
 * What a failure is called on a span and in metrics (`error.type`): a codegrant error's stable
 * code; else the error's class name (`TypeError`), never its message (it may quote a response).
 */
export function outcomeOf(error: unknown): string {
  if (isCodegrantError(error)) return error.code
  return error instanceof Error ? error.name : '_OTHER'
}

/**
 * Runs `step` in a span named `name` (the active span while it runs, so the steps and outbound
 * calls it makes are its children), ended when it settles with its outcome: `ok`, or the
 * failure's code as `error.type` and an error status. The failure is rethrown as it was.
 */
export function traced<T>(name: string, attributes: Attributes, step: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    // `ok` unless the step marks a failure it answers itself (see `failed`) or throws
    span.setAttribute(ATTR.outcome, OK)
    try {
      return await step(span)
    } catch (error) {
      failed(span, outcomeOf(error))
      throw error
    } finally {
      span.end()
    }
  })
}

/** Marks a span failed with `outcome` (a `codegrant/…` code): a step that answers a failure itself (a 400) says so. */
export function failed(span: Span, outcome: string): void {
  span.setAttributes({ [ATTR.outcome]: outcome, [ATTR.errorType]: outcome })
  span.setStatus({ code: SpanStatusCode.ERROR })
}

/**
 * An HTTP client span's answer (`http.response.status_code`): a status of 400 or more is its
 * `error.type` and an error status, as OpenTelemetry's HTTP conventions have it.
 */
export function answered(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status)
  if (status < 400) return
  span.setAttribute(ATTR.errorType, String(status))
  span.setStatus({ code: SpanStatusCode.ERROR })
}

/** Sets an attribute on the active span (a step's detail found deep inside it), if there is one. */
export function annotate(name: string, value: string | boolean): void {
  trace.getActiveSpan()?.setAttribute(name, value)
}

/**
 * One session store call in a client span and the store-call histogram, both with `attributes`
 * (made once per operation). With no SDK, the call is made as it is: no closure, no promise
 * added, only the API's no-op span.
 */
export function observeStoreCall<T>(name: string, attributes: Attributes, call: () => T | Promise<T>): T | Promise<T> {
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes })
  const measures = instruments()
  if (!span.isRecording() && !measures.recording) return call()
  const start = performance.now()
  const done = (outcome: string) => {
    if (outcome === OK) span.setAttribute(ATTR.outcome, OK)
    else failed(span, outcome)
    span.end()
    measures.storeDuration.record(secondsSince(start), { ...attributes, [ATTR.outcome]: outcome })
  }
  let result: T | Promise<T>
  try {
    result = call()
  } catch (error) {
    done(outcomeOf(error))
    throw error
  }
  if (!(result instanceof Promise)) {
    done(OK)
    return result
  }
  return result.then(
    (value) => {
      done(OK)
      return value
    },
    (error: unknown) => {
      done(outcomeOf(error))
      throw error
    },
  )
}

/**
 * `init` with the active trace context (`traceparent`, and whatever the registered propagator
 * writes) in its headers, for a call to the provider or an API. Unchanged (same object) when the
 * propagator writes nothing, as with no SDK.
 */
export function withTraceContext(init: RequestInit): RequestInit {
  const carrier = traceHeaders()
  const names = Object.keys(carrier)
  if (names.length === 0) return init
  const headers = new Headers(init.headers)
  for (const name of names) headers.set(name, carrier[name]!)
  return { ...init, headers }
}

/** The active trace context's headers (`traceparent`, …), none without an SDK: for calls made without `fetch`. */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {}
  propagation.inject(context.active(), carrier)
  return carrier
}

/** codegrant's instruments, on the meter of the global meter provider of the moment. */
export interface Instruments {
  /** False while the global meter provider is the API's no-op (no SDK): nothing to measure. */
  readonly recording: boolean
  /** Logins started (a redirect to the provider issued), by provider. */
  readonly loginsStarted: Counter
  /** Logins completed (a session started at the callback), by provider. */
  readonly loginsCompleted: Counter
  /** Logins that could not start or whose callback was refused, by provider and `error.type`. */
  readonly loginsFailed: Counter
  /** Refreshes, by provider and outcome. */
  readonly refreshes: Counter
  /** Sessions ended by a logout, by provider. */
  readonly logouts: Counter
  /** Back-channel logout requests, by outcome. */
  readonly backchannelEvents: Counter
  /** Times the session store's circuit breaker opened. */
  readonly breakerOpens: Counter
  /** Callback durations, seconds. */
  readonly callbackDuration: Histogram
  /** Refresh durations, seconds (a wait on another instance's lock included). */
  readonly refreshDuration: Histogram
  /** Session store call durations, seconds, by operation and outcome. */
  readonly storeDuration: Histogram
}

/** Durations of steps that talk to a provider or a store: 5 ms to 10 s. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The class of the API's no-op instruments, to tell that no SDK is registered. */
const NOOP_HISTOGRAM = createNoopMeter().createHistogram('noop').constructor

let bound: { provider: MeterProvider; instruments: Instruments } | undefined

/** Store breakers whose state the gauge reports (weakly held: a dropped codegrant goes with its breaker). */
const breakers = new Set<WeakRef<{ readonly open: boolean }>>()

/**
 * The instruments, made on the global meter provider when first asked for, and again if another
 * provider was registered since (the metrics API has no proxy: a meter taken before the SDK
 * started would stay a no-op). One comparison per call otherwise.
 */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider()
  if (bound?.provider !== provider) bound = { provider, instruments: createInstruments(provider) }
  return bound.instruments
}

function createInstruments(provider: MeterProvider): Instruments {
  const meter = provider.getMeter(INSTRUMENTATION_NAME, VERSION)
  const counter = (name: string, description: string, unit: string) => meter.createCounter(name, { description, unit, valueType: ValueType.INT })
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } })
  meter
    .createObservableGauge('codegrant.store.breaker.state', { description: 'The session store\'s circuit breaker: 1 open (store calls refused at once), 0 closed', unit: '1', valueType: ValueType.INT })
    .addCallback((result) => {
      let open: boolean | undefined
      for (const ref of breakers) {
        const breaker = ref.deref()
        if (breaker === undefined) breakers.delete(ref)
        else open = open === true || breaker.open
      }
      if (open !== undefined) result.observe(open ? 1 : 0, { [ATTR.storeKind]: 'external' })
    })
  const storeDuration = seconds('codegrant.store.operation.duration', 'Duration of a session store call')
  return {
    recording: !(storeDuration instanceof NOOP_HISTOGRAM),
    loginsStarted: counter('codegrant.login.started', 'Logins started: the browser sent to the provider', '{login}'),
    loginsCompleted: counter('codegrant.login.completed', 'Logins completed: a session started at the callback', '{login}'),
    loginsFailed: counter('codegrant.login.failed', 'Logins that could not start or whose callback was refused, by error.type', '{login}'),
    refreshes: counter('codegrant.refresh.count', 'Token refreshes, by outcome', '{refresh}'),
    logouts: counter('codegrant.logout.count', 'Sessions ended by a logout', '{logout}'),
    backchannelEvents: counter('codegrant.backchannel_logout.count', 'Back-channel logout requests, by outcome', '{request}'),
    breakerOpens: counter('codegrant.store.breaker.opens', 'Times the session store\'s circuit breaker opened', '{open}'),
    callbackDuration: seconds('codegrant.callback.duration', 'Duration of the login callback (code exchange, ID token check, session start)'),
    refreshDuration: seconds('codegrant.refresh.duration', 'Duration of a token refresh, a wait on another instance\'s lock included'),
    storeDuration,
  }
}

/** Reports `breaker`'s state through the `codegrant.store.breaker.state` gauge. */
export function watchBreaker(breaker: { readonly open: boolean }): void {
  breakers.add(new WeakRef(breaker))
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000
}
