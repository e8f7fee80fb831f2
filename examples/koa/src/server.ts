import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startDemoIfUnconfigured } from '@codegrant/dev-provider'
import { isCodegrantError } from '@codegrant/koa'
import { createApp } from './app.js'

const port = Number(process.env.PORT || 3000)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number (got ${JSON.stringify(process.env.PORT)})`)

// no provider configured: start the dev provider and use it (a development setup)
const demo = await startDemoIfUnconfigured(process.env, port).catch(fail)
let server: Server
try {
  server = createServer(createApp(demo?.options ?? localDefaults(port)).callback())
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, resolve))
} catch (error) {
  await demo?.close()
  fail(error)
}
console.log(`codegrant koa example listening on http://localhost:${(server.address() as AddressInfo).port}`)

let stopping = false
const stop = () => {
  if (stopping) process.exit(0) // a second Ctrl-C does not wait
  stopping = true
  server.close(() => void (demo?.close() ?? Promise.resolve()).finally(() => process.exit(0)))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)

/** Configuration and start-up errors: the message, no stack trace, exit 1. */
function fail(error: unknown): never {
  console.error(isCodegrantError(error) || error instanceof Error ? error.message : String(error))
  process.exit(1)
}

/** An example serves http://localhost:PORT unless told otherwise (the library itself requires OAUTH_BASE_URL). */
function localDefaults(port: number): { baseUrl: string } | undefined {
  const { OAUTH_BASE_URL, BASE_URL, OAUTH_REDIRECT_URI } = process.env
  return OAUTH_BASE_URL || BASE_URL || OAUTH_REDIRECT_URI ? undefined : { baseUrl: `http://localhost:${port}` }
}
