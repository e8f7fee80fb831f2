import { apiNames, callApi, errorAnswer, favicon, inspector, spa, userinfo, type KitAnswer } from '@codegrant/example-kit'
import { oauth, requireAuth, type OAuthOptions } from '@codegrant/express'
import express, { type ErrorRequestHandler, type Express, type Response } from 'express'

/**
 * The example app, not listening: `/` (public: the session inspector), `/me`, `/api/userinfo`
 * (signed in), `/api/call/<api>` (signed in: each API of `OAUTH_APIS`, called with its own token), `/admin` (group admin),
 * `POST /demo/refresh` (the inspector's refresh button) and `GET /demo/sessions`, `POST /demo/sessions/end-others`
 * (the user's sessions, with a server-side store), and with `OAUTH_BFF` `/spa` (the single-page app and its modules).
 * `options` override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` when the configuration is incomplete.
 */
export function createApp(options?: OAuthOptions): Express {
  const app = express().disable('x-powered-by')
  const userinfoFor = userinfo(options)
  const page = inspector('Express', options)
  const spaFile = spa('Express', options)
  const apis = apiNames(options)
  // before oauth(): the browser's icon request needs no session
  app.get('/favicon.ico', (_req, res) => {
    send(res, favicon)
  })
  app.use(oauth(options))

  app.get('/', (req, res) => {
    send(res, page.home(req.oauth, req.headers))
  })
  app.get(['/spa', '/spa/:module'], (req, res, next) => {
    const answer = spaFile(req.path)
    if (answer) send(res, answer)
    else next()
  })
  app.post('/demo/refresh', async (req, res) => {
    send(res, await page.refresh(req.oauth, req.headers))
  })
  app.get('/demo/sessions', requireAuth(), async (req, res) => {
    send(res, await page.sessions(req.oauth))
  })
  app.post('/demo/sessions/end-others', requireAuth(), async (req, res) => {
    send(res, await page.endOtherSessions(req.oauth, req.headers))
  })
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: req.oauth.user })
  })
  app.get('/api/userinfo', requireAuth(), async (req, res) => {
    const { status, body } = await userinfoFor(req.oauth)
    res.status(status).json(body)
  })
  app.get('/api/call/:api', requireAuth(), async (req, res) => {
    const { status, body } = await callApi(req.oauth, String(req.params.api), apis)
    res.status(status).json(body)
  })
  app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (_req, res) => {
    res.json({ ok: true })
  })

  app.use(handleError)
  return app
}

function send(res: Response, { status, headers, body }: KitAnswer): void {
  res.status(status).set(headers).send(body)
}

/** JSON errors, never a stack trace. */
const handleError: ErrorRequestHandler = (error: unknown, _req, res, next) => {
  if (res.headersSent) return next(error)
  const { status, body, unexpected } = errorAnswer(error)
  if (unexpected) console.error(error)
  res.status(status).json(body)
}
