/**
 * Several instances: two processes of the Express example, configured from the environment alone
 * (OAUTH_SESSION_STORE=redis, OAUTH_BACKCHANNEL_LOGOUT=true), behind a small round-robin proxy
 * on loopback, sharing one real redis-server and the dev provider. One refresh across instances,
 * a dead lock holder, logout everywhere, back-channel logout sent by the provider, Redis stopping
 * and coming back. The tests run in order: each continues from the state the previous one left.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, request as forward, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, formOf, HTML, login, type Agent } from './support/agent.js'
import { freePort } from './support/example.js'
import { holdTokenRequests } from './support/gate.js'
import { CLIENT_ID, CLIENT_SECRET, SECRET_A, startProvider } from './support/provider.js'
import { startRedis, until, type RedisServer } from './support/redis.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SESSION = 'codegrant.session'
const BACKCHANNEL = '/auth/backchannel-logout'
/** Access tokens live 6 s: due 3 s after they were issued (the refresh skew is capped at half the lifetime). */
const TOKEN_TTL = 6
const HTTP_TIMEOUT = 1500
/**
 * The refresh lock lapses after what its holder may take at worst (flow/refresh-lock.ts
 * `lockTimes`): a store read (2 s), three calls to the provider, three store writes with two
 * pauses (6.5 s), and 1 s.
 */
const LOCK_MS = 2000 + 3 * HTTP_TIMEOUT + 6500 + 1000

interface Instance {
  start(): Promise<void>
  kill(): Promise<void>
}

/** The Express example as `node dist/server.js` on `port`, with only `env` (plus PATH and HOME). */
function instance(port: number, env: Record<string, string>): Instance {
  let child: ChildProcess | undefined
  return {
    async start() {
      const started = spawn(process.execPath, ['examples/express/dist/server.js'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: String(port), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child = started
      let output = ''
      await new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString()
          if (/listening on/.test(output)) resolve()
        }
        started.stdout!.on('data', onData)
        started.stderr!.on('data', onData)
        started.once('exit', (code) => reject(new Error(`the example exited with ${code}:\n${output}`)))
      })
    },
    async kill() {
      const running = child
      if (!running || running.exitCode !== null || running.signalCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      running.kill('SIGKILL')
      await exited
    },
  }
}

interface Proxy {
  url: string
  /** The logout tokens the provider POSTed through the proxy. */
  logoutTokens: string[]
  close(): Promise<void>
}

