// The floors of the examples: for each of examples/{fastify,express,koa}, an app of the example's
// exact shape — the same framework (resolved from the example's own folder, so the same version),
// the same routes in the same order, the same error handler, the same `/me` body — with
// codegrant's layers replaced by no-ops of the same shape, as servers.mjs's floors are: the
// middleware (Fastify: the plugin's decorator, onRequest hook and routes in their own scope) reads
// the Cookie header and puts a constant request state with the example's user on the request, and
// the guard reads nothing and lets the request through. What the example costs above this per request is what codegrant and the
// example's kit add.
//
// `node example-floors.mjs <framework>` listens as the example does (PORT, every interface),
// `BENCH_SERVER` (JSON) gives `user`: the claims the example's own `/me` answered. `routeList`
// gives an app's routes in order, so the floor can be checked against the example
// (test/example-floors.test.ts): they cannot drift apart silently.
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const EXAMPLES = new URL('../../examples/', import.meta.url)

/**
 * A package as the example `framework` imports it: its copy (the example's dependencies, their
 * versions) and, like Node's ESM loader, the `import` entry of its `exports` where it has one
 * (@koa/router and Koa ship a separate ES module build; the example, an ES module, loads that).
 */
async function fromExample(framework, name) {
  const require = createRequire(new URL(`${framework}/package.json`, EXAMPLES))
  let dir = dirname(require.resolve(name))
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) dir = dirname(dir)
  const entry = importEntry(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).exports)
  const module = await import(pathToFileURL(entry ? join(dir, entry) : require.resolve(name)).href)
  return module.default ?? module
}

/** The `exports` entry an ES module import of the package's root picks (conditions import, node, default), if any. */
function importEntry(exports) {
  let target = exports && typeof exports === 'object' && '.' in exports ? exports['.'] : exports
  while (target && typeof target === 'object') target = target.import ?? target.node ?? target.default
  return typeof target === 'string' ? target : undefined
}

/**
 * codegrant's own routes as the examples' demo serves them (`codegrant.served` with `bff: true`
 * and a post-logout redirect URI): Fastify registers them in the plugin's scope; Express and Koa
 * serve them inside the middleware, which the floor's no-op does not look at.
 */
export const CODEGRANT_ROUTES = ['/auth/login', '/auth/callback', '/auth/logout', '/auth/logout/done', '/bff/session', '/bff/silent-login', '/bff/*']
/** The methods the Fastify adapter routes codegrant's paths for (packages/fastify METHODS). */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
const FORM = 'application/x-www-form-urlencoded'
const SECEVENT = 'application/secevent+jwt'

