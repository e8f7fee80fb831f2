// One app under test per process: `node servers.mjs <kind>`, configured by the BENCH_SERVER
// environment variable (JSON), listening on 127.0.0.1 and reporting `ready` over IPC.
// Every app has the same routes where its stack has them:
//   GET /public   small JSON, no guard (never reads the session)
//   GET /me       the stack's guard, then `{ user: <the user's claims> }` (as the examples' /me)
// plus whatever login/callback routes the stack itself serves.
import { createServer } from 'node:http'

const HELLO = { hello: 'world' }
const settings = JSON.parse(process.env.BENCH_SERVER ?? '{}')
const kind = process.argv[2]
const base = `http://127.0.0.1:${settings.port}`

/**
 * The memory store of a memory-store server, made here and passed in (`memoryStore()` passed as
 * `sessionStore` is served as `OAUTH_SESSION_STORE=memory` is), so that the bench can ask a twin
 * for the record its login stored and give it to the measured process at start (`settings.seed`):
 * the measured process then holds a real login's session without a login in its history.
 */
let memory
async function memoryOfThisProcess() {
  if (memory) return memory
  const { memoryStore } = await import('@codegrant/core')
  memory = memoryStore()
  // a record a twin's login stored, kept until the session's absolute end (the store checks idle time on read)
  const seed = settings.seed
  if (seed) memory.set(seed.sid, seed.data, Math.max(1, seed.data.exp - Math.floor(Date.now() / 1000)))
  return memory
}

const codegrantOptions = async (store = 'cookie', extra = {}) => ({
  ...extra,
  // 'cookie-ended': cookie sessions with their "ended before" records in Redis (OAUTH_REDIS_URL beside the cookie store)
  sessionStore: store === 'cookie-ended' ? 'cookie' : store === 'memory' ? await memoryOfThisProcess() : store,
  ...(store === 'cookie-ended' ? { redisUrl: settings.redisUrl, ...(settings.redisPrefix ? { redisPrefix: settings.redisPrefix } : {}) } : {}),
  // the Redis store: a redis-server the bench started on loopback (OAUTH_REDIS_URL would do the same)
  ...(store === 'redis' ? { redisUrl: settings.redisUrl, ...(settings.redisPrefix ? { redisPrefix: settings.redisPrefix } : {}), ...(settings.redisCache === false ? { redisCache: false } : {}) } : {}),
  issuer: settings.issuer,
  clientId: settings.clientId,
  clientSecret: settings.clientSecret,
  baseUrl: base,
  cookieSecret: settings.cookieSecret,
  // the dev provider is http on loopback: codegrant warns about it once, which is expected here
  logger: { warn() {}, error: (line) => console.error(`[${kind}] ${line}`) },
})

const unauthenticated = { error: 'unauthenticated' }
/** What the floor's and the bare app's /me answer: the same claims codegrant's /me answers for alice (given by main.mjs). */
const ME = { user: settings.user ?? { sub: 'alice' } }

// The floor: the examples' app shape with codegrant's layers replaced by no-ops that only read
// the Cookie header (the same one is sent). Its request state is a constant with the same user.
const FLOOR_STATE = Object.freeze({ isAuthenticated: true, user: ME.user, tokens: undefined })
let cookieReads = 0 // the no-ops' only work: read the Cookie header (counted, so the read is not dropped)
const readCookie = (headers) => { if (headers.cookie !== undefined) cookieReads++ }

/**
 * Express 5 as examples/express/src/app.ts builds it: x-powered-by off, the app-level
 * middleware, the guard per route, a JSON error handler last. `layers`: 'codegrant' (with
 * `store`), 'floor' (no-ops) or 'bare' (no middleware, no guard, no error handler).
 */
