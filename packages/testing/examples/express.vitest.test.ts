// A complete first login test for an Express app, with vitest and supertest.
import { oauth, requireAuth } from '@codegrant/express'
import { startTestProvider, type TestProvider } from '@codegrant/testing'
import express from 'express'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'

// your app, as you build it (here: inline), configured with the test provider's options
function createApp(options: Parameters<typeof oauth>[0]) {
  const app = express()
  app.use(oauth(options))
  app.get('/me', requireAuth(), (req, res) => void res.json({ user: req.oauth.user }))
  app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (_req, res) => void res.json({ ok: true }))
  return app
}

let idp: TestProvider
beforeAll(async () => { idp = await startTestProvider() })
afterAll(() => idp.close())

it('shows carol her profile and lets her into /admin', async () => {
  const app = createApp(idp.options)
  const { cookie } = await idp.login(app, { sub: 'carol', groups: ['admin'] })
  const me = await request(app).get('/me').set('Cookie', cookie).expect(200)
  expect(me.body.user).toMatchObject({ sub: 'carol', groups: ['admin'] })
  await request(app).get('/admin').set('Cookie', cookie).expect(200)
})

it('refreshes an expired access token', async () => {
  const app = createApp(idp.options)
  const session = await idp.login(app, 'alice')
  session.expireAccessToken()
  await request(app).get('/me').set('Cookie', session.cookie).expect(200)
  expect(idp.devProvider.count('grant.success', 'refresh_token')).toBeGreaterThan(0)
})
