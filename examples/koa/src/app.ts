import { apiNames, callApi, errorAnswer, favicon, inspector, spa, userinfo, type KitAnswer } from '@codegrant/example-kit'
import { oauth, requireAuth, type OAuthOptions } from '@codegrant/koa'
import Router from '@koa/router'
import Koa, { type Context, type Middleware } from 'koa'

/**
 * The example app, not listening: `/` (public: the session inspector), `/me`, `/api/userinfo`
 * (signed in), `/api/call/<api>` (signed in: each API of `OAUTH_APIS`, called with its own token), `/admin` (group admin),
 * `POST /demo/refresh` (the inspector's refresh button) and `GET /demo/sessions`, `POST /demo/sessions/end-others`
 * (the user's sessions, with a server-side store), and with `OAUTH_BFF` `/spa` (the single-page app and its modules).
 * `options` override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` when the configuration is incomplete.
 */
export function createApp(options?: OAuthOptions): Koa {
  const app = new Koa()
  const router = new Router()
  const userinfoFor = userinfo(options)
  const page = inspector('Koa', options)
  const spaFile = spa('Koa', options)
  const apis = apiNames(options)

  router.get('/', (ctx) => {
    send(ctx, page.home(ctx.state.oauth, ctx.headers))
  })
  router.get(['/spa', '/spa/:module'], (ctx, next) => {
    const answer = spaFile(ctx.path)
    return answer ? send(ctx, answer) : next()
  })
  router.post('/demo/refresh', async (ctx) => {
    send(ctx, await page.refresh(ctx.state.oauth, ctx.headers))
  })
  router.get('/demo/sessions', requireAuth(), async (ctx) => {
    send(ctx, await page.sessions(ctx.state.oauth))
  })
  router.post('/demo/sessions/end-others', requireAuth(), async (ctx) => {
    send(ctx, await page.endOtherSessions(ctx.state.oauth, ctx.headers))
  })
  router.get('/me', requireAuth(), (ctx) => {
    ctx.body = { user: ctx.state.oauth.user }
  })
  router.get('/api/userinfo', requireAuth(), async (ctx) => {
    const { status, body } = await userinfoFor(ctx.state.oauth)
    ctx.status = status
    ctx.body = body
  })
  router.get('/api/call/:api', requireAuth(), async (ctx) => {
    const { status, body } = await callApi(ctx.state.oauth, ctx.params.api ?? '', apis)
    ctx.status = status
    ctx.body = body
  })
  router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (ctx) => {
    ctx.body = { ok: true }
  })

  app.use(handleErrors)
  // before oauth(): the browser's icon request needs no session
  app.use(async (ctx, next) => {
    if (ctx.path !== '/favicon.ico' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next()
    send(ctx, favicon)
  })
  app.use(oauth(options))
  app.use(router.routes()).use(router.allowedMethods())
  return app
}

function send(ctx: Context, { status, headers, body }: KitAnswer): void {
  ctx.status = status
  ctx.set(headers)
  ctx.body = body
}

/** JSON errors, never a stack trace. */
const handleErrors: Middleware = async (ctx, next) => {
  try {
    await next()
  } catch (error) {
    const { status, body, unexpected } = errorAnswer(error)
    ctx.status = status
    ctx.body = body
    if (unexpected) ctx.app.emit('error', error, ctx) // Koa's default handler logs it
  }
}
