/**
 * What each framework's users do differently: Koa without a router, Fastify's encapsulation
 * (a guard added in one plugin scope leaves the others open), tested through each framework's
 * own tools (`supertest(koa.callback())`, `fastify.inject()`).
 */
import * as cgExpress from '@codegrant/express'
import * as cgFastify from '@codegrant/fastify'
import * as cgKoa from '@codegrant/koa'
import type { OAuthOptions } from '@codegrant/core'
import fastify5 from 'fastify5'
import Koa3 from 'koa3'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { captureLogs, SECRET_A } from './support/provider.js'

// no provider is contacted by these requests: discovery is lazy
const options: OAuthOptions = {
  issuer: 'https://id.example.com',
  clientId: 'idioms',
  clientSecret: 'secret',
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: SECRET_A,
  logger: captureLogs(),
}

describe('Koa without @koa/router', () => {
  it('guards with plain middleware and leaves other paths open', async () => {
    const app = new Koa3()
    app.use(cgKoa.oauth(options))
    const guard = cgKoa.requireAuth()
    app.use(async (ctx, next) => (ctx.path.startsWith('/private') ? guard(ctx, next) : next()))
    app.use((ctx) => {
      ctx.body = { path: ctx.path, signedIn: ctx.state.oauth.isAuthenticated }
    })
    const server = app.callback()
    expect((await request(server).get('/public').set('accept', 'application/json')).body).toEqual({ path: '/public', signedIn: false })
    expect((await request(server).get('/private/x').set('accept', 'application/json')).status).toBe(401)
    const browser = await request(server).get('/private/x').set('accept', 'text/html')
    expect(browser.status).toBe(302)
    expect(browser.headers.location).toBe('/auth/login?returnTo=%2Fprivate%2Fx')
  })

  it('in development, ctx.state stays what views merge: oauth its own enumerable property, a state the app sets kept as it is', async () => {
    const developing = process.env.NODE_ENV
    process.env.NODE_ENV = 'development'
    try {
      const app = new Koa3()
      const held = { theme: 'dark' }
      app.use(async (ctx, next) => {
        // an app's own state object, without codegrant's `oauth` (which its types say every state has)
        if (ctx.path === '/own') Reflect.set(ctx, 'state', held)
        await next()
      })
      app.use(cgKoa.oauth(options))
      app.use((ctx) => {
        // what koa-views does with ctx.state: Object.assign({}, ctx.state, locals)
        const locals = Object.assign({}, ctx.state) as Record<string, unknown>
        ctx.body = { keys: Object.keys(ctx.state), copied: (locals.oauth as { isAuthenticated?: boolean } | undefined)?.isAuthenticated, same: Object.is(ctx.state, held) }
      })
      const server = app.callback()
      for (let i = 0; i < 2; i++) {
        expect((await request(server).get('/').set('accept', 'application/json')).body).toEqual({ keys: ['oauth'], copied: false, same: false })
        expect((await request(server).get('/own').set('accept', 'application/json')).body).toEqual({ keys: ['theme', 'oauth'], copied: false, same: true })
      }
    } finally {
      process.env.NODE_ENV = developing
    }
  })

  it('does not crash on Secure cookies over a plain-http hop (app.proxy unset)', async () => {
    const app = new Koa3()
    app.use(cgKoa.oauth({ ...options, baseUrl: 'https://app.example.com' }))
    const response = await request(app.callback()).get('/auth/logout').set('accept', 'text/html').set('sec-fetch-site', 'same-origin')
    expect(response.status).toBe(302)
  })
})

describe('Fastify encapsulation', () => {
  it('guards one plugin scope and leaves the others open', async () => {
    const app = fastify5()
    await app.register(cgFastify.oauth, options)
    await app.register(async (scope) => {
      scope.addHook('preHandler', scope.requireAuth())
      scope.get('/private', async () => ({ secret: true }))
    })
    app.get('/public', async (req) => ({ signedIn: req.oauth.isAuthenticated }))
    expect((await app.inject({ url: '/public', headers: { accept: 'application/json' } })).json()).toEqual({ signedIn: false })
    const denied = await app.inject({ url: '/private', headers: { accept: 'application/json' } })
    expect(denied.statusCode).toBe(401)
    expect(denied.json()).toEqual({ error: 'unauthenticated' })
    await app.close()
  })

  it('coexists with a form parser the app registered itself', async () => {
    const app = fastify5()
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, { raw: body }))
    await app.register(cgFastify.oauth, options)
    app.post('/echo', async (req) => req.body)
    const echoed = await app.inject({ method: 'POST', url: '/echo', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    expect(echoed.json()).toEqual({ raw: 'a=1' })
    await app.close()
  })
})

describe('requireAuth() options', () => {
  it.each([
    ['express', cgExpress.requireAuth],
    ['koa', cgKoa.requireAuth],
    ['fastify', cgFastify.requireAuth],
  ] as const)('%s: a mistaken option throws when the guard is made, naming it, not at the first request', (_name, requireAuth) => {
    const make = requireAuth as (options: unknown) => unknown
    expect(() => make({ maxAge: '5m' })).toThrow(/requireAuth\(\{ maxAge \}\)/)
    expect(() => make({ maxAge: -1 })).toThrow(TypeError)
    expect(() => make({ acr: 'gold silver' })).toThrow(/requireAuth\(\{ acr \}\)/)
    expect(() => make({ scopes: 'read' })).toThrow(/requireAuth\(\{ scopes \}\)/)
    expect(() => make({ claims: 'admin' })).toThrow(/requireAuth\(\{ claims \}\)/)
    expect(() => make({ silentLogin: 'yes' })).toThrow(/requireAuth\(\{ silentLogin \}\)/)
    expect(typeof make({ maxAge: 300, acr: ['phr'], scopes: ['read'], claims: { groups: 'admin' } })).toBe('function')
    expect(typeof make(undefined)).toBe('function')
  })
})
