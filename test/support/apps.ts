import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as cgExpress from '@codegrant/express'
import * as cgFastify from '@codegrant/fastify'
import * as cgKoa from '@codegrant/koa'
import type { OAuthOptions, OAuthRequestState } from '@codegrant/core'
import { isCodegrantError } from '@codegrant/core'
import Router from '@koa/router'
import express4 from 'express4'
import express5 from 'express5'
import fastify4 from 'fastify4'
import fastify5 from 'fastify5'
import Koa2 from 'koa2'
import Koa3 from 'koa3'

export const FRAMEWORKS = ['express4', 'express5', 'koa2', 'koa3', 'fastify4', 'fastify5'] as const
export type Framework = (typeof FRAMEWORKS)[number]
type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * The suite's app, the same routes in every framework (the examples' table plus two probes):
 * `/`, `/me`, `/api/userinfo` (through `oauth.fetch`), `/admin` (group admin), `/api/token`
 * (through `accessToken()`, answers only whether it got one), `/scoped` (scope `nope`),
 * `POST /api/refresh` (`refresh()`, answers the new expiry and whether the token changed),
 * `/api/session` (the session's times) and `/api/token-then-fail`
 * (gets a token, then fails with the app's own 500); for step-up and silent login `/recent`
 * (`maxAge: 300`), `/phr` (`acr: 'phr'`), `/unreachable-acr` (an acr no provider here gives),
 * `/silent` (`silentLogin: true`), `/start-login?hint=…` (the app's own `oauth.login()`), and
 * `/api/provider` (the session's provider, by name); for the APIs of `OAUTH_APIS` (issue 20)
 * `/api/call/:api` (`oauth.fetch(api, '/')`, the API's answer passed on, as in the examples),
 * `/api/call/:api/path?path=…` (`oauth.fetch(api, path)`), `/api/fetch-url?url=…`
 * (`oauth.fetch(url)`) and `/api/api-token/:api` (`accessToken(api)`, answers only whether it got one).
 */
export async function buildHandler(framework: Framework, options: OAuthOptions, userinfo: string, caught: Caught = () => {}): Promise<Handler> {
  if (framework === 'express4' || framework === 'express5') return expressApp(framework === 'express4' ? express4 : express5, options, userinfo, caught)
  if (framework === 'koa2' || framework === 'koa3') return koaApp(framework === 'koa2' ? Koa2 : Koa3, options, userinfo, caught)
  // Fastify 4's types differ in details the suite does not use
  return fastifyApp(framework === 'fastify4' ? (fastify4 as unknown as typeof fastify5) : fastify5, options, userinfo, caught)
}

/** Receives every error the app's handlers caught from `oauth.fetch` / `accessToken()`, as thrown. */
export type Caught = (error: unknown) => void

/** What `/api/token-then-fail` throws after it got a token: the app's own failure. */
export class AppFailure extends Error {
  readonly status = 500
  readonly expose = false
}

async function upstream(response: Response) {
  return { status: response.status, body: (await response.json()) as unknown }
}

function errorStatus(error: unknown, caught: Caught): { status: number; body: unknown } {
  caught(error)
  const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : 500
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : 'internal'
  const loginUrl = isCodegrantError(error) ? error.loginUrl : undefined
  return { status, body: { error: code, ...(loginUrl ? { loginUrl } : {}) } }
}

/** An API's answer as it is (JSON, or its text). */
async function passedOn(response: Response) {
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: passed on as text
  }
  return { status: response.status, body }
}

/** The suite's API routes, the same in every framework: a call, and what answers it. */
async function apiRoute(oauth: OAuthRequestState, route: 'call' | 'path' | 'url' | 'token', api: string, input: string, caught: Caught, accept: unknown): Promise<{ status: number; body: unknown; location?: string }> {
  try {
    if (route === 'token') return { status: 200, body: { token: (await oauth.accessToken(api)).length > 0 } }
    return await passedOn(await (route === 'url' ? oauth.fetch(input) : oauth.fetch(api, route === 'call' ? '/' : input)))
  } catch (error) {
    // as the README shows: a browser's navigation goes to the login that grants what the API asked for
    if (isCodegrantError(error) && error.loginUrl && String(accept ?? '').includes('text/html')) return { status: 302, body: null, location: error.loginUrl }
    return errorStatus(error, caught)
  }
}

/** What `/start-login` asks `oauth.login()` for: the same in every framework. */
export const START_LOGIN = (hint: string) => ({ loginHint: hint, uiLocales: ['fr-CA', 'fr'], maxAge: 600, returnTo: '/me', params: { resource: ['https://a.example/', 'https://b.example/'] } })
const RECENT = { maxAge: 300 }
const PHR = { acr: 'phr' }
const UNREACHABLE_ACR = { acr: 'urn:example:unreachable' }
const SILENT = { silentLogin: true }

/** `refresh()`, then what changed; the tokens themselves stay on the server. */
async function refreshed(oauth: OAuthRequestState, caught: Caught): Promise<{ status: number; body: unknown }> {
  const before = oauth.tokens?.accessToken
  try {
    const tokens = await oauth.refresh()
    const changed = tokens.accessToken !== before && oauth.tokens?.accessToken === tokens.accessToken
    return { status: 200, body: { expiresAt: tokens.expiresAt, changed } }
  } catch (error) {
    return errorStatus(error, caught)
  }
}

function expressApp(express: typeof express5, options: OAuthOptions, userinfo: string, caught: Caught): Handler {
  const { oauth, requireAuth } = cgExpress
  const app = express()
  app.use(oauth(options))
  app.get('/', (req, res) => void res.type('html').send(req.oauth.isAuthenticated ? `signed in as ${String(req.oauth.user?.sub)}` : 'signed out'))
  app.get('/me', requireAuth(), (req, res) => void res.json({ user: req.oauth.user }))
  app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (_req, res) => void res.json({ ok: true }))
  app.get('/scoped', requireAuth({ scopes: ['nope'] }), (_req, res) => void res.json({ ok: true }))
  app.get('/api/userinfo', requireAuth(), async (req, res) => {
    try {
      const { status, body } = await upstream(await req.oauth.fetch(userinfo))
      res.status(status).json(body)
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      res.status(status).json(body)
    }
  })
  app.get('/api/token', async (req, res) => {
    try {
      res.json({ token: (await req.oauth.accessToken()).length > 0 })
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      res.status(status).json(body)
    }
  })
  app.post('/api/refresh', async (req, res) => {
    const { status, body } = await refreshed(req.oauth, caught)
    res.status(status).json(body)
  })
  app.get('/api/session', (req, res) => void res.json({ session: req.oauth.session ?? null }))
  app.get('/api/token-then-fail', (req, _res, next) => {
    req.oauth.accessToken().then(() => next(new AppFailure('the app failed after it got a token')), next)
  })
  app.post('/orders', requireAuth(), (_req, res) => void res.json({ ok: true }))
  app.get('/recent', requireAuth(RECENT), (req, res) => void res.json({ auth_time: req.oauth.user?.auth_time }))
  app.get('/phr', requireAuth(PHR), (req, res) => void res.json({ acr: req.oauth.user?.acr }))
  app.get('/unreachable-acr', requireAuth(UNREACHABLE_ACR), (_req, res) => void res.json({ ok: true }))
  app.get('/silent', requireAuth(SILENT), (req, res) => void res.json({ sub: req.oauth.user?.sub }))
  app.get('/start-login', (req, res, next) => void req.oauth.login(START_LOGIN(String(req.query.hint))).then((url) => res.redirect(url), next))
  app.get('/api/userinfo-twice', requireAuth(), async (req, res) => {
    try {
      const [first, second] = [await req.oauth.userinfo(), await req.oauth.userinfo()]
      res.json({ userinfo: first, same: first === second })
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      res.status(status).json(body)
    }
  })
  app.get('/api/data', requireAuth(), (req, res) => void res.json({ data: req.oauth.data ?? null }))
  app.get('/api/provider', (req, res) => void res.json({ provider: req.oauth.provider ?? null }))
  const apiRoutes = [['/api/call/:api', 'call'], ['/api/call/:api/path', 'path'], ['/api/fetch-url', 'url'], ['/api/api-token/:api', 'token']] as const
  for (const [path, route] of apiRoutes) {
    app.get(path, async (req, res) => {
      const { status, body, location } = await apiRoute(req.oauth, route, String((req.params as { api?: string }).api ?? ''), String(req.query[route] ?? ''), caught, req.headers.accept)
      if (location) return res.redirect(location)
      res.status(status).json(body)
    })
  }
  return app
}

function koaApp(Koa: typeof Koa3, options: OAuthOptions, userinfo: string, caught: Caught): Handler {
  const { oauth, requireAuth } = cgKoa
  const app = new Koa()
  const router = new Router()
  app.use(oauth(options))
  router.get('/', (ctx) => {
    ctx.type = 'html'
    ctx.body = ctx.state.oauth.isAuthenticated ? `signed in as ${String(ctx.state.oauth.user?.sub)}` : 'signed out'
  })
  router.get('/me', requireAuth(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
  router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (ctx) => { ctx.body = { ok: true } })
  router.get('/scoped', requireAuth({ scopes: ['nope'] }), (ctx) => { ctx.body = { ok: true } })
  router.get('/api/userinfo', requireAuth(), async (ctx) => {
    try {
      const { status, body } = await upstream(await ctx.state.oauth.fetch(userinfo))
      ctx.status = status
      ctx.body = body
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      ctx.status = status
      ctx.body = body
    }
  })
  router.get('/api/token', async (ctx) => {
    try {
      ctx.body = { token: (await ctx.state.oauth.accessToken()).length > 0 }
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      ctx.status = status
      ctx.body = body
    }
  })
  router.post('/api/refresh', async (ctx) => {
    const { status, body } = await refreshed(ctx.state.oauth, caught)
    ctx.status = status
    ctx.body = body
  })
  router.get('/api/session', (ctx) => { ctx.body = { session: ctx.state.oauth.session ?? null } })
  router.get('/api/token-then-fail', async (ctx) => {
    await ctx.state.oauth.accessToken()
    throw new AppFailure('the app failed after it got a token')
  })
  router.post('/orders', requireAuth(), (ctx) => { ctx.body = { ok: true } })
  router.get('/recent', requireAuth(RECENT), (ctx) => { ctx.body = { auth_time: ctx.state.oauth.user?.auth_time } })
  router.get('/phr', requireAuth(PHR), (ctx) => { ctx.body = { acr: ctx.state.oauth.user?.acr } })
  router.get('/unreachable-acr', requireAuth(UNREACHABLE_ACR), (ctx) => { ctx.body = { ok: true } })
  router.get('/silent', requireAuth(SILENT), (ctx) => { ctx.body = { sub: ctx.state.oauth.user?.sub } })
  router.get('/start-login', async (ctx) => ctx.redirect(await ctx.state.oauth.login(START_LOGIN(String(ctx.query.hint)))))
  router.get('/api/userinfo-twice', requireAuth(), async (ctx) => {
    try {
      const [first, second] = [await ctx.state.oauth.userinfo(), await ctx.state.oauth.userinfo()]
      ctx.body = { userinfo: first, same: first === second }
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      ctx.status = status
      ctx.body = body
    }
  })
  router.get('/api/data', requireAuth(), (ctx) => { ctx.body = { data: ctx.state.oauth.data ?? null } })
  router.get('/api/provider', (ctx) => { ctx.body = { provider: ctx.state.oauth.provider ?? null } })
  const apiRoutes = [['/api/call/:api', 'call'], ['/api/call/:api/path', 'path'], ['/api/fetch-url', 'url'], ['/api/api-token/:api', 'token']] as const
  for (const [path, route] of apiRoutes) {
    router.get(path, async (ctx) => {
      const { status, body, location } = await apiRoute(ctx.state.oauth, route, String((ctx.params as { api?: string }).api ?? ''), String(ctx.query[route] ?? ''), caught, ctx.get('accept'))
      if (location) return ctx.redirect(location)
      ctx.status = status
      ctx.body = body
    })
  }
  app.use(router.routes())
  return app.callback()
}

async function fastifyApp(fastify: typeof fastify5, options: OAuthOptions, userinfo: string, caught: Caught): Promise<Handler> {
  const { oauth, requireAuth } = cgFastify
  let handler: Handler | undefined
  const app = fastify({
    serverFactory: (h) => {
      handler = h as Handler
      return createServer()
    },
  })
  await app.register(oauth, options)
  app.get('/', async (request, reply) => reply.type('text/html').send(request.oauth.isAuthenticated ? `signed in as ${String(request.oauth.user?.sub)}` : 'signed out'))
  app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
  app.get('/admin', { preHandler: app.requireAuth({ claims: { groups: 'admin' } }) }, async () => ({ ok: true }))
  app.get('/scoped', { preHandler: requireAuth({ scopes: ['nope'] }) }, async () => ({ ok: true }))
  app.get('/api/userinfo', { preHandler: requireAuth() }, async (request, reply) => {
    try {
      const { status, body } = await upstream(await request.oauth.fetch(userinfo))
      return reply.code(status).send(body)
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      return reply.code(status).send(body)
    }
  })
  app.get('/api/token', async (request, reply) => {
    try {
      return { token: (await request.oauth.accessToken()).length > 0 }
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      return reply.code(status).send(body)
    }
  })
  app.post('/api/refresh', async (request, reply) => {
    const { status, body } = await refreshed(request.oauth, caught)
    return reply.code(status).send(body)
  })
  app.get('/api/session', async (request) => ({ session: request.oauth.session ?? null }))
  app.get('/api/token-then-fail', async (request) => {
    await request.oauth.accessToken()
    throw new AppFailure('the app failed after it got a token')
  })
  // onRequest: the guard runs before Fastify parses (or refuses) the body
  app.post('/orders', { onRequest: requireAuth() }, async () => ({ ok: true }))
  app.get('/recent', { preHandler: requireAuth(RECENT) }, async (request) => ({ auth_time: request.oauth.user?.auth_time }))
  app.get('/phr', { preHandler: requireAuth(PHR) }, async (request) => ({ acr: request.oauth.user?.acr }))
  app.get('/unreachable-acr', { preHandler: requireAuth(UNREACHABLE_ACR) }, async () => ({ ok: true }))
  app.get('/silent', { preHandler: requireAuth(SILENT) }, async (request) => ({ sub: request.oauth.user?.sub }))
  app.get<{ Querystring: { hint?: string } }>('/start-login', async (request, reply) => reply.redirect(await request.oauth.login(START_LOGIN(String(request.query.hint)))))
  app.get('/api/userinfo-twice', { preHandler: requireAuth() }, async (request, reply) => {
    try {
      const [first, second] = [await request.oauth.userinfo(), await request.oauth.userinfo()]
      return { userinfo: first, same: first === second }
    } catch (error) {
      const { status, body } = errorStatus(error, caught)
      return reply.code(status).send(body)
    }
  })
  app.get('/api/data', { preHandler: requireAuth() }, async (request) => ({ data: request.oauth.data ?? null }))
  app.get('/api/provider', async (request) => ({ provider: request.oauth.provider ?? null }))
  const apiRoutes = [['/api/call/:api', 'call'], ['/api/call/:api/path', 'path'], ['/api/fetch-url', 'url'], ['/api/api-token/:api', 'token']] as const
  for (const [path, route] of apiRoutes) {
    app.get<{ Params: { api?: string }; Querystring: Record<string, string | undefined> }>(path, async (request, reply) => {
      const { status, body, location } = await apiRoute(request.oauth, route, String(request.params.api ?? ''), String(request.query[route] ?? ''), caught, request.headers.accept)
      if (location) return reply.redirect(location)
      return reply.code(status).send(body)
    })
  }
  await app.ready()
  return handler!
}

/**
 * A real HTTP server on loopback whose app can be swapped (new options, same URL), so one
 * redirect URI registered at the provider serves every configuration a test needs.
 */
export interface Stage {
  url: string
  server: Server
  mount(handler: Handler): void
  close(): Promise<void>
}

export async function openStage(): Promise<Stage> {
  let current: Handler = (_req, res) => void res.writeHead(503).end()
  const server = createServer((req, res) => current(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    mount: (handler) => { current = handler },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
