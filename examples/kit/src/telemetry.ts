/**
 * OpenTelemetry for the examples, opt-in by OpenTelemetry's own variables: with
 * `OTEL_TRACES_EXPORTER` or `OTEL_METRICS_EXPORTER` set, the OpenTelemetry Node SDK is started
 * (its exporters, endpoints and service name read from the `OTEL_*` environment, as the SDK
 * documents them); without, nothing of it is loaded. codegrant itself only speaks
 * `@opentelemetry/api`: any SDK the app registers receives its spans and metrics.
 */

/** A started SDK: flushes and stops it (at shutdown, so the last spans are exported). */
export type StopTelemetry = () => Promise<void>

/** Starts the OpenTelemetry Node SDK when the environment asks for an exporter; undefined otherwise. */
export async function startTelemetry(framework: string, env: NodeJS.ProcessEnv = process.env): Promise<StopTelemetry | undefined> {
  if (!env.OTEL_TRACES_EXPORTER?.trim() && !env.OTEL_METRICS_EXPORTER?.trim()) return undefined
  const { NodeSDK } = await import('@opentelemetry/sdk-node')
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME wins; no instrumentation of other libraries: codegrant's own spans only
    ...(env.OTEL_SERVICE_NAME?.trim() ? {} : { serviceName: `codegrant-${framework}-example` }),
    instrumentations: [],
  })
  sdk.start()
  return () => sdk.shutdown().catch(() => undefined)
}
