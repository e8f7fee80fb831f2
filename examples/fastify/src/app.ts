import { errorAnswer, homePage, userinfo } from '@codegrant/example-kit'
import { oauth, requireAuth, type OAuthOptions } from '@codegrant/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

/**
 * The example app, not listening: `/` (public), `/me`, `/api/userinfo` (signed in) and
 * `/admin` (group admin). `options` override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` when the configuration is incomplete.
 */
export async function createApp(options?: OAuthOptions): Promise<FastifyInstance> {
  const app = Fastify()
  const userinfoFor = userinfo(options)

  // JSON errors, never a stack trace
  app.setErrorHandler((error, _request, reply) => {
    const { status, body, unexpected } = errorAnswer(error)
    if (unexpected) console.error(error)
    return reply.code(status).send(body)
  })
  await app.register(oauth, options ?? {})

  app.get('/', async (request, reply) =>
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(homePage('Fastify', request.oauth.user)),
  )
  app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
  app.get('/api/userinfo', { preHandler: requireAuth() }, async (request, reply) => {
    const { status, body } = await userinfoFor(request.oauth)
    return reply.code(status).send(body)
  })
  app.get('/admin', { preHandler: requireAuth({ claims: { groups: 'admin' } }) }, async () => ({ ok: true }))
  return app
}
