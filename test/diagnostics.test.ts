/**
 * Run-time diagnostics (issue 8 §1): each mistake a new user makes is produced here for real —
 * a wrong client secret, requireAuth() without oauth(), the browser on another host than
 * OAUTH_BASE_URL, an https base URL served over http, issuer and discovery problems, an
 * unreachable provider — and the test asserts what codegrant says: the code, the page, and a
 * log line that names the cause and the fix, with no secret in it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig, type Logger, type OAuthOptions } from '@codegrant/core'
import { createCodegrant, type CoreRequest } from '@codegrant/core/adapter'
import * as cgExpress from '@codegrant/express'
import * as cgFastify from '@codegrant/fastify'
import * as cgKoa from '@codegrant/koa'
import Router from '@koa/router'
import express4 from 'express4'
import express5 from 'express5'
import fastify4 from 'fastify4'
import fastify5 from 'fastify5'
import Koa2 from 'koa2'
import Koa3 from 'koa3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { API, createAgent, HTML, type Agent } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startHostileProvider, type HostileProvider } from './support/hostile-provider.js'
import { CLIENT_ID, CLIENT_SECRET, SECRET_A } from './support/provider.js'

type Level = 'debug' | 'info' | 'warn' | 'error'
/** A logger with every level, as pino or console would be. */
function recordLogs(): Required<Logger> & { lines: { level: Level; line: string }[]; at(level: Level): string[]; text(): string } {
  const lines: { level: Level; line: string }[] = []
  const log = (level: Level) => (line: string) => void lines.push({ level, line })
  return {
    lines,
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    at: (level) => lines.filter((entry) => entry.level === level).map((entry) => entry.line),
    text: () => lines.map((entry) => entry.line).join('\n'),
  }
}

const request = (url: string, headers: Record<string, string> = {}): CoreRequest => ({ method: 'GET', url, headers: { host: 'app.test', accept: 'application/json', ...headers }, encrypted: false })

/** Starts a login through the core alone (no framework): the status and body of GET /auth/login. */
async function coreLogin(options: OAuthOptions): Promise<{ status: number; body: string; location: string | undefined }> {
  const codegrant = createCodegrant(options, {})
  const req = request('/auth/login', { host: new URL(options.baseUrl!).host })
  const state = await codegrant.attach(req, () => {}, undefined)
  const response = await codegrant.handle({ kind: 'login' }, req, state)
  return { status: response.status, body: response.body ?? '', location: response.headers.location }
}

