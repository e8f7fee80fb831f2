// A complete first login test for a Koa app, with vitest and supertest.
import { oauth, requireAuth } from '@codegrant/koa'
import { startTestProvider, type TestProvider } from '@codegrant/testing'
import Router from '@koa/router'
import Koa from 'koa'
import request from 'supertest'
import { afterAll, beforeAll, expect, it } from 'vitest'

function createApp(options: Parameters<typeof oauth>[0]) {
  const app = new Koa()
  const router = new Router()
  app.use(oauth(options))
  router.get('/me', requireAuth(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
  app.use(router.routes())
  return app
}

let idp: TestProvider
beforeAll(async () => { idp = await startTestProvider() })
afterAll(() => idp.close())

it('shows bob his profile', async () => {
  const app = createApp(idp.options)
  const { cookie } = await idp.login(app, 'bob')
  const me = await request(app.callback()).get('/me').set('Cookie', cookie).expect(200)
  expect(me.body.user.sub).toBe('bob')
})
