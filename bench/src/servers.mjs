// One app under test per process: `node servers.mjs <kind>`, configured by the BENCH_SERVER
// environment variable (JSON), listening on 127.0.0.1 and reporting `ready` over IPC.
// Every app has the same routes where its stack has them:
//   GET /public   small JSON, no guard (never reads the session)
//   GET /guarded  the stack's guard, then a small JSON with the user's `sub`
// plus whatever login/callback routes the stack itself serves.
import { createServer } from 'node:http'

const HELLO = { hello: 'world' }
const settings = JSON.parse(process.env.BENCH_SERVER ?? '{}')
const kind = process.argv[2]
const base = `http://127.0.0.1:${settings.port}`

const codegrantOptions = () => ({
  issuer: settings.issuer,
  clientId: settings.clientId,
  clientSecret: settings.clientSecret,
  baseUrl: base,
  cookieSecret: settings.cookieSecret,
  // the dev provider is http on loopback: codegrant warns about it once, which is expected here
  logger: { warn() {}, error: (line) => console.error(`[${kind}] ${line}`) },
})

const unauthenticated = { error: 'unauthenticated' }

const builders = {
  async 'express-bare'() {
    const { default: express } = await import('express')
    const app = express()
    app.get('/public', (_req, res) => void res.json(HELLO))
    return listenNode(createServer(app))
  },

  async 'express-codegrant'() {
    const { default: express } = await import('express')
    const { oauth, requireAuth } = await import('@codegrant/express')
    const app = express()
    app.use(oauth(codegrantOptions()))
    app.get('/public', (_req, res) => void res.json(HELLO))
    app.get('/guarded', requireAuth(), (req, res) => void res.json({ sub: req.oauth.user.sub }))
    app.get('/', (_req, res) => void res.send('ok'))
    return listenNode(createServer(app))
  },

  async 'koa-bare'() {
    const { default: Koa } = await import('koa')
    const { default: Router } = await import('@koa/router')
    const app = new Koa()
    const router = new Router()
    router.get('/public', (ctx) => { ctx.body = HELLO })
    app.use(router.routes())
    return listenNode(createServer(app.callback()))
  },

  async 'koa-codegrant'() {
    const { default: Koa } = await import('koa')
    const { default: Router } = await import('@koa/router')
    const { oauth, requireAuth } = await import('@codegrant/koa')
    const app = new Koa()
    const router = new Router()
    app.use(oauth(codegrantOptions()))
    router.get('/public', (ctx) => { ctx.body = HELLO })
    router.get('/guarded', requireAuth(), (ctx) => { ctx.body = { sub: ctx.state.oauth.user.sub } })
    router.get('/', (ctx) => { ctx.body = 'ok' })
    app.use(router.routes())
    return listenNode(createServer(app.callback()))
  },

  async 'fastify-bare'() {
    const { default: Fastify } = await import('fastify')
    const app = Fastify()
    app.get('/public', async () => HELLO)
    return listenFastify(app)
  },

  async 'fastify-codegrant'() {
    const { default: Fastify } = await import('fastify')
    const { oauth, requireAuth } = await import('@codegrant/fastify')
    const app = Fastify()
    await app.register(oauth, codegrantOptions())
    app.get('/public', async () => HELLO)
    app.get('/guarded', { preHandler: requireAuth() }, async (request) => ({ sub: request.oauth.user.sub }))
    app.get('/', async () => 'ok')
    return listenFastify(app)
  },

  // express-openid-connect, as its README sets it up for "some routes public, some guarded",
  // with the code flow (its default is the implicit id_token flow, which the dev provider
  // does not offer) and `errorOnRequiredAuth` so its guard answers 401 like the others
  // instead of starting a login.
  async 'express-openid-connect'() {
    const { default: express } = await import('express')
    const { default: { auth, requiresAuth } } = await import('express-openid-connect') // CommonJS
    const app = express()
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
    app.get('/guarded', requiresAuth(), (req, res) => void res.json({ sub: req.oidc.user.sub }))
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
    const app = express()
    app.use(session({ secret: settings.cookieSecret, resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }))
    app.use(passport.session())
    app.get('/login', passport.authenticate('oidc'))
    app.get('/callback', passport.authenticate('oidc', { successRedirect: '/', failureRedirect: '/failed' }))
    const requireUser = (req, res, next) => (req.isAuthenticated() ? next() : void res.status(401).json(unauthenticated))
    app.get('/public', (_req, res) => void res.json(HELLO))
    app.get('/guarded', requireUser, (req, res) => void res.json({ sub: req.user.claims.sub }))
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

function listenNode(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(settings.port, '127.0.0.1', () => resolve(() => new Promise((done) => { server.closeAllConnections(); server.close(done) })))
  })
}

async function listenFastify(app) {
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
  if (message === 'close') {
    await close()
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
