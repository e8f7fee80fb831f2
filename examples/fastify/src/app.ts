import { apiNames, callApi, errorAnswer, favicon, inspector, spa, userinfo } from '@codegrant/example-kit'
import { oauth, requireAuth, type OAuthOptions } from '@codegrant/fastify'
import Fastify, { type FastifyInstance } from 'fastify'

/**
 * The example app, not listening: `/` (public: the session inspector), `/me`, `/api/userinfo`
 * (signed in), `/api/call/<api>` (signed in: each API of `OAUTH_APIS`, called with its own token), `/admin` (group admin),
 * `POST /demo/refresh` (the inspector's refresh button) and `GET /demo/sessions`, `POST /demo/sessions/end-others`
 * (the user's sessions, with a server-side store), and with `OAUTH_BFF` `/spa` (the single-page app and its modules).
 * `options` override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` when the configuration is incomplete.
 */
export async function createApp(options?: OAuthOptions): Promise<FastifyInstance> {
  const app = Fastify()
  const userinfoFor = userinfo(options)
  const page = inspector('Fastify', options)
  const spaFile = spa('Fastify', options)
  const apis = apiNames(options)

  // JSON errors, never a stack trace
  app.setErrorHandler((error, _request, reply) => {
    const { status, body, unexpected } = errorAnswer(error)
    if (unexpected) console.error(error)
    return reply.code(status).send(body)
  })
  await app.register(oauth, options ?? {})

  app.get('/favicon.ico', async (_request, reply) => reply.code(favicon.status).headers(favicon.headers).send(favicon.body))
  app.get('/', async (request, reply) => {
    const { status, headers, body } = page.home(request.oauth, request.headers)
    return reply.code(status).headers(headers).send(body)
  })
  for (const url of ['/spa', '/spa/:module']) {
    app.get(url, async (request, reply) => {
      const answer = spaFile(request.url.split('?', 1)[0]!)
      if (answer) return reply.code(answer.status).headers(answer.headers).send(answer.body)
      reply.callNotFound()
      return reply
    })
  }
  app.post('/demo/refresh', async (request, reply) => {
    const { status, headers, body } = await page.refresh(request.oauth, request.headers)
    return reply.code(status).headers(headers).send(body)
  })
  app.get('/demo/sessions', { preHandler: requireAuth() }, async (request, reply) => {
    const { status, headers, body } = await page.sessions(request.oauth)
    return reply.code(status).headers(headers).send(body)
  })
  app.post('/demo/sessions/end-others', { preHandler: requireAuth() }, async (request, reply) => {
    const { status, headers, body } = await page.endOtherSessions(request.oauth, request.headers)
    return reply.code(status).headers(headers).send(body)
  })
  app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
  app.get('/api/userinfo', { preHandler: requireAuth() }, async (request, reply) => {
    const { status, body } = await userinfoFor(request.oauth)
    return reply.code(status).send(body)
  })
  app.get<{ Params: { api: string } }>('/api/call/:api', { preHandler: requireAuth() }, async (request, reply) => {
    const { status, body } = await callApi(request.oauth, request.params.api, apis)
    return reply.code(status).send(body)
  })
  app.get('/admin', { preHandler: requireAuth({ claims: { groups: 'admin' } }) }, async () => ({ ok: true }))
  return app
}
