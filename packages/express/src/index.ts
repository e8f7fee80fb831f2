import { createAdapter, trapUnset, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions } from '@codegrant/core/adapter'
import type { Request, RequestHandler, Response } from 'express'

export type { LoginOptions, OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core/adapter'
export { CodegrantError, isCodegrantError } from '@codegrant/core/adapter'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** codegrant's view of the request: session, user, tokens. Set by `oauth()`. */
      oauth: OAuthRequestState
    }
  }
}

const express = createAdapter<Request, Response>({
  request(req) {
    const socket = req.socket as (Request['socket'] & { encrypted?: boolean }) | undefined
    return { method: req.method, url: req.originalUrl, headers: req.headers, encrypted: socket?.encrypted === true, connection: socket }
  },
  setState(req, state) {
    req.oauth = state
  },
  getState: (req) => req.oauth,
  // development: req.oauth read on a request oauth() did not see throws, naming the fix
  arm: (req) => trapUnset<Request>(Object.getPrototypeOf(req), 'oauth', notAttached),
  stream: (req) => req,
  // read only for codegrant's POST routes: `body`, which Express's request lacks without a body
  // parser, costs a prototype-chain walk
  parsedBody: (req) => req.body,
  sent: (res) => res.headersSent,
  setCookies(res, cookies) {
    res.append('Set-Cookie', cookies)
  },
  write(res, { status, headers, body, stream }) {
    res.status(status)
    if (!stream) {
      res.set(headers).end(body)
      return
    }
    // the BFF's proxied answer as it arrives, its headers as the API sent them (res.set would add
    // a charset); a browser that goes away ends the API's stream too
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
    res.on('close', () => stream.destroy())
    stream.on('error', () => res.destroy()).pipe(res)
  },
  errors: 'next',
  routes: 'middleware',
})

/** What reading `req.oauth` on a request `oauth()` did not see says (development only). */
function notAttached(req: Request): string {
  return `codegrant: req.oauth was read on ${req.method} ${req.originalUrl?.split('?', 1)[0]}, which oauth() did not see: app.use(oauth()) must come before the routes and routers that read req.oauth`
}

/**
 * Mounts codegrant on an Express 4 or 5 app: serves the login, callback and logout routes and
 * puts `req.oauth` on every request. Options override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` at start-up, listing every problem.
 * @see [RFC 6749 §4.1 — Authorization Code Grant](https://www.rfc-editor.org/rfc/rfc6749.html#section-4.1), with [RFC 7636 — PKCE](https://www.rfc-editor.org/rfc/rfc7636.html)
 * @see [OpenID Connect Core 1.0 §3.1 — Authorization Code Flow](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 * @see [RFC 9700 — OAuth 2.0 Security Best Current Practice](https://www.rfc-editor.org/rfc/rfc9700.html)
 * @example
 * app.use(oauth())
 * app.get('/me', requireAuth(), (req, res) => res.json({ user: req.oauth.user }))
 */
export function oauth(options?: OAuthOptions): RequestHandler {
  return express.mount(options).middleware
}

/**
 * Guards a route: browsers are sent to login, API clients get 401 JSON, and users lacking the
 * required `scopes` or `claims` get 403 JSON.
 *
 * @see [RFC 6750 §3 — The WWW-Authenticate Response Header Field](https://www.rfc-editor.org/rfc/rfc6750.html#section-3)
 * @see [RFC 9470 — OAuth 2.0 Step Up Authentication Challenge](https://www.rfc-editor.org/rfc/rfc9470.html) (`maxAge`, `acr`)
 * @example
 * app.get('/admin', requireAuth({ claims: { groups: 'admin' } }), handler)
 */
export function requireAuth(options?: RequireAuthOptions): RequestHandler {
  return express.requireAuth(options)
}