async function expressApp(layers, store, extra) {
  const { default: express } = await import('express')
  const app = express().disable('x-powered-by')
  if (layers === 'bare') {
    app.get('/public', (_req, res) => void res.json(HELLO))
    app.get('/me', (_req, res) => void res.json(ME))
    return listenNode(createServer(app))
  }
  let requireAuth
  if (layers === 'codegrant') {
    const codegrant = await import('@codegrant/express')
    app.use(codegrant.oauth(await codegrantOptions(store, extra)))
    requireAuth = codegrant.requireAuth
  } else {
    app.use(function floorMiddleware(req, _res, next) { readCookie(req.headers); req.oauth = FLOOR_STATE; next() })
    requireAuth = () => function floorGuard(req, _res, next) { readCookie(req.headers); next() }
  }
  // the examples' routes in the examples' order (Express matches them one by one), then /public
  app.get('/', (_req, res) => void res.send('ok'))
  app.post('/demo/refresh', (_req, res) => void res.json({ ok: true }))
  app.get('/me', requireAuth(), (req, res) => void res.json({ user: req.oauth.user }))
  app.get('/api/userinfo', requireAuth(), (_req, res) => void res.json({ ok: true }))
  app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (_req, res) => void res.json({ ok: true }))
  app.get('/public', (_req, res) => void res.json(HELLO))
  if (extra?.apis) apiRoutes(app, requireAuth, extra.apis)
  app.use((error, _req, res, next) => (res.headersSent ? next(error) : void res.status(error.status ?? 500).json({ error: 'internal' })))
  return listenNode(createServer(app))
}

/**
 * Calling an API of `OAUTH_APIS` (issue 20), two ways, each answering the API's JSON:
 *   GET /call/oauth  `req.oauth.fetch('orders', '/')`: the wallet's token for the API, added by codegrant
 *   GET /call/plain  a plain `fetch` of the same URL with a token the app already holds (taken once from
 *                    `req.oauth.accessToken('orders')`, then reused as a constant): the floor of an API call
 */
function apiRoutes(app, requireAuth, apis) {
  const url = new URL('/', apis.orders.url).href
  let token
  const relay = async (res, response) => void res.status(response.status).json(await response.json())
  app.get('/call/oauth', requireAuth(), async (req, res, next) => {
    try { await relay(res, await req.oauth.fetch('orders', '/')) } catch (error) { next(error) }
  })
  app.get('/call/plain', requireAuth(), async (req, res, next) => {
    try {
      token ??= await req.oauth.accessToken('orders')
      await relay(res, await fetch(url, { headers: { authorization: `Bearer ${token}` } }))
    } catch (error) { next(error) }
  })
}

/**
 * Koa 3 + @koa/router as examples/koa/src/app.ts builds it: an error-handling middleware, the
 * app-level middleware, the router (routes, allowedMethods) with the guard per route.
 */
async function koaApp(layers, store) {
  const { default: Koa } = await import('koa')
  const { default: Router } = await import('@koa/router')
  const app = new Koa()
  const router = new Router()
  if (layers === 'bare') {
    router.get('/public', (ctx) => { ctx.body = HELLO })
    router.get('/me', (ctx) => { ctx.body = ME })
    app.use(router.routes())
    return listenNode(createServer(app.callback()))
  }
  let oauth, requireAuth
  if (layers === 'codegrant') {
    ;({ oauth, requireAuth } = await import('@codegrant/koa'))
    oauth = oauth(await codegrantOptions(store))
  } else {
    oauth = function floorMiddleware(ctx, next) { readCookie(ctx.headers); ctx.state.oauth = FLOOR_STATE; return next() }
    requireAuth = () => function floorGuard(ctx, next) { readCookie(ctx.headers); return next() }
  }
  // the examples' routes in the examples' order, then /public
  router.get('/', (ctx) => { ctx.body = 'ok' })
  router.post('/demo/refresh', (ctx) => { ctx.body = { ok: true } })
  router.get('/me', requireAuth(), (ctx) => { ctx.body = { user: ctx.state.oauth.user } })
  router.get('/api/userinfo', requireAuth(), (ctx) => { ctx.body = { ok: true } })
  router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (ctx) => { ctx.body = { ok: true } })
  router.get('/public', (ctx) => { ctx.body = HELLO })
  app.use(async function handleErrors(ctx, next) {
    try {
      await next()
    } catch (error) {
      ctx.status = error.status ?? 500
      ctx.body = { error: 'internal' }
    }
  })
  app.use(oauth)
  app.use(router.routes()).use(router.allowedMethods())
  return listenNode(createServer(app.callback()))
}

/**
 * Fastify 5 as examples/fastify/src/app.ts builds it: an error handler, the plugin (a request
 * decorator, an onRequest hook, and login/callback/logout routes in their own scope), the
 * guard as each route's preHandler, async handlers.
 */
