import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isCodegrantError, type OAuthOptions } from '@codegrant/core'
import { startDemo } from './demo.js'
import { startTelemetry } from './telemetry.js'

/** An app listening: the port it got, and how to stop it. */
export interface StartedApp {
  port: number
  close(): Promise<void>
}

/**
 * Starts an example as a user runs it: `PORT` (default 3000) and the `OAUTH_*` environment.
 * With no provider configured it starts the demo first, in a process of its own (`demo.ts`: the
 * dev provider and the demo's APIs; a development setup, said loudly). With `OTEL_TRACES_EXPORTER`
 * or `OTEL_METRICS_EXPORTER` set, the OpenTelemetry Node
 * SDK starts before anything else (`telemetry.ts`). Logs the URL; stops cleanly on SIGINT/SIGTERM
 * (the SDK flushed); on a configuration or start-up error prints the message (no stack trace) and
 * exits 1.
 *
 * @param start builds the app with `options` (which override the environment) and listens on `port`.
 */
export async function runExample(framework: string, start: (options: OAuthOptions | undefined, port: number) => Promise<StartedApp>): Promise<void> {
  const stopTelemetry = await startTelemetry(framework).catch(fail)
  const port = Number(process.env.PORT || 3000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number (got ${JSON.stringify(process.env.PORT)})`)

  // no provider configured: the demo (dev providers, and the one-provider demo's APIs) in a process of its own
  const demo = await startDemo(port).catch(fail)
  let app: StartedApp
  try {
    // the one-provider demo calls two small APIs of its own, unless the environment names APIs,
    // and serves its single-page app through the backend-for-frontend (/spa), unless OAUTH_BFF says
    // otherwise
    const options = { ...(demo ? demoOptions(demo.options) : localDefaults(port)), ...redisDefault(), ...(demo?.apis ? { apis: demo.apis, ...bffDefault() } : {}) }
    app = await start(Object.keys(options).length > 0 ? options : undefined, port)
  } catch (error) {
    await demo?.close()
    fail(error)
  }
  console.log(`codegrant ${framework} example listening on http://localhost:${app.port}`)

  let stopping = false
  const stop = () => {
    if (stopping) process.exit(0) // a second Ctrl-C does not wait
    stopping = true
    void app.close().then(() => demo?.close()).then(() => stopTelemetry?.()).finally(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

/** Configuration and start-up errors: the message, no stack trace, exit 1. */
function fail(error: unknown): never {
  console.error(isCodegrantError(error) || error instanceof Error ? error.message : String(error))
  process.exit(1)
}

/**
 * The demo's options, less its generated cookie secret when the environment sets one
 * (`OAUTH_COOKIE_SECRET` or `SECRET`): that one is used, so sessions outlive a restart, and is
 * validated like any other setting instead of being silently replaced.
 */
function demoOptions<Options extends { cookieSecret: string }>(options: Options): Omit<Options, 'cookieSecret'> | Options {
  const { OAUTH_COOKIE_SECRET, SECRET } = process.env
  if (!OAUTH_COOKIE_SECRET?.trim() && !SECRET?.trim()) return options
  const { cookieSecret: _generated, ...rest } = options
  return rest
}

/** An example serves http://localhost:PORT unless told otherwise (the library itself requires OAUTH_BASE_URL). */
function localDefaults(port: number): { baseUrl: string } | undefined {
  const { OAUTH_BASE_URL, BASE_URL, OAUTH_REDIRECT_URI } = process.env
  return OAUTH_BASE_URL || BASE_URL || OAUTH_REDIRECT_URI ? undefined : { baseUrl: `http://localhost:${port}` }
}

/** The demo's backend-for-frontend for `/spa`: on, unless `OAUTH_BFF` is set (then it decides). */
function bffDefault(): OAuthOptions {
  return process.env.OAUTH_BFF?.trim() ? {} : { bff: true }
}

/** With `OAUTH_REDIS_URL` set (and no `OAUTH_SESSION_STORE`), the examples keep sessions in Redis. */
function redisDefault(): OAuthOptions {
  const { OAUTH_REDIS_URL, OAUTH_SESSION_STORE } = process.env
  return OAUTH_REDIS_URL?.trim() && !OAUTH_SESSION_STORE?.trim() ? { sessionStore: 'redis' } : {}
}

/** Listens with a plain Node.js HTTP server (Express, Koa) on every interface. */
export async function listenNode(handler: RequestListener, port: number): Promise<StartedApp> {
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, resolve))
  return {
    port: (server.address() as AddressInfo).port,
    // idle keep-alive connections (a browser's) would hold close() open: Ctrl-C must stop at once
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeIdleConnections() }),
  }
}