/** A loopback server answering each path as `routes` says (the test's own stand-in for a provider's discovery). */
async function serve(routes: Record<string, (origin: string) => { status: number; headers?: Record<string, string>; body?: unknown }>): Promise<{ origin: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = []
  let origin = ''
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    hits.push(req.url ?? '')
    const route = routes[req.url ?? '']
    if (!route) return void res.writeHead(404).end()
    const { status, headers, body } = route(origin)
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body === undefined ? undefined : JSON.stringify(body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { origin, hits, close: () => closeServer(server) }
}

function closeServer(server: Server | ReturnType<typeof createHttpsServer>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

const metadata = (issuer: string, extra: Record<string, unknown> = {}) => ({
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  jwks_uri: `${issuer}/jwks`,
  response_types_supported: ['code'],
  ...extra,
})

const base = (logger: Logger, issuer: string): OAuthOptions => ({
  issuer,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: SECRET_A,
  httpTimeout: 2000,
  logger,
})

describe('diagnostics in the core', () => {
  it('prints the redirect URI and post-logout URI to register, once at start-up, at info level', () => {
    const logs = recordLogs()
    createCodegrant({ ...base(logs, 'https://id.example.com'), postLogoutRedirectUri: 'http://127.0.0.1:3000/bye' }, {})
    expect(logs.at('info')).toEqual(['redirect URI to register at the provider for client suite-client: http://127.0.0.1:3000/auth/callback; post-logout redirect URI: http://127.0.0.1:3000/bye'])
  })

  it('refuses explicit endpoints with the openid scope but no OAUTH_JWKS_URI at start-up', () => {
    const options = { ...base(recordLogs(), 'https://id.example.com'), issuer: undefined, authorizationEndpoint: 'https://id.example.com/authorize', tokenEndpoint: 'https://id.example.com/token' }
    expect(() => resolveConfig(options, {})).toThrow(/OAUTH_JWKS_URI is required with explicit endpoints and the openid scope/)
    expect(() => resolveConfig({ ...options, jwksUri: 'https://id.example.com/jwks' }, {})).not.toThrow()
    expect(() => resolveConfig({ ...options, scope: 'read:user' }, {})).not.toThrow()
  })

  it('names both issuers on a trailing-slash mismatch: 502 codegrant/issuer_mismatch, a configuration error in the log', async () => {
    const provider = await serve({ '/realms/demo/.well-known/openid-configuration': (origin) => ({ status: 200, body: metadata(`${origin}/realms/demo`) }) })
    try {
      const logs = recordLogs()
      const { status, body } = await coreLogin(base(logs, `${provider.origin}/realms/demo/`))
      expect(status).toBe(502)
      expect(JSON.parse(body)).toMatchObject({ code: 'codegrant/issuer_mismatch', message: expect.stringContaining(`set OAUTH_ISSUER=${provider.origin}/realms/demo.`) })
      expect(logs.at('error')).toEqual([
        `configuration error: OAUTH_ISSUER is ${provider.origin}/realms/demo/, but the provider's discovery document says its issuer is ${provider.origin}/realms/demo (they differ only in the trailing slash, which counts). Set OAUTH_ISSUER=${provider.origin}/realms/demo`,
      ])
    } finally {
      await provider.close()
    }
  })

  it('accepts the discovery URL pasted as OAUTH_ISSUER (with or without a trailing slash) and fetches exactly it', async () => {
    const document = (origin: string) => ({ status: 200, body: metadata(`${origin}/o`) })
    const provider = await serve({ '/o/.well-known/openid-configuration': document, '/o/.well-known/openid-configuration/': document })
    try {
      for (const pasted of ['/o/.well-known/openid-configuration', '/o/.well-known/openid-configuration/']) {
        const logs = recordLogs()
        const { status, location } = await coreLogin(base(logs, `${provider.origin}${pasted}`))
        expect(status).toBe(302)
        expect(location).toMatch(new RegExp(`^${provider.origin}/o/authorize\\?`))
        expect(logs.at('error')).toEqual([])
      }
      expect(provider.hits).toEqual(['/o/.well-known/openid-configuration', '/o/.well-known/openid-configuration/'])
    } finally {
      await provider.close()
    }
  })

  it('refuses a pasted discovery URL that is not its issuer\'s, naming the value to set', async () => {
    const provider = await serve({ '/o/.well-known/openid-configuration': (origin) => ({ status: 200, body: metadata(`${origin}/elsewhere`) }) })
    try {
      const logs = recordLogs()
      const { status, body } = await coreLogin(base(logs, `${provider.origin}/o/.well-known/openid-configuration`))
      expect([status, JSON.parse(body).code]).toEqual([502, 'codegrant/issuer_mismatch'])
      expect(logs.at('error')[0]).toContain(`names the issuer ${provider.origin}/elsewhere, whose discovery URL is ${provider.origin}/elsewhere/.well-known/openid-configuration`)
      expect(logs.at('error')[0]).toContain(`Set OAUTH_ISSUER=${provider.origin}/elsewhere`)
    } finally {
      await provider.close()
    }
  })

  it('follows one same-origin discovery redirect (Django OAuth Toolkit), warns once', async () => {
    const provider = await serve({
      '/o/.well-known/openid-configuration': () => ({ status: 301, headers: { location: '/o/.well-known/openid-configuration/' } }),
      '/o/.well-known/openid-configuration/': (origin) => ({ status: 200, body: metadata(`${origin}/o`) }),
    })
    try {
      const logs = recordLogs()
      const options = base(logs, `${provider.origin}/o`)
      const codegrant = createCodegrant(options, {})
      for (let i = 0; i < 2; i++) {
        const req = request('/auth/login', { host: '127.0.0.1:3000' })
        expect((await codegrant.handle({ kind: 'login' }, req, await codegrant.attach(req, () => {}, undefined))).status).toBe(302)
      }
      expect(logs.at('warn').filter((line) => !line.includes('is plain http'))).toEqual([`provider discovery at ${provider.origin}/o/.well-known/openid-configuration redirects (HTTP 301) to ${provider.origin}/o/.well-known/openid-configuration/: followed (once per request). Set OAUTH_ISSUER so that no redirect is needed, if the provider allows.`])
    } finally {
      await provider.close()
    }
  })

  it('when discovery still fails after a redirect, logs the URL, the status and the Location', async () => {
    const provider = await serve({
      '/a/.well-known/openid-configuration': () => ({ status: 302, headers: { location: '/b/.well-known/openid-configuration' } }),
      '/b/.well-known/openid-configuration': () => ({ status: 302, headers: { location: '/c/.well-known/openid-configuration' } }),
      '/x/.well-known/openid-configuration': () => ({ status: 302, headers: { location: 'http://localhost:1/x' } }),
    })
    try {
      let logs = recordLogs()
      expect((await coreLogin(base(logs, `${provider.origin}/a`))).status).toBe(503)
      expect(logs.at('error')).toEqual([`provider metadata could not be loaded: ${provider.origin}/b/.well-known/openid-configuration answered HTTP 302 with Location /c/.well-known/openid-configuration (only one same-origin redirect is followed)`])
      logs = recordLogs()
      expect((await coreLogin(base(logs, `${provider.origin}/x`))).status).toBe(503)
      expect(logs.at('error')[0]).toContain('with Location http://localhost:1/x, another origin: not followed')
    } finally {
      await provider.close()
    }
  })

  it('says once, at info level, that the provider advertises no revocation endpoint', async () => {
    const provider = await serve({ '/.well-known/openid-configuration': (origin) => ({ status: 200, body: metadata(origin) }) })
    try {
      const logs = recordLogs()
      const codegrant = createCodegrant(base(logs, provider.origin), {})
      for (let i = 0; i < 2; i++) {
        const req = request('/auth/login', { host: '127.0.0.1:3000' })
        await codegrant.handle({ kind: 'login' }, req, await codegrant.attach(req, () => {}, undefined))
      }
      expect(logs.at('info').filter((line) => line.includes('revocation'))).toEqual([
        'the provider advertises no revocation_endpoint: logout ends the local session but revokes no token; set OAUTH_REVOCATION_ENDPOINT if the provider has one',
      ])
    } finally {
      await provider.close()
    }
  })

  it('names why the provider is unreachable: connection refused, TLS', async () => {
    const closed = await serve({})
    await closed.close()
    let logs = recordLogs()
    expect((await coreLogin(base(logs, closed.origin))).status).toBe(503)
    expect(logs.at('error')[0]).toMatch(/connection refused \(nothing listens at that address\), ECONNREFUSED/)

    // a provider whose certificate this process does not trust
    const dir = mkdtempSync(join(tmpdir(), 'codegrant-tls-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' })
    const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => void res.end('{}'))
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
    try {
      logs = recordLogs()
      expect((await coreLogin(base(logs, `https://127.0.0.1:${(tls.address() as AddressInfo).port}`))).status).toBe(503)
      expect(logs.at('error')[0]).toMatch(/TLS error \(\w+\): the provider's certificate is not trusted/)
    } finally {
      await closeServer(tls)
    }
  })
})

/** Apps that forgot oauth(): requireAuth() alone in front of a route. */
async function withoutOauth(framework: Framework): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  if (framework === 'express4' || framework === 'express5') {
    const app = (framework === 'express4' ? express4 : express5)()
    app.get('/me', cgExpress.requireAuth(), (_req, res) => void res.json({ ok: true }))
    return app as unknown as (req: IncomingMessage, res: ServerResponse) => void
  }
  if (framework === 'koa2' || framework === 'koa3') {
    const app = new (framework === 'koa2' ? Koa2 : Koa3)()
    app.silent = true
    const router = new Router()
    router.get('/me', cgKoa.requireAuth(), (ctx) => { ctx.body = { ok: true } })
    app.use(router.routes())
    return app.callback()
  }
  const fastify = (framework === 'fastify4' ? fastify4 : fastify5) as unknown as typeof fastify5
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  const app = fastify({ serverFactory: (h) => { handler = h as typeof handler; return createServer() } })
  app.get('/me', { preHandler: cgFastify.requireAuth() }, async () => ({ ok: true }))
  await app.ready()
  return handler!
}

/**
 * An app with a route that reads the request state although oauth() does not see it: mounted
 * before oauth() (Express, Koa) or read by an onRequest hook added before the plugin (Fastify),
 * as `/early` (answers what it read) and `/early-guarded` (requireAuth() there too); `/late`
 * comes after oauth(). A thrown error is answered 500 with its name and message.
 */
async function misordered(framework: Framework, options: OAuthOptions): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const read = (state: unknown) => ({ state: state === undefined ? 'undefined' : state === null ? 'null' : typeof state })
  const failed = (error: unknown) => ({ name: (error as Error).name, message: (error as Error).message })
  if (framework === 'express4' || framework === 'express5') {
    const app = (framework === 'express4' ? express4 : express5)()
    app.get('/early', (req, res) => void res.json(read(req.oauth)))
    app.get('/early-guarded', cgExpress.requireAuth(), (_req, res) => void res.json({ ok: true }))
    app.use(cgExpress.oauth(options))
    app.get('/late', (req, res) => void res.json(read(req.oauth)))
    app.use((error: unknown, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => void res.status(500).json(failed(error)))
    return app as unknown as (req: IncomingMessage, res: ServerResponse) => void
  }
  if (framework === 'koa2' || framework === 'koa3') {
    const app = new (framework === 'koa2' ? Koa2 : Koa3)()
    app.silent = true
    app.use(async (ctx, next) => {
      try {
        await next()
      } catch (error) {
        ctx.status = 500
        ctx.body = failed(error)
      }
    })
    const early = new Router()
    early.get('/early', (ctx) => { ctx.body = read(ctx.state.oauth) })
    early.get('/early-guarded', cgKoa.requireAuth(), (ctx) => { ctx.body = { ok: true } })
    app.use(early.routes())
    app.use(cgKoa.oauth(options))
    const late = new Router()
    late.get('/late', (ctx) => { ctx.body = read(ctx.state.oauth) })
    app.use(late.routes())
    return app.callback()
  }
  const fastify = (framework === 'fastify4' ? fastify4 : fastify5) as unknown as typeof fastify5
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  const app = fastify({ serverFactory: (h) => { handler = h as typeof handler; return createServer() } })
  app.setErrorHandler((error, _request, reply) => void reply.code(500).send(failed(error)))
  const early = new WeakMap<object, unknown>()
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      if (request.url === '/early') early.set(request, read(request.oauth))
      done()
    } catch (error) {
      done(error as Error)
    }
  })
  await app.register(cgFastify.oauth, options)
  app.get('/early', async (request) => early.get(request))
  app.get('/late', async (request) => read(request.oauth))
  await app.ready()
  return handler!
}

