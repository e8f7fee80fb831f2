/**
 * `@codegrant/testing` as a user calls it in their own suite: the dev provider started in the
 * test, a named user with chosen claims, groups, scopes and token lifetime logged into the app
 * over HTTP without a browser, and the Cookie header used with supertest, Fastify's inject, or
 * fetch; an access token expired on demand to test refresh; a grant revoked to test its end.
 */
import { oauth as expressOauth, requireAuth as expressGuard } from '@codegrant/express'
import { oauth as fastifyOauth, requireAuth as fastifyGuard } from '@codegrant/fastify'
import { oauth as koaOauth, requireAuth as koaGuard } from '@codegrant/koa'
import { startTestProvider, type TestProvider } from '@codegrant/testing'
import Router from '@koa/router'
import express from 'express5'
import fastify from 'fastify5'
import Koa from 'koa3'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

let idp: TestProvider
beforeAll(async () => {
  idp = await startTestProvider()
})
afterAll(async () => {
  await idp.close()
})

function expressApp() {
  const app = express()
  app.use(expressOauth({ ...idp.options, logger: { warn() {}, error() {} } }))
  app.get('/me', expressGuard(), (req, res) => void res.json({ user: req.oauth.user, scope: req.oauth.tokens?.scope }))
  app.get('/admin', expressGuard({ claims: { groups: 'admin' } }), (_req, res) => void res.json({ ok: true }))
  app.get('/token', expressGuard(), async (req, res) => void res.json({ token: (await req.oauth.accessToken()).length > 0 }))
  return app
}

