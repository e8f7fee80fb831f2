import { createCodegrant, type Codegrant, type CookieSink, type Route } from './codegrant.js'
import type { OAuthOptions } from './config/options.js'
import { guard, guardOptions, type RequireAuthOptions } from './guard.js'
import { readBody, type BodyStream, type CoreRequest, type CoreResponse } from './http.js'
import type { OAuthRequestState } from './request-state.js'

/**
 * A framework's "go on": Express's `next`, Fastify's `done` (both also take an error), Koa's
 * `next` (which returns the rest of the chain as a promise).
 */
export type Next<R> = (error?: Error) => R

/**
 * What an adapter tells codegrant about its framework: a few callbacks, each a line or two.
 * `Req` is the framework's request and `Res` what answers it (Koa: the context, for both).
 * Every callback runs with plain arguments, so an adapter defines them once, at module level.
 */
export interface Framework<Req, Res> {
  /**
   * The request as the core sees it, without the body (read only for codegrant's own routes).
   * Runs on every request: refer to the framework's headers object, never copy it.
   */
  request(req: Req): CoreRequest
  /** Puts the request state where the app reads it: `req.oauth`, `ctx.state.oauth`, `request.oauth`. */
  setState(req: Req, state: OAuthRequestState): void
  /** Reads it back for the guard (undefined at run time, or a trapped read, when the middleware did not run: the guard says so). */
  getState(req: Req): OAuthRequestState
  /**
   * The body of a POST to one of codegrant's routes as a body parser left it (undefined if none
   * ran). Read only for those routes: a property a request lacks can cost a prototype-chain walk.
   */
  parsedBody(req: Req): unknown
  /**
   * The request's stream, read (up to 64 KiB) when no body parser has read it. Leave it out when
   * the framework parses every body itself (Fastify).
   */
  stream?(req: Req): BodyStream & { readonly readableEnded: boolean }
  /** Whether an answer has begun: then codegrant writes nothing (a timeout middleware answered first). */
  sent(res: Res): boolean
  /** Adds `Set-Cookie` values, keeping those already set. */
  setCookies(res: Res, cookies: string[]): void
  /** Writes the status, the headers and the body; the cookies are set already. */
  write(res: Res, response: CoreResponse): void
  /**
   * How the framework hears of a failure: `next` passes it to the "go on" callback (Express's
   * `next(error)`, Fastify's `done(error)`) and returns nothing; `reject` returns a promise that
   * rejects with it (Koa), and a promise for every outcome.
   */
  errors: 'next' | 'reject'
  /**
   * Who serves codegrant's routes: the middleware itself, matching each request's path
   * (Express, Koa), or the framework's router, through `serve` (Fastify: `served` lists them).
   */
  routes: 'middleware' | 'router'
  /**
   * Development only: called with the first request `oauth()` attaches to, to make reading the
   * state throw on the requests it does not see (a route mounted before it) instead of giving
   * `undefined` — usually {@link trapUnset} on the request's prototype. Never called when
   * `NODE_ENV` is `production`.
   */
  arm?(req: Req): void
}

/** Development: not `NODE_ENV=production`. Only then do adapters trap a state read before `oauth()` ran. */
export function developing(): boolean {
  return process.env.NODE_ENV !== 'production'
}

/** A read of the request state on a request `oauth()` did not attach to (development only). */
export class StateNotAttachedError extends Error {
  override name = 'StateNotAttachedError'
}

/**
 * The accessors of a trapped property: reading it before it is set throws
 * {@link StateNotAttachedError} with `message(holder)` (which names the fix), setting it makes
 * it an ordinary own property of the holder, read as usual from then on. For a holder the app
 * copies (Koa's `ctx.state`, which views merge into their locals); a request object, set on every
 * request, takes {@link slotTrap}.
 */
export function stateTrap<H extends object>(name: string, message: (holder: H) => string): { get(this: H): never; set(this: H, value: unknown): void } {
  return {
    get() {
      throw new StateNotAttachedError(message(this))
    },
    set(value) {
      Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true })
    },
  }
}

