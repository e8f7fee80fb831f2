// A complete first login test for a Fastify app, with node:test and inject.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { oauth, requireAuth } from '@codegrant/fastify'
import { startTestProvider } from '@codegrant/testing'
import Fastify from 'fastify'

let idp, app
before(async () => {
  idp = await startTestProvider()
  app = Fastify()
  await app.register(oauth, idp.options)
  app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
})
after(async () => {
  await app.close()
  await idp.close()
})

test('dana sees her roles', async () => {
  const { headers } = await idp.login(app, { sub: 'dana', claims: { roles: ['editor'] } })
  const me = await app.inject({ url: '/me', headers })
  assert.deepEqual(me.json().user.roles, ['editor'])
})