async function fastifyApp(layers, store) {
  const { default: Fastify } = await import('fastify')
  const app = Fastify()
  if (layers === 'bare') {
    app.get('/public', async () => HELLO)
    app.get('/me', async () => ME)
    return listenFastify(app)
  }
  app.setErrorHandler((error, _request, reply) => reply.code(error.statusCode ?? 500).send({ error: 'internal' }))
  let requireAuth
  if (layers === 'codegrant') {
    const codegrant = await import('@codegrant/fastify')
    await app.register(codegrant.oauth, await codegrantOptions(store))
    requireAuth = codegrant.requireAuth
  } else {
    // what fastify-plugin does: the hook and decorator apply to the whole app
    const floorPlugin = async (instance) => {
      instance.decorateRequest('oauth', null)
      instance.addHook('onRequest', (request, _reply, done) => { readCookie(request.headers); request.oauth = FLOOR_STATE; done() })
      await instance.register(async (routes) => {
        const answer = async () => ({ ok: true })
        routes.get('/auth/login', answer)
        routes.route({ method: ['GET', 'POST'], url: '/auth/callback', handler: answer })
        routes.route({ method: ['GET', 'POST'], url: '/auth/logout', handler: answer })
      })
    }
    floorPlugin[Symbol.for('skip-override')] = true
    await app.register(floorPlugin)
    requireAuth = () => function floorGuard(request, _reply, done) { readCookie(request.headers); done() }
  }
  // the examples' routes, then /public
  app.get('/', async () => 'ok')
  app.post('/demo/refresh', async () => ({ ok: true }))
  app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
  app.get('/api/userinfo', { preHandler: requireAuth() }, async () => ({ ok: true }))
  app.get('/admin', { preHandler: requireAuth({ claims: { groups: 'admin' } }) }, async () => ({ ok: true }))
  app.get('/public', async () => HELLO)
  return listenFastify(app)
}

