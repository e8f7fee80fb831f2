// A complete first login test for an Express app, with node:test (no test framework to install).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { oauth, requireAuth } from '@codegrant/express'
import { startTestProvider } from '@codegrant/testing'
import express from 'express'

function createApp(options) {
  const app = express()
  app.use(oauth(options))
  app.get('/me', requireAuth(), (req, res) => void res.json({ user: req.oauth.user }))
  return app
}

let idp, server, url
before(async () => {
  idp = await startTestProvider()
  server = createApp(idp.options).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  url = `http://127.0.0.1:${server.address().port}`
})
after(async () => {
  server.close()
  await idp.close()
})

test('carol sees her profile', async () => {
  const { headers } = await idp.login(url, { sub: 'carol', groups: ['admin'] })
  const me = await fetch(`${url}/me`, { headers: { ...headers, accept: 'application/json' } })
  assert.equal(me.status, 200)
  assert.deepEqual((await me.json()).user.groups, ['admin'])
})
