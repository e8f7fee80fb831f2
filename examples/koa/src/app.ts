import { isCodegrantError, oauth, requireAuth, type OAuthOptions, type OAuthRequestState } from '@codegrant/koa'
import Router from '@koa/router'
import Koa, { type Middleware } from 'koa'

/**
 * The example app, not listening: `/` (public), `/me`, `/api/userinfo` (signed in) and
 * `/admin` (group admin). `options` override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` when the configuration is incomplete.
 */
export function createApp(options?: OAuthOptions): Koa {
  const app = new Koa()
  const router = new Router()
  const userinfoEndpoint = findUserinfoEndpoint(options)

  router.get('/', (ctx) => {
    ctx.set('cache-control', 'no-store')
    ctx.type = 'html'
    ctx.body = homePage(ctx.state.oauth.user)
  })
  router.get('/me', requireAuth(), (ctx) => {
    ctx.body = { user: ctx.state.oauth.user }
  })
  router.get('/api/userinfo', requireAuth(), async (ctx) => {
    const { status, body } = await fetchUserinfo(ctx.state.oauth, userinfoEndpoint)
    ctx.status = status
    ctx.body = body
  })
  router.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (ctx) => {
    ctx.body = { ok: true }
  })

  app.use(handleErrors)
  app.use(oauth(options))
  app.use(router.routes()).use(router.allowedMethods())
  return app
}

/** JSON errors, never a stack trace: a CodegrantError's own status (e.g. 401 session_ended), else 500. */
const handleErrors: Middleware = async (ctx, next) => {
  try {
    await next()
  } catch (error) {
    if (isCodegrantError(error)) {
      ctx.status = error.status
      ctx.body = { error: error.code.replace('codegrant/', ''), code: error.code }
      return
    }
    const status = (error as { status?: unknown } | null)?.status
    if (typeof status === 'number' && status >= 400 && status < 500) {
      ctx.status = status
      ctx.body = { error: 'bad_request' }
      return
    }
    ctx.status = 500
    ctx.body = { error: 'internal_error' }
    ctx.app.emit('error', error, ctx) // Koa's default handler logs it
  }
}

function homePage(user: OAuthRequestState['user']): string {
  const body = user
    ? `<p>Signed in as <strong>${escapeHtml(String(user.name ?? user.sub))}</strong> · <a href="/auth/logout">Log out</a></p>` +
      '<ul><li><a href="/me">/me</a></li><li><a href="/api/userinfo">/api/userinfo</a></li><li><a href="/admin">/admin</a></li></ul>'
    : '<p><a href="/auth/login">Log in</a></p>'
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>codegrant Koa example</title></head><body><h1>codegrant Koa example</h1>${body}</body></html>`
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

class UpstreamError extends Error {
  constructor(readonly status: number | null) {
    super(`the provider answered ${status ?? 'nothing'}`)
  }
}

/** OAUTH_USERINFO_ENDPOINT, else the issuer's discovery document (fetched once; a failure is retried next time). */
function findUserinfoEndpoint(options: OAuthOptions = {}, env = process.env): () => Promise<string> {
  const explicit = options.userinfoEndpoint ?? env.OAUTH_USERINFO_ENDPOINT
  const issuer = options.issuer ?? env.OAUTH_ISSUER ?? env.ISSUER_BASE_URL
  let found: Promise<string> | undefined
  const discover = async (): Promise<string> => {
    if (!issuer) throw new UpstreamError(null)
    const response = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) })
    const metadata = response.ok ? ((await response.json()) as { userinfo_endpoint?: unknown }) : undefined
    if (typeof metadata?.userinfo_endpoint !== 'string') throw new UpstreamError(response.status)
    return metadata.userinfo_endpoint
  }
  return () => {
    if (explicit) return Promise.resolve(explicit)
    found ??= discover().catch((error: unknown) => {
      found = undefined
      throw error
    })
    return found
  }
}

/** The provider's userinfo response as it is, through `oauth.fetch` (which refreshes); 502 when the provider fails. */
async function fetchUserinfo(oauthState: OAuthRequestState, endpoint: () => Promise<string>): Promise<{ status: number; body: unknown }> {
  const failed = (status: number | null) => ({ status: 502, body: { error: 'userinfo_failed', status } })
  try {
    const response = await oauthState.fetch(await endpoint(), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) })
    if (!response.ok) {
      await response.body?.cancel()
      return failed(response.status)
    }
    return await response.json().then((body: unknown) => ({ status: 200, body }), () => failed(response.status))
  } catch (error) {
    if (isCodegrantError(error)) throw error // session ended, provider down: the error handler answers
    return failed(error instanceof UpstreamError ? error.status : null)
  }
}