const builders = {
  'express-bare': () => expressApp('bare'),
  'express-floor': () => expressApp('floor'),
  'express-codegrant': () => expressApp('codegrant', 'cookie'),
  'express-memory': () => expressApp('codegrant', 'memory'),
  'express-redis': () => expressApp('codegrant', 'redis'),
  'express-redis-uncached': () => expressApp('codegrant', 'redis'),
  'express-cookie-ended': () => expressApp('codegrant', 'cookie-ended'),
  // the memory store, with the API of settings.apis configured (the wallet keeps its token in the store)
  'express-apis': () => expressApp('codegrant', 'memory', { apis: settings.apis }),
  'koa-bare': () => koaApp('bare'),
  'koa-floor': () => koaApp('floor'),
  'koa-codegrant': () => koaApp('codegrant', 'cookie'),
  'koa-memory': () => koaApp('codegrant', 'memory'),
  'koa-redis': () => koaApp('codegrant', 'redis'),
  'koa-redis-uncached': () => koaApp('codegrant', 'redis'),
  'koa-cookie-ended': () => koaApp('codegrant', 'cookie-ended'),
  'fastify-bare': () => fastifyApp('bare'),
  'fastify-floor': () => fastifyApp('floor'),
  'fastify-codegrant': () => fastifyApp('codegrant', 'cookie'),
  'fastify-memory': () => fastifyApp('codegrant', 'memory'),
  'fastify-redis': () => fastifyApp('codegrant', 'redis'),
  'fastify-redis-uncached': () => fastifyApp('codegrant', 'redis'),
  'fastify-cookie-ended': () => fastifyApp('codegrant', 'cookie-ended'),

  // express-openid-connect, as its README sets it up for "some routes public, some guarded",
  // with the code flow (its default is the implicit id_token flow, which the dev provider
  // does not offer) and `errorOnRequiredAuth` so its guard answers 401 like the others
  // instead of starting a login.
  async 'express-openid-connect'() {
    const { default: express } = await import('express')
    const { default: { auth, requiresAuth } } = await import('express-openid-connect') // CommonJS
    const app = express().disable('x-powered-by')
    app.use(auth({
      authRequired: false,
      issuerBaseURL: settings.issuer,
      baseURL: base,
      clientID: settings.clientId,
      clientSecret: settings.clientSecret,
      clientAuthMethod: 'client_secret_basic',
      secret: settings.cookieSecret,
      idpLogout: false,
      errorOnRequiredAuth: true,
      authorizationParams: { response_type: 'code', scope: 'openid profile email' },
    }))
    app.get('/public', (_req, res) => void res.json(HELLO))
    app.get('/me', requiresAuth(), (req, res) => void res.json({ user: req.oidc.user }))
    app.get('/', (_req, res) => void res.send('ok'))
    app.use((error, _req, res, _next) => void res.status(error.status ?? 500).json(error.status === 401 ? unauthenticated : { error: 'internal' }))
    return listenNode(createServer(app))
  },

  // passport + express-session (MemoryStore, as in passport's own examples) with the
  // openid-client v6 passport strategy (PKCE, code flow); the session keeps the ID token
  // claims and the tokens, as codegrant's does.
  async passport() {
    const { default: express } = await import('express')
    const { default: session } = await import('express-session')
    const { default: passport } = await import('passport')
    const client = await import('openid-client')
    const { Strategy } = await import('openid-client/passport')
    const config = await client.discovery(new URL(settings.issuer), settings.clientId, undefined, client.ClientSecretBasic(settings.clientSecret), {
      execute: [client.allowInsecureRequests],
    })
    passport.use(new Strategy({ name: 'oidc', config, scope: 'openid profile email', callbackURL: `${base}/callback` }, (tokens, done) => {
      done(null, {
        claims: tokens.claims(),
        tokens: { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, idToken: tokens.id_token, tokenType: tokens.token_type, scope: tokens.scope, expiresAt: Math.floor(Date.now() / 1000) + (tokens.expires_in ?? 0) },
      })
    }))
    passport.serializeUser((user, done) => done(null, user))
    passport.deserializeUser((user, done) => done(null, user))
    const app = express().disable('x-powered-by')
    app.use(session({ secret: settings.cookieSecret, resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }))
    app.use(passport.session())
    app.get('/login', passport.authenticate('oidc'))
    app.get('/callback', passport.authenticate('oidc', { successRedirect: '/', failureRedirect: '/failed' }))
    const requireUser = (req, res, next) => (req.isAuthenticated() ? next() : void res.status(401).json(unauthenticated))
    app.get('/public', (_req, res) => void res.json(HELLO))
    app.get('/me', requireUser, (req, res) => void res.json({ user: req.user.claims }))
    app.get('/', (_req, res) => void res.send('ok'))
    return listenNode(createServer(app))
  },

  // @fastify/oauth2 has no session and no guard: only "mounted, anonymous request".
  async 'fastify-oauth2'() {
    const { default: Fastify } = await import('fastify')
    const { default: oauthPlugin } = await import('@fastify/oauth2')
    const app = Fastify()
    await app.register(oauthPlugin, {
      name: 'oidc',
      scope: ['openid', 'profile', 'email'],
      credentials: { client: { id: settings.clientId, secret: settings.clientSecret } },
      discovery: { issuer: settings.issuer },
      startRedirectPath: '/login',
      callbackUri: `${base}/callback`,
      pkce: 'S256',
    })
    app.get('/public', async () => HELLO)
    return listenFastify(app)
  },
}

/** BENCH_COUNT=1 (for profiles): count the requests served and print the count at close. */
let served = 0
const count = (server) => { if (process.env.BENCH_COUNT === '1') server.on('request', () => served++) }

function listenNode(server) {
  count(server)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(settings.port, '127.0.0.1', () => resolve(() => new Promise((done) => { server.closeAllConnections(); server.close(done) })))
  })
}

async function listenFastify(app) {
  count(app.server)
  await app.listen({ port: settings.port, host: '127.0.0.1' })
  return () => app.close()
}

const build = builders[kind]
if (!build) {
  console.error(`unknown server kind ${kind}; one of ${Object.keys(builders).join(', ')}`)
  process.exit(2)
}
const close = await build()
process.send?.({ ready: kind })
process.on('message', async (message) => {
  // the bench asks a memory-store twin for the record its login stored (see `memory`)
  if (message?.record !== undefined) {
    process.send?.({ record: (await memory?.get(message.record)) ?? null })
    return
  }
  if (message === 'close') {
    await close()
    if (process.env.BENCH_COUNT === '1') console.log(`pid ${process.pid} served ${served} requests`)
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
// run by hand (no IPC): stop cleanly, so that --cpu-prof writes its profile
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0))
