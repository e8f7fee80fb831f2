/**
 * Ending cookie sessions from the server (issue 23 item 3): with cookie sessions and
 * `OAUTH_REDIS_URL`, "ended before" records in Redis end a user's (or a provider session's) cookie
 * sessions on every instance at their next request: back-channel logout, the admin's
 * `codegrant.sessions.endAll`. Two instances of each framework share one real redis-server; the
 * dev provider sends the logout tokens. A login after the record stays; with Redis stopped, public
 * pages are served signed out and guarded ones 503, and once Redis is back the ended session
 * stays ended.
 */
import { createCodegrant, type Codegrant } from '@codegrant/core/adapter'
import type { OAuthOptions } from '@codegrant/core'
import type { Request, Response } from 'express'
import type { DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, formOf, HTML, login, type Agent } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Stage } from './support/apps.js'
import { appOptions, captureLogs, CLIENT_ID, startProvider } from './support/provider.js'
import { startRedis, until, type RedisServer } from './support/redis.js'

const SESSION = 'codegrant.session'
const quiet = { warn: () => undefined, error: () => undefined }

let stage: Stage
let provider: DevProvider
let redis: RedisServer
const admins: Codegrant[] = []
beforeAll(async () => {
  stage = await openStage()
  provider = await startProvider(stage.url, { backchannel: true })
  redis = await startRedis()
}, 30_000)
afterAll(async () => {
  for (const admin of admins) await (admin.sessionStore as { close?: () => Promise<void> } | undefined)?.close?.()
  await stage?.close()
  await provider?.close()
  await redis?.close()
})

let users = 0
/** A user of this test alone: records are per user, and outlive the test. */
function newUser(): string {
  const sub = `ended-${users++}`
  provider.addUser({ sub, name: sub, email: `${sub}@example.com`, groups: [] })
  return sub
}

const seconds = () => Math.floor(Date.now() / 1000)
const clearsSession = (lines: string[]) => lines.some((line) => line.startsWith(`${SESSION}=`) && /Max-Age=0/i.test(line))