describe('@codegrant/testing', () => {
  it('Express + supertest: a named user with chosen claims, groups and scopes, in two lines', async () => {
    const app = expressApp()
    const { cookie } = await idp.login(app, { sub: 'carol', name: 'Carol Test', groups: ['admin'], claims: { roles: ['editor'] }, scopes: ['openid', 'profile'] })
    const me = await request(app).get('/me').set('Cookie', cookie).expect(200)
    expect(me.body.user).toMatchObject({ sub: 'carol', name: 'Carol Test', groups: ['admin'], roles: ['editor'] })
    expect(me.body.user.email).toBeUndefined() // the email scope was not granted
    expect(me.body.scope.split(' ').sort()).toEqual(['openid', 'profile'])
    await request(app).get('/admin').set('Cookie', cookie).expect(200)

    const dave = await idp.login(app, { sub: 'dave' })
    await request(app).get('/admin').set(dave.headers).expect(403)
    // a supertest agent carrying the session
    await request.agent(app).set('Cookie', dave.cookie).get('/me').expect(200)
    await request(app).get('/me').expect(401)
  })

  it('expires the access token on demand: the next request refreshes it at the provider', async () => {
    const app = expressApp()
    const session = await idp.login(app, 'alice')
    const before = idp.devProvider.count('grant.success', 'refresh_token')
    session.expireAccessToken()
    const refreshed = await request(app).get('/token').set('Cookie', session.cookie).expect(200)
    expect(idp.devProvider.count('grant.success', 'refresh_token')).toBe(before + 1)
    const setCookies: unknown = refreshed.headers['set-cookie']
    expect(Array.isArray(setCookies) && setCookies.some((line) => String(line).startsWith('codegrant.session='))).toBe(true)
  })

  it('revoke(sub): the next refresh ends the session', async () => {
    const app = expressApp()
    const session = await idp.login(app, { sub: 'erin' })
    idp.revoke('erin')
    session.expireAccessToken()
    await request(app).get('/me').set('Cookie', session.cookie).expect(401)
  })

  it('Fastify: headers for inject', async () => {
    const app = fastify()
    await app.register(fastifyOauth, { ...idp.options, logger: { warn() {}, error() {} } })
    app.get('/me', { preHandler: fastifyGuard() }, async (req) => ({ user: req.oauth.user }))
    const { headers } = await idp.login(app, { sub: 'frank', groups: ['ops'] })
    const me = await app.inject({ url: '/me', headers })
    expect([me.statusCode, me.json().user]).toEqual([200, expect.objectContaining({ sub: 'frank', groups: ['ops'] })])
    await app.close()
  })

  it('Koa: the app itself, and fetch against a listening server', async () => {
    const app = new Koa()
    const router = new Router()
    app.use(koaOauth({ ...idp.options, logger: { warn() {}, error() {} } }))
    router.get('/me', koaGuard(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
    app.use(router.routes())
    const { headers } = await idp.login(app, 'bob')
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
      const me = await fetch(`${url}/me`, { headers: { ...headers, accept: 'application/json' } })
      expect([me.status, ((await me.json()) as { user: { sub: string } }).user.sub]).toEqual([200, 'bob'])
      // the server itself works as a target too
      expect((await idp.login(server, 'alice')).cookie).toMatch(/^codegrant\.session=/)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('says what is wrong when the app is not configured with the test provider', async () => {
    const other = express()
    other.get('/auth/login', (_req, res) => void res.status(404).send('no such route'))
    await expect(idp.login(other, 'alice')).rejects.toThrow(/GET \/auth\/login answered 404, not a redirect to the test provider .* Is the app configured with the test provider's options/)
  })
})

describe('@codegrant/testing logging', () => {
  /** What codegrant printed on the console while `run` ran (console is where the default logger writes). */
  async function printed(run: () => Promise<void>): Promise<string[]> {
    const lines: string[] = []
    const spies = (['debug', 'info', 'log', 'warn', 'error'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(`${level} ${args.join(' ')}`)),
    )
    try {
      await run()
    } finally {
      for (const spy of spies) spy.mockRestore()
    }
    return lines.filter((line) => line.includes('[codegrant]'))
  }

  it('is quiet by default: an app built with idp.options prints no line for a login and a guarded request', async () => {
    const lines = await printed(async () => {
      const app = express()
      app.use(expressOauth(idp.options))
      app.get('/me', expressGuard(), (req, res) => void res.json({ sub: req.oauth.user?.sub }))
      const { cookie } = await idp.login(app, 'alice')
      await request(app).get('/me').set('Cookie', cookie).expect(200)
    })
    expect(lines).toEqual([])
  })

  it('still prints the warnings and errors that are not about the test provider itself', async () => {
    const lines = await printed(async () => {
      expressOauth({ ...idp.options, baseUrl: 'http://app.example' })
    })
    expect(lines).toEqual([expect.stringMatching(/^warn \[codegrant\] OAUTH_BASE_URL http:\/\/app\.example is plain http/)])
  })

  it('the logger option receives every line (the redirect URI to register, the plain-http issuer)', async () => {
    const seen: string[] = []
    const loud = await startTestProvider({ logger: { info: (line) => void seen.push(`info ${line}`), warn: (line) => void seen.push(`warn ${line}`), error: (line) => void seen.push(`error ${line}`) } })
    try {
      const app = express()
      app.use(expressOauth(loud.options))
      await loud.login(app, 'alice')
      expect(seen).toEqual(expect.arrayContaining([
        expect.stringMatching(/^info redirect URI to register at the provider for client test-app: http:\/\/localhost:3000\/auth\/callback/),
        `warn OAUTH_ISSUER ${loud.issuer} is plain http: accepted only because it is loopback (development)`,
      ]))
    } finally {
      await loud.close()
    }
  })
})

describe('packages/testing/examples with node:test (the README\'s examples, run as a user would)', () => {
  it('pass: express, koa and fastify', async () => {
    const cwd = fileURLToPath(new URL('../packages/testing', import.meta.url))
    const files = ['express', 'koa', 'fastify'].map((name) => `examples/${name}.node-test.test.mjs`)
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', ...files], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect({ code, pass: /# pass (\d+)/.exec(output)?.[1], fail: /# fail (\d+)/.exec(output)?.[1] }, output).toEqual({ code: 0, pass: '3', fail: '0' })
    // quiet by default: the user's test output carries no codegrant line
    expect(output).not.toContain('[codegrant]')
  }, 60_000)
})
