import { createAdapter, developing, slotTrap, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions } from '@codegrant/core/adapter'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'

export type { LoginOptions, OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core/adapter'
export { CodegrantError, isCodegrantError } from '@codegrant/core/adapter'

declare module 'fastify' {
  interface FastifyRequest {
    /** codegrant's view of the request: session, user, tokens. Set by the `oauth` plugin. */
    oauth: OAuthRequestState
  }
  interface FastifyInstance {
    /** The same guard as the exported `requireAuth`, for `{ preHandler: app.requireAuth() }`. */
    requireAuth: typeof requireAuth
  }
}

const FORM = 'application/x-www-form-urlencoded'
const SECEVENT = 'application/secevent+jwt'
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

const fastify = createAdapter<FastifyRequest, FastifyReply>({
  request(request) {
    const socket = request.raw.socket as (FastifyRequest['raw']['socket'] & { encrypted?: boolean }) | undefined
    return { method: request.method, url: request.url, headers: request.headers, encrypted: socket?.encrypted === true, connection: socket }
  },
  setState(request, state) {
    request.oauth = state
  },
  getState: (request) => request.oauth,
  // the raw stream: read only by the BFF's proxy, in the onRequest hook, before Fastify parses
  // it; codegrant's own POST routes get the body Fastify parsed (the form parser below)
  stream: (request) => request.raw,
  parsedBody: (request) => request.body,
  sent: (reply) => reply.sent,
  // Fastify appends (rather than replaces) `set-cookie` values
  setCookies(reply, cookies) {
    reply.header('set-cookie', cookies)
  },
  write(reply, { status, headers, body, stream }) {
    // a stream (the BFF's proxied answer) is piped by Fastify, and destroyed if the browser goes away
    reply.code(status).headers(headers).send(stream ?? body ?? '')
  },
  errors: 'next',
  routes: 'router',
})

/** Development: what reading `request.oauth` before the plugin's `onRequest` hook ran says. */
const trap = slotTrap<FastifyRequest, OAuthRequestState>('oauth', (request) =>
  `codegrant: request.oauth was read on ${request.method} ${request.url?.split('?', 1)[0]} before the oauth plugin's onRequest hook ran: await app.register(oauth) before the hooks that read request.oauth, in the same or a parent scope`)

async function codegrantPlugin(app: FastifyInstance, options: OAuthOptions): Promise<void> {
  const { codegrant, middleware, serve } = fastify.mount(options)
  // development: request.oauth read before the plugin's hook ran throws, naming the fix
  if (developing()) app.decorateRequest('oauth', { getter: trap.get, setter: trap.set })
  // null on every request until the hook attaches it, as Fastify asks of a decoration set per
  // request (the property exists from the start: one object shape); typed as the null it is, under
  // a plain name (`string`), since `oauth`'s declared type is the attached state
  else app.decorateRequest<null, string>('oauth', null)
  app.decorate('requireAuth', requireAuth)
  app.addHook('onRequest', middleware)

  // routes live in their own scope so the form parser they need stays theirs
  await app.register(async (routes) => {
    // forms, and Shared Signals' SETs (`application/secevent+jwt`, RFC 8935): both read as text
    for (const type of [FORM, SECEVENT]) {
      if (!routes.hasContentTypeParser(type)) routes.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body))
    }
    // every method but OPTIONS (left to CORS) reaches the core, which answers what a route does not
    // serve 405 with Allow, as on Express and Koa; HEAD comes with GET. The reply is returned, a
    // thenable: Fastify then waits for the answer codegrant started instead of sending one itself
    for (const { path, route } of codegrant.served) {
      routes.route({ method: METHODS, url: path, handler: async (request, reply) => { await serve(route, request, reply); return reply } })
    }
  })
}

/**
 * codegrant for Fastify 4 and 5: registers the login, callback and logout routes and puts
 * `request.oauth` on every request. Options override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` at registration, listing every problem.
 * @see [RFC 6749 §4.1 — Authorization Code Grant](https://www.rfc-editor.org/rfc/rfc6749.html#section-4.1), with [RFC 7636 — PKCE](https://www.rfc-editor.org/rfc/rfc7636.html)
 * @see [OpenID Connect Core 1.0 §3.1 — Authorization Code Flow](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 * @see [RFC 9700 — OAuth 2.0 Security Best Current Practice](https://www.rfc-editor.org/rfc/rfc9700.html)
 * @example
 * await app.register(oauth)
 * app.get('/me', { preHandler: requireAuth() }, async (request) => ({ user: request.oauth.user }))
 */
export const oauth = fp(codegrantPlugin, { fastify: '4.x || 5.x', name: '@codegrant/fastify' })
export default oauth

/**
 * Guards routes as a `preHandler` (or `onRequest` after the plugin's hook): browsers are sent
 * to login, API clients get 401 JSON, and users lacking `scopes` or `claims` get 403 JSON.
 * Added in one plugin scope, it guards only that scope.
 *
 * @see [RFC 6750 §3 — The WWW-Authenticate Response Header Field](https://www.rfc-editor.org/rfc/rfc6750.html#section-3)
 * @see [RFC 9470 — OAuth 2.0 Step Up Authentication Challenge](https://www.rfc-editor.org/rfc/rfc9470.html) (`maxAge`, `acr`)
 * @example
 * app.get('/admin', { preHandler: requireAuth({ claims: { groups: 'admin' } }) }, handler)
 */
export function requireAuth(options?: RequireAuthOptions): preHandlerHookHandler {
  // a callback hook, not an async one: a request that needs no I/O goes on without a promise
  return fastify.requireAuth(options)
}
