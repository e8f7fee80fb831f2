/**
 * Sessions as a control plane (issue 23 item 2): a user's sessions listed and ended from
 * `req.oauth.sessions` ("my devices", "sign out other devices") and from `codegrant.sessions`
 * (admin tooling), on the memory store and on Redis across two instances (each with its own
 * client), against the dev provider: ended everywhere, refresh tokens revoked at the provider.
 */
import { createCodegrant } from '@codegrant/core/adapter'
import type { OAuthOptions, SessionInfo, SessionStore } from '@codegrant/core'
import type { DevProvider } from '@codegrant/dev-provider'
import { oauth, requireAuth } from '@codegrant/express'
import { redisStore, type RedisStore } from '@codegrant/redis'
import express5 from 'express5'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { API, createAgent, login, type Agent } from './support/agent.js'
import { openStage, type Stage } from './support/apps.js'
import { appOptions, captureLogs, startProvider } from './support/provider.js'
import { startRedis, type RedisServer } from './support/redis.js'

const SESSION = 'codegrant.session'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'

/** The app: "my devices" on `req.oauth.sessions`. */
function devicesApp(options: OAuthOptions) {
  const app = express5()
  app.use(oauth(options))
  app.get('/me', requireAuth(), (req, res) => void res.json({ sub: req.oauth.user?.sub }))
  app.get('/devices', requireAuth(), async (req, res, next) => {
    try {
      res.json(await req.oauth.sessions.list())
    } catch (error) {
      next(error)
    }
  })
  app.post('/devices/end', requireAuth(), async (req, res) => void res.json({ ended: await req.oauth.sessions.end(String(req.query.id)) }))
  app.post('/devices/end-others', requireAuth(), async (req, res) => void res.json({ ended: await req.oauth.sessions.endAll({ except: 'current' }) }))
  return app
}

let stage: Stage
let provider: DevProvider
let redis: RedisServer
const clients: RedisStore[] = []
beforeAll(async () => {
  stage = await openStage()
  provider = await startProvider(stage.url)
  redis = await startRedis()
}, 30_000)
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()))
  await stage?.close()
  await provider?.close()
  await redis?.close()
})

/** A Redis client of its own (each instance has one) on the suite's keys. */
function redisClient(): RedisStore {
  const client = redisStore({ url: redis.url, prefix: 'sessions:', logger: { warn: () => undefined, error: () => undefined } })
  clients.push(client)
  return client
}

let users = 0
/** A user of this test alone, so that tests do not see each other's sessions. */
function newUser(): string {
  const sub = `user-${users++}`
  provider.addUser({ sub, name: sub, email: `${sub}@example.com`, groups: [] })
  return sub
}