/**
 * {@link stateTrap} for a request object, which the middleware sets on every request: the value is
 * kept in a symbol-keyed slot of the holder, written and read through the accessors (a plain store
 * and load once inlined), where defining an own property (a runtime call with a descriptor, every
 * request of a development server: ~0.13 µs, a quarter of codegrant's own time per guarded request
 * in the Fastify example's profile) cost more than the rest of attaching the state. Reading it
 * before it is set throws, naming the fix.
 */
export function slotTrap<H extends object, V = unknown>(name: string, message: (holder: H) => string): { get(this: H): V; set(this: H, value: V): void } {
  const slot = Symbol(`codegrant ${name}`)
  return {
    get() {
      const value = (this as Record<symbol, V>)[slot]
      if (value !== undefined || slot in this) return value as V
      throw new StateNotAttachedError(message(this))
    },
    set(value) {
      ;(this as Record<symbol, V>)[slot] = value
    },
  }
}

/** Puts a {@link slotTrap} for `name` on `prototype` (a request's), unless it has one (or the property) already. */
export function trapUnset<H extends object>(prototype: H, name: string, message: (holder: H) => string): void {
  if (!Object.hasOwn(prototype, name)) Object.defineProperty(prototype, name, { configurable: true, ...slotTrap(name, message) })
}

/** The request's state for the guard; undefined when `oauth()` did not attach to the request (trapped or not). */
function stateOf<Req>(framework: Framework<Req, unknown>, req: Req): OAuthRequestState | undefined {
  try {
    return framework.getState(req)
  } catch (error) {
    if (error instanceof StateNotAttachedError) return undefined
    throw error
  }
}

/** A middleware or guard in the framework's shape: `(req, res, next)`; Koa passes its context twice. */
export type Handler<Req, Res> = <R>(req: Req, res: Res, next: Next<R>) => R | Promise<unknown> | undefined

/** codegrant mounted on one app. */
export interface Mounted<Req, Res> {
  readonly codegrant: Codegrant
  /**
   * Runs first on every request: attaches the request state, serves codegrant's routes (with
   * `routes: 'middleware'`), and otherwise goes on.
   */
  readonly middleware: Handler<Req, Res>
  /** Serves one of codegrant's routes, for a framework that routes them itself (after `middleware`). */
  serve(route: Route, req: Req, res: Res): Promise<void>
}

/** What `createAdapter` gives an adapter: codegrant's policies on its framework. */
export interface Adapter<Req, Res> {
  /** Creates codegrant from `options` over the `OAUTH_*` environment: `oauth(options)`. */
  mount(options?: OAuthOptions): Mounted<Req, Res>
  /** `requireAuth(options)`: the options are checked now (a `TypeError` names a mistake). */
  requireAuth(options?: RequireAuthOptions): Handler<Req, Res>
  /** Writes a core response, unless an answer has begun. */
  send(res: Res, response: CoreResponse): void
}

const RESOLVED = Promise.resolve()

/**
 * codegrant's adapter policies, once for every framework, so that an adapter only translates:
 *
 * - `attach` and the guard are synchronous when they can be (the cookie and memory stores, a
 *   guard that needs no refresh): such a request goes on without a promise or a closure, and
 *   only a store that does I/O or a due refresh waits;
 * - an `attach` that rejects is answered by codegrant (`respond`), never passed on half-done;
 * - a form body is read only for a POST to codegrant's own routes, and only if no body parser
 *   read it;
 * - nothing is written once an answer has begun (a timeout middleware may have answered).
 *
 * @example
 * const adapter = createAdapter<Request, Response>({ request: (req) => ({ method: req.method, url: req.url, headers: req.headers }), … })
 * export const oauth = (options?: OAuthOptions) => adapter.mount(options).middleware
 * export const requireAuth = (options?: RequireAuthOptions) => adapter.requireAuth(options)
 */