describe.each(FRAMEWORKS)('diagnostics through %s', (framework: Framework) => {
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof recordLogs>
  let agent: Agent

  const mount = async (extra: OAuthOptions = {}) => {
    const options: OAuthOptions = { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, httpTimeout: 2000, logger: logs, ...extra }
    stage.mount(await buildHandler(framework, options, hostile.userinfoUrl))
  }
  /** A login through the hostile provider, up to its redirect to the callback; then the callback's answer. */
  const signIn = async (headers: Record<string, string> = API) => {
    const started = await agent.follow(`${stage.url}/auth/login`, { headers: HTML }, (url) => url.startsWith(`${stage.url}/auth/callback`))
    if (!started.stoppedAt) throw new Error(`no callback: ${started.last.status} ${started.last.body.slice(0, 200)}`)
    return agent.request(started.stoppedAt, { headers })
  }

  beforeAll(async () => {
    stage = await openStage()
    hostile = await startHostileProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${stage.url}/auth/callback`, `${stage.url.replace('127.0.0.1', 'localhost')}/auth/callback`] })
  })
  afterAll(async () => {
    await stage.close()
    await hostile.close()
  })
  beforeEach(async () => {
    logs = recordLogs()
    agent = createAgent()
    hostile.reset()
    await mount()
  })
  afterEach(() => {
    for (const secret of [...hostile.secrets(), SECRET_A]) expect(logs.text()).not.toContain(secret)
  })

  it('wrong client secret: 502 with the provider\'s invalid_client and the fix, on the page and in one log line', async () => {
    await mount({ clientSecret: 'not-the-secret' })
    const response = await signIn(HTML)
    expect(response.status).toBe(502)
    expect(response.body).toContain('The provider refused the code exchange (invalid_client). Check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_CLIENT_AUTH_METHOD')
    expect(response.body).not.toContain('not-the-secret')
    expect(logs.at('error')).toContain('callback rejected (502 codegrant/provider_error): The provider refused the code exchange (invalid_client). Check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and OAUTH_CLIENT_AUTH_METHOD against the client registered at the provider.')
    expect(logs.text()).not.toContain('not-the-secret')
  })

  it('invalid_client in a WWW-Authenticate challenge: the provider\'s error_description is passed on', async () => {
    hostile.set({ token: 'invalid_client-challenge' })
    const response = await signIn()
    expect(JSON.parse(response.body)).toMatchObject({ code: 'codegrant/provider_error', message: expect.stringContaining('(invalid_client: WWW-Authenticate: basic). Check OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET') })
    expect(logs.at('error')).toContain('code exchange failed: invalid_client: WWW-Authenticate: basic (HTTP 401)')
  })

  it('a 5xx from the token endpoint: its status in the log', async () => {
    hostile.set({ token: 'status-500' })
    expect((await signIn()).status).toBe(502)
    expect(logs.at('error').some((line) => line.startsWith('code exchange failed:') && line.includes('(HTTP 500)'))).toBe(true)
  })

  it('every rejected callback logs one line: the code and the likely cause, not the code value', async () => {
    const response = await agent.request(`${stage.url}/auth/callback?code=CODE-VALUE-1234&state=STATE-VALUE-5678`, { headers: API })
    expect(response.status).toBe(400)
    expect(logs.lines.filter((entry) => entry.line.startsWith('callback rejected'))).toEqual([
      { level: 'warn', line: expect.stringMatching(/^callback rejected \(400 codegrant\/transaction_missing\): .* Likely cause: the browser is not on OAUTH_BASE_URL's host/) },
    ])
    expect(logs.text()).not.toContain('CODE-VALUE-1234')
  })

  it('the browser on 127.0.0.1 while OAUTH_BASE_URL says localhost: /auth/login redirects to the same path on the configured origin; an API client gets a 400 naming the fix', async () => {
    const configured = stage.url.replace('127.0.0.1', 'localhost')
    await mount({ baseUrl: configured })
    const moved = await agent.request(`${stage.url}/auth/login?returnTo=%2Fme%3Ftab%3D2`, { headers: HTML })
    expect([moved.status, moved.headers.get('location'), moved.setCookies]).toEqual([302, `${configured}/auth/login?returnTo=%2Fme%3Ftab%3D2`, []])
    expect(logs.at('warn').filter((line) => line.includes('was redirected to'))).toEqual([
      `a login opened at ${stage.url} was redirected to ${configured} (OAUTH_BASE_URL): browsers keep cookies per host name, so the sign-in must start there.`,
    ])
    // at the configured address the login starts (to the provider)
    const started = await agent.request(`${configured}/auth/login`, { headers: HTML })
    expect([started.status, started.headers.get('location')?.startsWith(hostile.issuer)]).toEqual([302, true])

    const api = await agent.request(`${stage.url}/auth/login`, { headers: API })
    expect([api.status, JSON.parse(api.body).code]).toEqual([400, 'codegrant/base_url_mismatch'])
    expect(JSON.parse(api.body).message).toContain(`but it was opened at ${stage.url}`)
    const refused = logs.at('warn').filter((line) => line.startsWith('login refused'))
    expect(refused).toHaveLength(1)
    expect(refused[0]).toContain(`login refused: codegrant/base_url_mismatch: This app's address is ${configured} (OAUTH_BASE_URL)`)
    expect(refused[0]).toContain(`or set OAUTH_BASE_URL=${stage.url}`)
  })

  it('an https OAUTH_BASE_URL while the app is served over plain http: one warning at the first request', async () => {
    await mount({ baseUrl: stage.url.replace('http:', 'https:') })
    await agent.request(`${stage.url}/`, { headers: HTML })
    await agent.request(`${stage.url}/`, { headers: HTML })
    const warnings = logs.at('warn').filter((line) => line.includes('served over plain http'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`or in development set OAUTH_BASE_URL=http://${new URL(stage.url).host}`)
  })

  describe('the request state read where oauth() did not run (issue 25 item 6)', () => {
    const options = () => ({ issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger: logs })
    const what = framework.startsWith('express') ? 'req.oauth' : framework.startsWith('koa') ? 'ctx.state.oauth' : 'request.oauth'
    const fix = framework.startsWith('express') ? 'app.use(oauth()) must come before' : framework.startsWith('koa') ? 'app.use(oauth()) must come before the router' : 'await app.register(oauth) before the hooks'
    const body = async (path: string) => {
      const response = await agent.request(`${stage.url}${path}`, { headers: API })
      return { status: response.status, body: JSON.parse(response.body) as unknown }
    }
    const developing = process.env.NODE_ENV

    afterEach(() => {
      process.env.NODE_ENV = developing
    })

    it('in development: reading it throws an error that names the fix; after oauth() it is there; requireAuth() there still answers its 500', async () => {
      process.env.NODE_ENV = 'development'
      stage.mount(await misordered(framework, options()))
      // oauth() sees a request first: it arms the trap (Fastify: from the start)
      expect(await body('/late')).toEqual({ status: 200, body: { state: 'object' } })
      const early = await body('/early')
      expect(early.status).toBe(500)
      expect(early.body).toMatchObject({ name: 'StateNotAttachedError', message: expect.stringContaining(`codegrant: ${what} was read on `) })
      expect((early.body as { message: string }).message).toContain(fix)
      if (!framework.startsWith('fastify')) {
        const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
        try {
          expect(await body('/early-guarded')).toEqual({ status: 500, body: { error: 'server_error' } })
          expect(spy.mock.calls.join('\n')).toContain('which oauth() did not see: mount oauth() before requireAuth()')
        } finally {
          spy.mockRestore()
        }
      }
      expect(await body('/late')).toEqual({ status: 200, body: { state: 'object' } })
    })

    it('in production: nothing is trapped, the read gives what the framework has', async () => {
      process.env.NODE_ENV = 'production'
      stage.mount(await misordered(framework, options()))
      expect(await body('/late')).toEqual({ status: 200, body: { state: 'object' } })
      expect(await body('/early')).toEqual({ status: 200, body: { state: framework.startsWith('fastify') ? 'null' : 'undefined' } })
    })
  })

  it('requireAuth() without oauth(): 500 with a generic body, and a log line saying to mount oauth() first', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      stage.mount(await withoutOauth(framework))
      const response = await agent.request(`${stage.url}/me`, { headers: API })
      expect(response.status).toBe(500)
      expect(JSON.parse(response.body)).toEqual({ error: 'server_error' })
      const logged = spy.mock.calls.map((call) => call.join(' ')).join('\n')
      expect(logged).toContain('[codegrant] requireAuth() ran on GET /me, which oauth() did not see: mount oauth() before requireAuth()')
      expect(logged).not.toContain('TypeError')
    } finally {
      spy.mockRestore()
    }
  })
})