/** The kit's favicon answer (examples/kit/src/favicon.ts), and a stand-in for every answer no bench request asks for. */
const FAVICON = { status: 204, headers: { 'cache-control': 'public, max-age=86400' }, body: '' }
const UNUSED = { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{}' }

/** The kit's errorAnswer in shape (examples/kit/src/errors.ts): a framework's 4xx as it is, anything else 500. */
function errorAnswer(error) {
  const { status, statusCode } = error ?? {}
  const given = typeof status === 'number' ? status : statusCode
  if (typeof given === 'number' && given >= 400 && given < 500) return { status: given, body: { error: 'bad_request' }, unexpected: false }
  return { status: 500, body: { error: 'internal_error' }, unexpected: true }
}

/** The no-op layers: the request state is a constant with the example's user; the guard lets every request through. */
function floorState(user) {
  return Object.freeze({ isAuthenticated: true, user, tokens: undefined })
}

let cookieReads = 0
/**
 * The middleware's only work, as in servers.mjs's floors: read the Cookie header (counted, so the
 * read is not dropped). Node builds a request's headers object when it is first read: any
 * middleware that looks at a cookie pays that, so the floor does too.
 */
const readCookie = (headers) => { if (headers.cookie !== undefined) cookieReads++ }

/** examples/fastify/src/app.ts with the plugin's shape (fastify-plugin: decorator, onRequest hook, routes in their own scope). */
export async function fastifyFloor(user) {
  const Fastify = await fromExample('fastify', 'fastify')
  const state = floorState(user)
  const app = Fastify()
  app.setErrorHandler((error, _request, reply) => {
    const { status, body, unexpected } = errorAnswer(error)
    if (unexpected) console.error(error)
    return reply.code(status).send(body)
  })
  const guard = () => function floorGuard(_request, _reply, done) { done() }
  const floorPlugin = async (instance) => {
    instance.decorateRequest('oauth', null)
    instance.decorate('requireAuth', guard)
    instance.addHook('onRequest', function floorMiddleware(request, _reply, done) { readCookie(request.headers); request.oauth = state; done() })
    await instance.register(async (routes) => {
      for (const type of [FORM, SECEVENT]) {
        if (!routes.hasContentTypeParser(type)) routes.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body))
      }
      for (const path of CODEGRANT_ROUTES) routes.route({ method: METHODS, url: path, handler: async (_request, reply) => reply })
    })
  }
  floorPlugin[Symbol.for('skip-override')] = true
  await app.register(floorPlugin)
  const send = (reply, { status, headers, body }) => reply.code(status).headers(headers).send(body)
  app.get('/favicon.ico', async (_request, reply) => send(reply, FAVICON))
  app.get('/', async (_request, reply) => send(reply, UNUSED))
  for (const url of ['/spa', '/spa/:module']) app.get(url, async (_request, reply) => send(reply, UNUSED))
  app.post('/demo/refresh', async (_request, reply) => send(reply, UNUSED))
  app.get('/demo/sessions', { preHandler: guard() }, async (_request, reply) => send(reply, UNUSED))
  app.post('/demo/sessions/end-others', { preHandler: guard() }, async (_request, reply) => send(reply, UNUSED))
  app.get('/me', { preHandler: guard() }, async (request) => ({ user: request.oauth.user }))
  app.get('/api/userinfo', { preHandler: guard() }, async (_request, reply) => reply.code(200).send({}))
  app.get('/api/call/:api', { preHandler: guard() }, async (_request, reply) => reply.code(200).send({}))
  app.get('/admin', { preHandler: guard({ claims: { groups: 'admin' } }) }, async () => ({ ok: true }))
  return app
}

/** examples/express/src/app.ts: the favicon before the middleware, the routes, the JSON error handler last. */
export async function expressFloor(user) {
  const express = await fromExample('express', 'express')
  const state = floorState(user)
  const app = express().disable('x-powered-by')
  const guard = () => function floorGuard(_req, _res, next) { next() }
  const send = (res, { status, headers, body }) => void res.status(status).set(headers).send(body)
  app.get('/favicon.ico', (_req, res) => send(res, FAVICON))
  app.use(function floorMiddleware(req, _res, next) { readCookie(req.headers); req.oauth = state; next() })
  app.get('/', (_req, res) => send(res, UNUSED))
  app.get(['/spa', '/spa/:module'], (_req, res) => send(res, UNUSED))
  app.post('/demo/refresh', async (_req, res) => send(res, UNUSED))
  app.get('/demo/sessions', guard(), async (_req, res) => send(res, UNUSED))
  app.post('/demo/sessions/end-others', guard(), async (_req, res) => send(res, UNUSED))
  app.get('/me', guard(), (req, res) => { res.json({ user: req.oauth.user }) })
  app.get('/api/userinfo', guard(), async (_req, res) => { res.status(200).json({}) })
  app.get('/api/call/:api', guard(), async (_req, res) => { res.status(200).json({}) })
  app.get('/admin', guard({ claims: { groups: 'admin' } }), (_req, res) => { res.json({ ok: true }) })
  app.use(function handleError(error, _req, res, next) {
    if (res.headersSent) return next(error)
    const { status, body, unexpected } = errorAnswer(error)
    if (unexpected) console.error(error)
    res.status(status).json(body)
  })
  return app
}

