// A complete first login test for a Fastify app, with vitest and inject.
import { oauth, requireAuth } from '@codegrant/fastify'
import { startTestProvider, type TestProvider } from '@codegrant/testing'
import Fastify from 'fastify'
import { afterAll, beforeAll, expect, it } from 'vitest'

async function createApp(options: Parameters<typeof oauth>[1]) {
  const app = Fastify()
  await app.register(oauth, options)
  app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
  return app
}

let idp: TestProvider
beforeAll(async () => { idp = await startTestProvider() })
afterAll(() => idp.close())

it('shows dana her roles', async () => {
  const app = await createApp(idp.options)
  const { headers } = await idp.login(app, { sub: 'dana', claims: { roles: ['editor'] } })
  const me = await app.inject({ url: '/me', headers })
  expect(me.json().user).toMatchObject({ sub: 'dana', roles: ['editor'] })
  await app.close()
})
