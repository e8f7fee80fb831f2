import type { AddressInfo } from 'node:net'
import { runExample } from '@codegrant/example-kit'
import { createApp } from './app.js'

await runExample('fastify', async (options, port) => {
  const app = await createApp(options)
  // every interface, IPv6 and IPv4 (Node's own default), so http://localhost works whichever address it resolves to
  await app.listen({ port, host: '::' }).catch((error: NodeJS.ErrnoException) =>
    error.code === 'EAFNOSUPPORT' ? app.listen({ port, host: '0.0.0.0' }) : Promise.reject(error),
  )
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
})