describe.each(FRAMEWORKS)('%s: cookie sessions ended from the server (two instances, one Redis)', (framework) => {
  const prefix = `ended-${framework}:`
  const options = (extra: OAuthOptions = {}) => appOptions(provider, stage.url, captureLogs(), { redisUrl: redis.url, redisPrefix: prefix, redisTimeout: 1000, backchannelLogout: true, ...extra })
  let admin: Codegrant

  beforeAll(async () => {
    const [a, b] = [await buildHandler(framework, options(), `${provider.issuer}/me`), await buildHandler(framework, options(), `${provider.issuer}/me`)]
    // the provider's back-channel POST (no header) reaches instance a
    stage.mount((req, res) => (req.headers['x-instance'] === 'b' ? b : a)(req, res))
    // the admin's tooling: its own codegrant on the same Redis
    admin = createCodegrant(appOptions(provider, stage.url, quiet, { redisUrl: redis.url, redisPrefix: prefix }))
    admins.push(admin)
  })

  const on = (agent: Agent, path: string, instance: 'a' | 'b', headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers: { ...headers, 'x-instance': instance } })
  const signedIn = async (): Promise<{ agent: Agent; sub: string; cookie: string }> => {
    const agent = createAgent()
    const sub = newUser()
    await login(agent, stage.url, sub)
    const cookie = agent.cookies(stage.url).get(SESSION)
    if (cookie === undefined) throw new Error('no session cookie after login')
    for (const instance of ['a', 'b'] as const) expect((await on(agent, '/me', instance)).status).toBe(200)
    return { agent, sub, cookie }
  }
  /** The session ends on `instance` at its next request: 401, its cookie cleared, and the public page signed out. */
  const endsOn = async (agent: Agent, cookie: string, instance: 'a' | 'b') => {
    // Redis pushes the record's invalidation to the other instance as it is written: the instance
    // may answer a request that overtakes the push from its cache (bounded wait)
    let guarded = await on(agent, '/me', instance)
    await until('the instance to see the record', async () => {
      agent.setCookie(stage.url, SESSION, cookie)
      guarded = await on(agent, '/me', instance)
      return guarded.status !== 200
    }, 2000)
    expect(guarded.status).toBe(401)
    expect(clearsSession(guarded.setCookies)).toBe(true)
    // the same cookie again (a copy of it, or a tab that did not see the answer): still ended
    agent.setCookie(stage.url, SESSION, cookie)
    expect((await on(agent, '/', instance, HTML)).body).toBe('signed out')
    agent.setCookie(stage.url, SESSION, cookie)
    expect((await on(agent, '/me', instance, HTML)).status).toBe(302)
  }

  it('back-channel logout on one instance ends the cookie session on the other', async () => {
    const { agent, cookie } = await signedIn()
    const [sent, failed] = [provider.count('backchannel.success'), provider.count('backchannel.error')]
    // the user signs out at the provider, which POSTs a logout token (by sid) to instance a
    const confirm = await agent.follow(`${provider.issuer}/session/end?client_id=${CLIENT_ID}`, { headers: HTML })
    const { action, fields } = formOf(confirm.last)
    fields.set('logout', 'yes')
    await agent.follow(action, { method: 'POST', headers: HTML, body: fields.toString() })
    expect([provider.count('backchannel.success'), provider.count('backchannel.error')]).toEqual([sent + 1, failed])
    agent.setCookie(stage.url, SESSION, cookie)
    await endsOn(agent, cookie, 'b')
    agent.setCookie(stage.url, SESSION, cookie)
    await endsOn(agent, cookie, 'a')
  })

  it('the admin\'s codegrant.sessions.endAll(sub) ends the user\'s cookie sessions on every instance, and no one else\'s', async () => {
    const alice = await signedIn()
    const phone = createAgent()
    await login(phone, stage.url, alice.sub)
    const bob = await signedIn()
    expect(await admin.sessions.endAll(alice.sub)).toBe(0)
    await endsOn(alice.agent, alice.cookie, 'b')
    await until('instance a to see the record', async () => (await on(phone, '/me', 'a')).status === 401, 2000)
    for (const instance of ['a', 'b'] as const) expect((await on(bob.agent, '/me', instance)).status).toBe(200)
    await expect(admin.sessions.endAll(alice.sub, { except: 'x' })).rejects.toMatchObject({ code: 'codegrant/config_invalid' })
    await expect(admin.sessions.list(alice.sub)).rejects.toMatchObject({ code: 'codegrant/config_invalid' })
  })

  it('a login after the record is not ended', async () => {
    const { agent, sub } = await signedIn()
    await admin.sessions.endAll(sub)
    // instance b sees the record once Redis's invalidation of its cached copy arrives (bounded wait)
    await until('instance b to see the record', async () => (await on(agent, '/me', 'b')).status === 401, 2000)
    // the record ends the sessions begun until the second it was written
    const after = seconds() + 1
    await until('the next second', async () => seconds() >= after, 3000)
    // (another browser: this one would sign in at the provider without its form)
    const again = createAgent()
    await login(again, stage.url, sub)
    for (const instance of ['b', 'a', 'b'] as const) expect((await on(again, '/me', instance)).status).toBe(200)
  })

  it('unchanged records are answered from the client-side cache: no Redis round trip per request', async () => {
    const { agent } = await signedIn()
    const gets = async () => Number(/cmdstat_get:calls=(\d+)/.exec(await redis.cli('info', 'commandstats'))?.[1] ?? 0)
    // the cache serves once its heartbeat has confirmed the connection (within a second of connecting)
    await until('the records to be cached', async () => {
      const before = await gets()
      await on(agent, '/me', 'b')
      return (await gets()) === before
    }, 5000)
    const before = await gets()
    for (let i = 0; i < 5; i++) expect((await on(agent, '/me', 'b')).status).toBe(200)
    expect(await gets()).toBe(before)
  })

  it('Redis stopped: public pages signed out, guarded 503; back up, the ended session stays ended', async () => {
    const { agent, sub, cookie } = await signedIn()
    await admin.sessions.endAll(sub)
    await endsOn(agent, cookie, 'b')
    const live = await signedIn()
    await redis.stop()
    try {
      for (const { agent: user, cookie: kept } of [{ agent, cookie }, live]) {
        user.setCookie(stage.url, SESSION, kept)
        const guarded = await on(user, '/me', 'b')
        expect(guarded.status).toBe(503)
        // the cookie is kept: the session may well be live
        expect(clearsSession(guarded.setCookies)).toBe(false)
        expect((await on(user, '/', 'b', HTML)).body).toBe('signed out')
      }
    } finally {
      await redis.start()
    }
    agent.setCookie(stage.url, SESSION, cookie)
    await until('Redis to answer the instance again', async () => (await on(agent, '/me', 'b')).status !== 503, 15_000)
    agent.setCookie(stage.url, SESSION, cookie)
    await endsOn(agent, cookie, 'b')
    // the live session was never ended: it works again
    expect((await on(live.agent, '/me', 'b')).status).toBe(200)
  })
})