describe.each(['memory', 'redis'] as const)('a user\'s sessions (%s store)', (kind) => {
  // memory: one instance (its store is its process's); Redis: two, each with its own client
  const instances = kind === 'redis' ? ['a', 'b'] : ['a']
  const options = (store: SessionStore | 'memory') => appOptions(provider, stage.url, captureLogs(), { sessionStore: store })
  let alice: string

  beforeAll(() => {
    const [a, b] = kind === 'redis' ? [devicesApp(options(redisClient())), devicesApp(options(redisClient()))] : [devicesApp(options('memory'))]
    stage.mount((req, res) => (req.headers['x-instance'] === 'b' && b ? b : a!)(req, res))
  })
  beforeEach(() => {
    alice = newUser()
  })

  /** A browser (its own User-Agent) of `user`'s, signed in. */
  const browser = async (userAgent: string, user = alice): Promise<Agent> => {
    const agent = createAgent({ headers: { 'user-agent': userAgent } })
    await login(agent, stage.url, user)
    return agent
  }
  const byDevice = (sessions: SessionInfo[]) => [...sessions].sort((x, y) => String(x.device).localeCompare(String(y.device)))
  const on = (agent: Agent, path: string, method = 'GET', instance = 'a') => agent.request(`${stage.url}${path}`, { method, headers: { ...API, 'x-instance': instance } })
  const devices = async (agent: Agent, instance = 'a') => JSON.parse((await on(agent, '/devices', 'GET', instance)).body) as SessionInfo[]

  it('lists the signed-in user\'s sessions on every instance: newest first, this one marked, the browser summarised, no id or token', async () => {
    const laptop = await browser(FIREFOX)
    const phone = await browser(SAFARI)
    await browser(CHROME, newUser())
    for (const instance of instances) {
      const listed = await devices(phone, instance)
      expect(byDevice(listed).map((session) => [session.device, session.current, session.provider])).toEqual([['Firefox on Linux', false, 'default'], ['Safari on iOS', true, 'default']])
      expect(listed[0]!.createdAt).toBeGreaterThanOrEqual(listed[1]!.createdAt)
      expect(listed.every((session) => session.expiresAt > session.createdAt && session.lastSeenAt >= session.createdAt)).toBe(true)
      const body = JSON.stringify(listed)
      for (const agent of [laptop, phone]) expect(body).not.toContain(agent.cookies(stage.url).get(SESSION))
      expect(Object.keys(listed[0]!).sort()).toEqual(['createdAt', 'current', 'device', 'expiresAt', 'id', 'lastSeenAt', 'provider'])
    }
  })

  it('"sign out other devices" ends the others on every instance and revokes their refresh tokens; this one stays', async () => {
    const laptop = await browser(FIREFOX)
    const phone = await browser(SAFARI)
    const tablet = await browser(CHROME)
    const revoked = provider.count('revocation.success')
    const ended = await on(laptop, '/devices/end-others', 'POST', instances.at(-1))
    expect(JSON.parse(ended.body)).toEqual({ ended: 2 })
    expect(provider.count('revocation.success')).toBe(revoked + 2)
    for (const instance of instances) {
      expect((await on(phone, '/me', 'GET', instance)).status).toBe(401)
      expect((await on(tablet, '/me', 'GET', instance)).status).toBe(401)
      expect((await on(laptop, '/me', 'GET', instance)).status).toBe(200)
      expect((await devices(laptop, instance)).map((session) => session.current)).toEqual([true])
    }
  })

  it('ends one session by its handle, and never another user\'s', async () => {
    const laptop = await browser(FIREFOX)
    const phone = await browser(SAFARI)
    const bob = await browser(CHROME, newUser())
    const phoneId = (await devices(phone)).find((session) => session.current)!.id
    expect(JSON.parse((await on(bob, `/devices/end?id=${phoneId}`, 'POST')).body)).toEqual({ ended: false })
    expect((await on(phone, '/me')).status).toBe(200)
    expect(JSON.parse((await on(laptop, `/devices/end?id=${phoneId}`, 'POST', instances.at(-1))).body)).toEqual({ ended: true })
    for (const instance of instances) expect((await on(phone, '/me', 'GET', instance)).status).toBe(401)
    expect((await on(laptop, '/me')).status).toBe(200)
  })

  it('admin tooling: codegrant.sessions lists any user\'s sessions and ends them all, everywhere', async () => {
    const laptop = await browser(FIREFOX)
    const phone = await browser(SAFARI)
    const bob = await browser(CHROME, newUser())
    // a codegrant of its own, as a script or an admin route would have, on the same store
    const admin = createCodegrant(options(kind === 'redis' ? redisClient() : 'memory'))
    if (kind === 'memory') {
      // the memory store is its codegrant's own: another codegrant knows none of the app's sessions
      await expect(admin.sessions.list(alice)).resolves.toEqual([])
      return
    }
    expect(byDevice(await admin.sessions.list(alice)).map((session) => [session.device, session.current])).toEqual([['Firefox on Linux', false], ['Safari on iOS', false]])
    await expect(admin.sessions.list(alice, { provider: 'nope' })).rejects.toThrow(TypeError)
    expect(await admin.sessions.endAll(alice)).toBe(2)
    for (const instance of instances) {
      expect((await on(laptop, '/me', 'GET', instance)).status).toBe(401)
      expect((await on(phone, '/me', 'GET', instance)).status).toBe(401)
      expect((await on(bob, '/me', 'GET', instance)).status).toBe(200)
    }
    expect(await admin.sessions.list(alice)).toEqual([])
  })
})

describe('with cookie sessions', () => {
  it('listing a user\'s sessions is refused with a clear error: cookie sessions are known only to their browser', async () => {
    const codegrant = createCodegrant(appOptions(provider, stage.url, captureLogs()))
    await expect(codegrant.sessions.list('alice')).rejects.toMatchObject({ code: 'codegrant/config_invalid', message: expect.stringContaining('OAUTH_SESSION_STORE=memory or redis') })
  })
})