export function createAdapter<Req, Res>(framework: Framework<Req, Res>): Adapter<Req, Res> {
  const passErrors = framework.errors === 'next'

  const setCookies: CookieSink<Res> = (cookies, res) => {
    if (cookies.length > 0 && !framework.sent(res)) framework.setCookies(res, cookies)
  }

  function send(res: Res, response: CoreResponse): void {
    if (framework.sent(res)) return
    if (response.cookies.length > 0) framework.setCookies(res, response.cookies)
    framework.write(res, response)
  }

  /** With `errors: 'next'` a failure goes to `next`, and the caller gets nothing back. */
  function settle<R>(pending: Promise<unknown>, next: Next<R>): Promise<unknown> | undefined {
    if (!passErrors) return pending
    pending.catch(next)
    return undefined
  }

  function mount(options?: OAuthOptions): Mounted<Req, Res> {
    const codegrant = createCodegrant(options)
    const middlewareRoutes = framework.routes === 'middleware'
    const bff = codegrant.config.bff !== false

    async function serveRoute(route: Route, core: CoreRequest, state: OAuthRequestState, req: Req, res: Res): Promise<void> {
      // the BFF's proxy streams the body on as it arrives, whatever its method and type
      if (route.kind === 'bff') {
        const stream = framework.stream?.(req)
        send(res, await codegrant.handle(route, stream ? { ...core, stream: stream as CoreRequest['stream'] } : core, state))
        return
      }
      // a form (form_post callback, logout, logout token): read here unless a body parser did
      const stream = core.method === 'POST' ? framework.stream?.(req) : undefined
      const body = stream && !stream.readableEnded ? await readBody(stream).catch(() => undefined) : framework.parsedBody(req)
      send(res, await codegrant.handle(route, { ...core, body: body as CoreRequest['body'] }, state))
    }

    function proceed<R>(state: OAuthRequestState, core: CoreRequest, req: Req, res: Res, next: Next<R>): R | Promise<unknown> | undefined {
      framework.setState(req, state)
      // the BFF's routes are served here by every framework: before a router's body parsers read the body
      const route = middlewareRoutes || bff ? codegrant.match(core.url) : undefined
      return route && (middlewareRoutes || route.kind.startsWith('bff')) ? settle(serveRoute(route, core, state, req, res), next) : next()
    }

    const middleware: Handler<Req, Res> = function codegrantMiddleware(req, res, next) {
      const core = framework.request(req)
      const attached = codegrant.attach(core, setCookies, res)
      if (!(attached instanceof Promise)) return proceed(attached, core, req, res, next)
      const pending = attached.then(
        (state) => proceed(state, core, req, res, next),
        // only an unexpected failure rejects (a store that cannot be read does not): codegrant answers
        (error: unknown) => send(res, codegrant.respond(core, error)),
      )
      return settle(pending, next)
    }

    return {
      codegrant,
      middleware: framework.arm && developing() ? armedOnce(framework.arm, middleware) : middleware,
      serve: (route, req, res) => serveRoute(route, framework.request(req), framework.getState(req), req, res),
    }
  }

  /** The middleware, arming the framework's trap at its first request (development only: production runs the plain one). */
  function armedOnce(arm: (req: Req) => void, middleware: Handler<Req, Res>): Handler<Req, Res> {
    let armed = false
    return function codegrantMiddleware(req, res, next) {
      if (!armed) {
        armed = true
        arm(req)
      }
      return middleware(req, res, next)
    }
  }

  function requireAuth(options?: RequireAuthOptions): Handler<Req, Res> {
    guardOptions(options)
    const answered = passErrors ? undefined : RESOLVED
    return function codegrantGuard(req, res, next) {
      const state = stateOf(framework, req)
      // without a state the guard answers that the middleware is missing, naming the request
      const decision = guard(state, state ? undefined : framework.request(req), options)
      if (decision instanceof Promise) return settle(decision.then((result) => (result ? send(res, result) : next())), next)
      if (!decision) return next()
      send(res, decision)
      return answered
    }
  }

  return { mount, requireAuth, send }
}