/** examples/koa/src/app.ts: the error middleware, the favicon, the middleware, the router. */
export async function koaFloor(user) {
  const Koa = await fromExample('koa', 'koa')
  const Router = await fromExample('koa', '@koa/router')
  const state = floorState(user)
  const app = new Koa()
  const router = new Router()
  const guard = () => function floorGuard(_ctx, next) { return next() }
  const send = (ctx, { status, headers, body }) => { ctx.status = status; ctx.set(headers); ctx.body = body }
  router.get('/', (ctx) => { send(ctx, UNUSED) })
  router.get(['/spa', '/spa/:module'], (ctx) => { send(ctx, UNUSED) })
  router.post('/demo/refresh', async (ctx) => { send(ctx, UNUSED) })
  router.get('/demo/sessions', guard(), async (ctx) => { send(ctx, UNUSED) })
  router.post('/demo/sessions/end-others', guard(), async (ctx) => { send(ctx, UNUSED) })
  router.get('/me', guard(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
  router.get('/api/userinfo', guard(), async (ctx) => { ctx.status = 200; ctx.body = {} })
  router.get('/api/call/:api', guard(), async (ctx) => { ctx.status = 200; ctx.body = {} })
  router.get('/admin', guard({ claims: { groups: 'admin' } }), (ctx) => { ctx.body = { ok: true } })
  app.use(async function handleErrors(ctx, next) {
    try {
      await next()
    } catch (error) {
      const { status, body, unexpected } = errorAnswer(error)
      ctx.status = status
      ctx.body = body
      if (unexpected) ctx.app.emit('error', error, ctx)
    }
  })
  app.use(async (ctx, next) => {
    if (ctx.path !== '/favicon.ico' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next()
    send(ctx, FAVICON)
  })
  app.use(function floorMiddleware(ctx, next) { readCookie(ctx.headers); ctx.state.oauth = state; return next() })
  app.use(router.routes()).use(router.allowedMethods())
  return app
}

export const floors = { fastify: fastifyFloor, express: expressFloor, koa: koaFloor }

/**
 * An app's routes, in order, as its framework keeps them (Fastify: its route tree with methods;
 * Express: the router's layers; Koa: the middleware, and the router's layers), without the
 * handlers' names: the same list for an example and its floor means the same routes, methods and
 * handler counts in the same order.
 */
export async function routeList(framework, app) {
  if (framework === 'fastify') {
    await app.ready()
    return app.printRoutes({ commonPrefix: false }).split('\n').filter(Boolean)
  }
  if (framework === 'express') {
    return app.router.stack.map((layer) => (layer.route ? `${Object.keys(layer.route.methods).join(',')} ${layer.route.path} (${layer.route.stack.length} handlers)` : `use (${layer.handle.length} parameters)`))
  }
  return app.middleware.flatMap((middleware) => (middleware.router
    ? ['router', ...middleware.router.stack.map((layer) => `${layer.methods.join(',')} ${layer.path} (${layer.stack.length} handlers)`)]
    : [`use (${middleware.length} parameters)`]))
}

/** Listens as the example does: PORT on every interface (Fastify: '::', IPv4 where IPv6 is missing). */
async function listen(framework, app, port) {
  if (framework === 'fastify') {
    await app.listen({ port, host: '::' }).catch((error) => (error.code === 'EAFNOSUPPORT' ? app.listen({ port, host: '0.0.0.0' }) : Promise.reject(error)))
    return
  }
  const server = createServer(framework === 'koa' ? app.callback() : app)
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, resolve))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const framework = process.argv[2]
  const settings = JSON.parse(process.env.BENCH_SERVER ?? '{}')
  if (!floors[framework]) {
    console.error(`unknown framework ${framework}; one of ${Object.keys(floors).join(', ')}`)
    process.exit(2)
  }
  const port = Number(process.env.PORT)
  await listen(framework, await floors[framework](settings.user ?? { sub: 'alice' }), port)
  console.log(`floor of the ${framework} example listening on http://localhost:${port}`)
  // stop cleanly on a signal, so that --cpu-prof writes its profile
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0))
}
