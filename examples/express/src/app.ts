import { errorAnswer, homePage, userinfo } from '@codegrant/example-kit'
import { oauth, requireAuth, type OAuthOptions } from '@codegrant/express'
import express, { type ErrorRequestHandler, type Express } from 'express'

/**
 * The example app, not listening: `/` (public), `/me`, `/api/userinfo` (signed in) and
 * `/admin` (group admin). `options` override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` when the configuration is incomplete.
 */
export function createApp(options?: OAuthOptions): Express {
  const app = express().disable('x-powered-by')
  const userinfoFor = userinfo(options)
  app.use(oauth(options))

  app.get('/', (req, res) => {
    res.set('cache-control', 'no-store').type('html').send(homePage('Express', req.oauth.user))
  })
  app.get('/me', requireAuth(), (req, res) => {
    res.json({ user: req.oauth.user })
  })
  app.get('/api/userinfo', requireAuth(), async (req, res) => {
    const { status, body } = await userinfoFor(req.oauth)
    res.status(status).json(body)
  })
  app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), (_req, res) => {
    res.json({ ok: true })
  })

  app.use(handleError)
  return app
}

/** JSON errors, never a stack trace. */
const handleError: ErrorRequestHandler = (error: unknown, _req, res, next) => {
  if (res.headersSent) return next(error)
  const { status, body, unexpected } = errorAnswer(error)
  if (unexpected) console.error(error)
  res.status(status).json(body)
}