/** A round-robin proxy over `ports`; a request with `x-instance: 0|1` goes to that one. */
async function startProxy(ports: number[]): Promise<Proxy> {
  let next = 0
  const logoutTokens: string[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      if (req.url === BACKCHANNEL) logoutTokens.push(new URLSearchParams(body.toString()).get('logout_token') ?? '')
      const picked = req.headers['x-instance'] !== undefined ? Number(req.headers['x-instance']) : next++ % ports.length
      const upstream = forward({ host: '127.0.0.1', port: ports[picked], method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502)
        res.end()
      })
      upstream.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logoutTokens,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

describe('two instances behind a load balancer, sessions in Redis', () => {
  let redis: RedisServer
  let provider: DevProvider
  let proxy: Proxy
  let instances: Instance[]
  let agent: Agent
  const grants = () => provider.count('grant.success', 'refresh_token')
  const on = (which: number, path: string, headers: Record<string, string> = API) => agent.request(`${proxy.url}${path}`, { headers: { ...headers, 'x-instance': String(which) } })
  const statuses = async (path: string) => [(await on(0, path)).status, (await on(1, path)).status]
  /** Until the access token of the last grant is due (its expiry is counted in whole seconds: one more). */
  const untilDue = async () => {
    const issued = provider.events.filter((event) => event.name === 'grant.success').at(-1)!.at
    const due = issued + (TOKEN_TTL / 2) * 1000 + 1000
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())))
  }

  beforeAll(async () => {
    const ports = [await freePort(), await freePort()]
    ;[redis, proxy] = await Promise.all([startRedis(), startProxy(ports)])
    provider = await startProvider(proxy.url, { accessTokenTtl: TOKEN_TTL, backchannel: true })
    const env = {
      OAUTH_ISSUER: provider.issuer,
      OAUTH_CLIENT_ID: CLIENT_ID,
      OAUTH_CLIENT_SECRET: CLIENT_SECRET,
      OAUTH_BASE_URL: proxy.url,
      OAUTH_COOKIE_SECRET: SECRET_A,
      OAUTH_SESSION_STORE: 'redis',
      OAUTH_REDIS_URL: redis.url,
      OAUTH_REDIS_TIMEOUT: '500',
      OAUTH_BACKCHANNEL_LOGOUT: 'true',
      OAUTH_HTTP_TIMEOUT: String(HTTP_TIMEOUT),
    }
    instances = ports.map((port) => instance(port, env))
    await Promise.all(instances.map((one) => one.start()))
    agent = createAgent()
  }, 60_000)
  afterAll(async () => {
    await Promise.all((instances ?? []).map((one) => one.kill()))
    await proxy?.close()
    await provider?.close()
    await redis?.close()
  })

  it('logs in through the proxy; the session works on each instance', async () => {
    const done = await login(agent, proxy.url, 'alice')
    expect(done.last.status).toBe(200)
    for (const which of [0, 1]) {
      const me = await on(which, '/me')
      expect(me.status).toBe(200)
      expect(JSON.parse(me.body).user.sub).toBe('alice')
    }
  })

  it('makes exactly one refresh grant for 20 concurrent calls split across both instances', async () => {
    await untilDue()
    const [before, errors] = [grants(), provider.count('grant.error', 'refresh_token')]
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i % 2, '/api/userinfo')))
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200))
    expect(responses.every((response) => JSON.parse(response.body).sub === 'alice')).toBe(true)
    expect([grants(), provider.count('grant.error', 'refresh_token')]).toEqual([before + 1, errors])
    expect(await statuses('/api/userinfo')).toEqual([200, 200])
    expect(grants()).toBe(before + 1)
  })

  it('lets the other instance finish the refresh once the lock of a holder that died mid-refresh lapses', async () => {
    await untilDue()
    const before = grants()
    // the provider stalls instance 0's token request: it holds the lock when it is killed
    const gate = holdTokenRequests(provider, 'refresh_token', 'before')
    const doomed = on(0, '/api/userinfo').catch(() => undefined)
    await gate.waitForHeld()
    const locked = Date.now()
    await instances[0]!.kill()
    expect((await doomed)?.status).toBe(502) // the proxy: the instance is gone
    const response = await on(1, '/api/userinfo')
    expect(response.status).toBe(200)
    // it waited for the lock to lapse, then refreshed with the refresh token the dead one never used
    expect(Date.now() - locked).toBeGreaterThanOrEqual(LOCK_MS - 500)
    expect(grants()).toBe(before + 1)
    const refreshed = provider.events.filter((event) => event.name === 'grant.success').at(-1)!.at
    gate.drop()
    await instances[0]!.start()
    expect(await statuses('/api/userinfo')).toEqual([200, 200])
    // the dead holder's refresh token was never replayed
    expect(provider.count('grant.error', 'refresh_token')).toBe(0)
    // no other grant while the new token is not due; restarting instance 0 on a loaded machine may
    // outlast the 3 s until it is (counted in whole seconds), and then one more grant is right
    if (Date.now() - refreshed < (TOKEN_TTL / 2 - 1) * 1000) expect(grants()).toBe(before + 1)
    else expect(grants() - before).toBeOneOf([1, 2])
  }, LOCK_MS + 15_000)

  it('logs out everywhere: B says signed out, also for a cookie saved before the logout on A', async () => {
    const saved = agent.cookies(proxy.url).get(SESSION)!
    const out = await on(0, '/auth/logout', { ...HTML, 'sec-fetch-site': 'same-origin' })
    expect(out.status).toBe(302)
    expect(await statuses('/me')).toEqual([401, 401])
    agent.setCookie(proxy.url, SESSION, saved)
    expect(await statuses('/me')).toEqual([401, 401])
  })

  it('ends the session on both instances when the provider sends a back-channel logout; its replay to either is refused', async () => {
    // alice is still signed in at the provider: single sign-on, no login form
    expect((await agent.follow(`${proxy.url}/auth/login`, { headers: HTML })).last.status).toBe(200)
    expect(await statuses('/me')).toEqual([200, 200])
    const saved = agent.cookies(proxy.url).get(SESSION)!
    const [sent, failed] = [provider.count('backchannel.success'), provider.count('backchannel.error')]
    // the user signs out at the provider: its confirmation page, then the POST that ends its session
    const confirm = await agent.follow(`${provider.issuer}/session/end?client_id=${CLIENT_ID}`, { headers: HTML })
    const { action, fields } = formOf(confirm.last)
    fields.set('logout', 'yes') // its "Yes, sign me out" button (outside the form element)
    await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() })
    expect([provider.count('backchannel.success'), provider.count('backchannel.error')]).toEqual([sent + 1, failed])
    agent.setCookie(proxy.url, SESSION, saved)
    expect(await statuses('/me')).toEqual([401, 401])
    const token = proxy.logoutTokens.at(-1)!
    for (const which of [0, 1]) {
      const replayed = await agent.request(`${proxy.url}${BACKCHANNEL}`, { method: 'POST', headers: { ...API, 'x-instance': String(which) }, body: new URLSearchParams({ logout_token: token }).toString() })
      expect([replayed.status, JSON.parse(replayed.body).error]).toEqual([400, 'invalid_request'])
    }
  })

  it('while Redis is down: a guarded route answers 503 with Retry-After on both, the public page renders signed out, and the same session works again once it is back', async () => {
    expect((await login(agent, proxy.url, 'bob')).last.status).toBe(200)
    expect(await statuses('/me')).toEqual([200, 200])
    await redis.stop()
    try {
      // each instance answers from its session cache until it sees its Redis connection close
      // (nothing can change a record meanwhile): then whatever needs the session is refused
      await until('both instances to see Redis gone', async () => (await statuses('/me')).every((status) => status === 503), 5000)
      for (const which of [0, 1]) {
        const response = await on(which, '/me')
        expect(response.status).toBe(503)
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
        expect(response.setCookies.filter((line) => line.startsWith(SESSION))).toEqual([])
        // the example's home page (the session inspector) is public: it renders, signed out
        const home = await on(which, '/', HTML)
        expect([home.status, home.setCookies]).toEqual([200, []])
        expect(home.body).toContain('Log in')
        expect(JSON.parse((await on(which, '/')).body)).toMatchObject({ signedIn: false })
      }
    } finally {
      await redis.start()
    }
    // node-redis reconnects by itself: the apps are not restarted
    for (const which of [0, 1]) {
      const deadline = Date.now() + 15_000
      let me = await on(which, '/me')
      while (me.status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100)) // poll: until it reconnects
        me = await on(which, '/me')
      }
      expect(me.status).toBe(200)
      expect(JSON.parse(me.body).user.sub).toBe('bob')
    }
  })
})
