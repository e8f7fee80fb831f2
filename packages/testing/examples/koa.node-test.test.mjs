// A complete first login test for a Koa app, with node:test.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { oauth, requireAuth } from '@codegrant/koa'
import { startTestProvider } from '@codegrant/testing'
import Router from '@koa/router'
import Koa from 'koa'

let idp, server, url
before(async () => {
  idp = await startTestProvider()
  const app = new Koa()
  const router = new Router()
  app.use(oauth(idp.options))
  router.get('/me', requireAuth(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
  app.use(router.routes())
  server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  url = `http://127.0.0.1:${server.address().port}`
})
after(async () => {
  server.close()
  await idp.close()
})

test('bob sees his profile', async () => {
  const { headers } = await idp.login(url, 'bob')
  const me = await fetch(`${url}/me`, { headers: { ...headers, accept: 'application/json' } })
  assert.equal((await me.json()).user.sub, 'bob')
})