describe('logging: a pino-shaped logger and OAUTH_DEBUG', () => {
  let stage: Stage
  let hostile: HostileProvider

  beforeAll(async () => {
    stage = await openStage()
    hostile = await startHostileProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${stage.url}/auth/callback`] })
  })
  afterAll(async () => {
    vi.useRealTimers()
    await stage.close()
    await hostile.close()
  })

  /** Like pino: methods on a prototype that need their `this`. */
  class PinoLike {
    readonly #lines: { level: Level; line: string }[] = []
    get lines() { return this.#lines }
    debug(line: string) { this.#lines.push({ level: 'debug', line }) }
    info(line: string) { this.#lines.push({ level: 'info', line }) }
    warn(line: string) { this.#lines.push({ level: 'warn', line }) }
    error(line: string) { this.#lines.push({ level: 'error', line }) }
  }

  it('logs each step of login, refresh and logout at debug level, and never a code, token, secret or cookie', async () => {
    const logger = new PinoLike()
    const options: OAuthOptions = { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger }
    // OAUTH_DEBUG from the environment, as a user would set it
    const { configFromEnv } = await import('@codegrant/core')
    expect(configFromEnv({ OAUTH_DEBUG: 'true' })).toEqual({ debug: true })
    stage.mount(await buildHandler('express5', { ...options, debug: true }, hostile.userinfoUrl))
    const agent = createAgent()
    const done = await agent.follow(`${stage.url}/auth/login`, { headers: HTML })
    expect(done.last.body).toBe('signed in as alice')
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 400_000) // past the access token's 300 s
    expect((await agent.request(`${stage.url}/api/token`, { headers: API })).status).toBe(200)
    vi.useRealTimers()
    await agent.follow(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, origin: stage.url } })

    const debug = logger.lines.filter((entry) => entry.level === 'debug').map((entry) => entry.line)
    const steps = ['discovery: fetching', 'discovery: loaded', 'login: redirecting to the authorization endpoint', 'callback: authorization response valid', 'callback: token response valid', 'callback: session started', 'refresh: access token due', 'refresh: token response valid', 'logout: revoking the refresh token', "logout: redirecting to the provider's end_session_endpoint"]
    for (const step of steps) expect(debug.some((line) => line.startsWith(step)), step).toBe(true)
    const everything = logger.lines.map((entry) => entry.line).join('\n')
    const cookieValues = done.hops.flatMap((hop) => hop.setCookies.map((line) => line.split(';', 1)[0]!.split('=').slice(1).join('=')).filter((value) => value.length > 8))
    expect(cookieValues.length).toBeGreaterThan(0)
    for (const secret of [...hostile.secrets(), SECRET_A, ...cookieValues]) expect(everything).not.toContain(secret)
    expect(logger.lines.some((entry) => entry.level === 'info' && entry.line.startsWith('redirect URI to register'))).toBe(true)
  })

  it('logs nothing at debug level unless asked', async () => {
    const logger = new PinoLike()
    stage.mount(await buildHandler('express5', { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: stage.url, cookieSecret: SECRET_A, logger }, hostile.userinfoUrl))
    expect((await createAgent().follow(`${stage.url}/auth/login`, { headers: HTML })).last.body).toBe('signed in as alice')
    expect(logger.lines.filter((entry) => entry.level === 'debug')).toEqual([])
  })
})
