import { createCodegrant, guard, guardOptions, type CoreRequest, type CoreResponse, type OAuthOptions, type OAuthRequestState, type RequireAuthOptions, type Route } from '@codegrant/core'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify'
import fp from 'fastify-plugin'

export type { LoginOptions, OAuthOptions, OAuthRequestState, RequireAuthOptions } from '@codegrant/core'
export { CodegrantError, isCodegrantError } from '@codegrant/core'

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
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']

function toCore(request: FastifyRequest): CoreRequest {
  const socket = request.raw.socket as (FastifyRequest['raw']['socket'] & { encrypted?: boolean }) | undefined
  return { method: request.method, url: request.url, headers: request.headers, body: request.body as CoreRequest['body'], encrypted: socket?.encrypted === true, connection: socket }
}

function send(reply: FastifyReply, result: CoreResponse): FastifyReply {
  // something else (a timeout hook) may have answered first: never write twice
  if (reply.sent) return reply
  appendCookies(result.cookies, reply)
  return reply.code(result.status).headers(result.headers).send(result.body ?? '')
}

function appendCookies(cookies: string[], reply: FastifyReply): void {
  // Fastify appends (rather than replaces) `set-cookie` values
  if (cookies.length > 0 && !reply.sent) reply.header('set-cookie', cookies)
}

async function codegrantPlugin(app: FastifyInstance, options: OAuthOptions): Promise<void> {
  const codegrant = createCodegrant(options)
  app.decorateRequest('oauth', null as unknown as OAuthRequestState)
  app.decorate('requireAuth', requireAuth)
  app.addHook('onRequest', (request, reply, done) => {
    const core = toCore(request)
    const attached = codegrant.attach(core, appendCookies, reply)
    if (!(attached instanceof Promise)) {
      request.oauth = attached
      return done()
    }
    attached
      .then(
        (state) => { request.oauth = state; done() },
        // only an unexpected failure rejects (a store that cannot be read does not): codegrant answers
        (error: unknown) => void send(reply, codegrant.respond(core, error)),
      )
      .catch(done)
  })

  // routes live in their own scope so the form parser they need stays theirs
  await app.register(async (routes) => {
    if (!routes.hasContentTypeParser(FORM)) {
      routes.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body))
    }
    const serve = (route: Route) => async (request: FastifyRequest, reply: FastifyReply) =>
      send(reply, await codegrant.handle(route, toCore(request), request.oauth))
    // every method but OPTIONS (left to CORS) reaches the core, which answers what a route does not
    // serve 405 with Allow, as on Express and Koa; HEAD comes with GET
    for (const { path, route } of codegrant.served) routes.route({ method: METHODS, url: path, handler: serve(route) })
  })
}

/**
 * codegrant for Fastify 4 and 5: registers the login, callback and logout routes and puts
 * `request.oauth` on every request. Options override the `OAUTH_*` environment variables.
 *
 * @throws {CodegrantError} `codegrant/config_invalid` at registration, listing every problem.
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
 */
export function requireAuth(options?: RequireAuthOptions): preHandlerHookHandler {
  guardOptions(options)
  // a callback hook, not an async one: a request that needs no I/O goes on without a promise
  return function codegrantGuard(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    // the request the plugin's hook attached the state with (same method, URL and headers)
    const decision = guard(request.oauth, request.oauth ? undefined : toCore(request), options)
    if (decision instanceof Promise) {
      decision.then((result) => (result ? void send(reply, result) : done())).catch(done)
      return
    }
    if (decision) send(reply, decision)
    else done()
  }
}