describe('the signed-in user\'s own req.oauth.sessions with cookie sessions and OAUTH_REDIS_URL (express5)', () => {
  beforeAll(async () => {
    const { oauth, requireAuth } = await import('@codegrant/express')
    const { default: express5 } = await import('express5')
    const app = express5()
    app.use(oauth(appOptions(provider, stage.url, captureLogs(), { redisUrl: redis.url, redisPrefix: 'ended-own:', redisTimeout: 1000 })))
    app.get('/me', requireAuth(), (req, res) => void res.json({ sub: req.oauth.user?.sub }))
    const answer = (run: (oauth: Express.Request['oauth']) => Promise<unknown>) => (req: Request, res: Response) => {
      run(req.oauth).then(
        (value) => void res.json({ value }),
        (error: { status?: number; code?: string }) => void res.status(error.status ?? 500).json({ error: error.code }),
      )
    }
    app.post('/sign-out-everywhere', requireAuth(), answer((oauth) => oauth.sessions.endAll()))
    app.post('/sign-out-others', requireAuth(), answer((oauth) => oauth.sessions.endAll({ except: 'current' })))
    app.get('/devices', requireAuth(), answer((oauth) => oauth.sessions.list()))
    stage.mount(app)
  })

  it('endAll() ends every one of the user\'s cookie sessions, this one too (its cookie cleared); except and list() are refused', async () => {
    const sub = newUser()
    const [laptop, phone, bob] = [createAgent(), createAgent(), createAgent()]
    await login(laptop, stage.url, sub)
    await login(phone, stage.url, sub)
    await login(bob, stage.url, newUser())
    const post = (agent: Agent, path: string) => agent.request(`${stage.url}${path}`, { method: 'POST', headers: API })
    expect(JSON.parse((await post(laptop, '/sign-out-others')).body)).toEqual({ error: 'codegrant/config_invalid' })
    expect(JSON.parse((await laptop.request(`${stage.url}/devices`, { headers: API })).body)).toEqual({ error: 'codegrant/config_invalid' })
    for (const agent of [laptop, phone, bob]) expect((await agent.request(`${stage.url}/me`, { headers: API })).status).toBe(200)
    const ended = await post(laptop, '/sign-out-everywhere')
    expect(JSON.parse(ended.body)).toEqual({ value: 0 })
    expect(clearsSession(ended.setCookies)).toBe(true)
    for (const agent of [laptop, phone]) expect((await agent.request(`${stage.url}/me`, { headers: API })).status).toBe(401)
    expect((await bob.request(`${stage.url}/me`, { headers: API })).status).toBe(200)
  })
})
