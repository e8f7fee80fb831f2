/**
 * The refresh path against providers and stores that are slow, forgetful or different (issue 18
 * items 7, 8, 12, 13), on every framework version against the hostile provider on loopback:
 * several codegrant instances sharing one store (in this process, each with its own refresher,
 * metadata and keys, behind one URL: `x-instance` picks one), a provider that answers slowly,
 * a store that fails one write, a provider that does not rotate refresh tokens (LemonLDAP::NG)
 * and one that refuses a token without an RFC 6750 `Bearer` challenge.
 */
import { memoryStore, type CoordinatingStore, type OAuthOptions, type SessionStore } from '@codegrant/core'
import { redisStore, type RedisStore } from '@codegrant/redis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { API, HTML } from './support/agent.js'
import { buildHandler, FRAMEWORKS, type Framework } from './support/apps.js'
import { onceBack } from './support/breaker.js'
import { useHostileStage } from './support/hostile-stage.js'
import { startRedis, until, type RedisServer } from './support/redis.js'

const SESSION = 'codegrant.session'
const setsSession = (lines: string[]) => lines.some((line) => line.startsWith(`${SESSION}=`) && !/Max-Age=0/i.test(line))
const STORES = ['memory', 'redis'] as const

let redis: RedisServer
const opened: RedisStore[] = []
let prefixes = 0
beforeAll(async () => {
  redis = await startRedis()
}, 30_000)
afterAll(async () => {
  await Promise.all(opened.map((store) => store.close()))
  await redis?.close()
})

/** A Redis store client of its own (each instance has one), on this test's keys. */
function redisClient(prefix: string): RedisStore {
  const store = redisStore({ url: redis.url, prefix, logger: { warn: () => undefined, error: () => undefined } })
  opened.push(store)
  return store
}

/** `store` whose next `times` updates fail once `failUpdates(times)` was called (a store blip). */
function blipping(store: CoordinatingStore): { store: CoordinatingStore; failUpdates(times: number): void; readonly failed: number } {
  let armed = 0
  let failed = 0
  return {
    store: {
      ...store,
      update(sid, data, ttl) {
        if (armed === 0) return store.update(sid, data, ttl)
        armed--
        failed++
        throw Object.assign(new Error('the store failed to update (connection lost)'), { code: 'ECONNRESET' })
      },
    },
    failUpdates: (times) => void (armed = times),
    get failed() {
      return failed
    },
  }
}

/** `store` without `lock` and `unlock`: a custom store that cannot coordinate refreshes across instances. */
function withoutLock(store: CoordinatingStore): SessionStore {
  const { lock: _lock, unlock: _unlock, ...rest } = store
  return rest
}

/**
 * `store` whose next `get` once `hold()` was called reads the record at once and answers it only
 * when `release()` is called: an instance that read a session and then stalled (a pause of the
 * event loop, a slow network), so that another instance refreshes in between.
 */
function stalling(store: SessionStore): { store: SessionStore; hold(): void; readonly read: boolean; release(): void } {
  let armed = false
  let read = false
  let release = () => {}
  const released = () => new Promise<void>((resolve) => void (release = resolve))
  return {
    store: {
      ...store,
      async get(sid) {
        if (!armed) return store.get(sid)
        armed = false
        const gate = released()
        const record = await store.get(sid)
        read = true
        await gate
        return record
      },
    },
    hold: () => void (armed = true),
    get read() {
      return read
    },
    release: () => release(),
  }
}

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const fixture = useHostileStage(framework, { httpTimeout: 2500, mount: false })
  /** Mounts one codegrant instance per options object behind the stage's URL; `x-instance` picks one (default 0). */
  const instances = async (each: OAuthOptions[]) => {
    const handlers = await Promise.all(each.map((extra) => buildHandler(framework, fixture.options(extra), fixture.hostile.userinfoUrl)))
    fixture.stage.mount((req, res) => handlers[Number(req.headers['x-instance'] ?? 0)]!(req, res))
  }
  const on = (which: number, path: string) => fixture.agent.request(`${fixture.stage.url}${path}`, { headers: { ...API, 'x-instance': String(which) } })
  const signIn = async () => {
    const done = await fixture.agent.follow(`${fixture.stage.url}/auth/login`, { headers: HTML })
    expect(done.last.status).toBe(200)
  }
  const refreshes = () => fixture.hostile.count('token', 'refresh_token')
  /** Signs in with 2 s access tokens, then moves the clock 10 s on: the next use refreshes. */
  const signInAndExpire = async () => {
    fixture.hostile.set({ tokenResponse: { expires_in: 2 } })
    await signIn()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 10_000)
  }
  afterEach(() => {
    vi.useRealTimers()
  })

  describe('18.7: the cross-instance refresh lock under a slow provider', () => {
    it('three instances sharing one Redis, a provider that takes 1.6 s per answer: exactly one refresh grant, the session survives on all three', async () => {
      const prefix = `lock-${framework}-${++prefixes}:`
      await instances([0, 1, 2].map(() => ({ sessionStore: redisClient(prefix) })))
      await signInAndExpire()
      // instances 1 and 2 have not loaded the provider's metadata or keys yet: a refresh there
      // takes three slow answers (discovery, token, JWKS), 4.8 s: longer than httpTimeout + 2 s, while
      // each answer stays 900 ms inside httpTimeout, so a loaded machine does not turn it into a timeout
      fixture.hostile.set({ delay: { discovery: 1600, token: 1600, jwks: 1600 } })
      const before = refreshes()
      const responses = await Promise.all([on(1, '/api/token'), on(2, '/api/token')])
      expect(responses.map((response) => [response.status, response.body])).toEqual([[200, '{"token":true}'], [200, '{"token":true}']])
      expect(refreshes()).toBe(before + 1)
      fixture.hostile.reset()
      for (const which of [0, 1, 2]) expect((await on(which, '/me')).status, `instance ${which}`).toBe(200)
      expect(refreshes()).toBe(before + 1)
    }, 20_000)
  })

  describe.each(STORES)('18.8: a write-back that fails once (%s store)', (kind) => {
    /** Two instances sharing one `kind` store whose writes can be made to fail, signed in, the access token expired. */
    const twoInstancesOnBlippingStore = async (name: string) => {
      const shared = blipping(kind === 'memory' ? memoryStore() : redisClient(`${name}-${framework}-${++prefixes}:`))
      await instances([{ sessionStore: shared.store }, { sessionStore: shared.store }])
      await signInAndExpire()
      return shared
    }

    it('keeps the rotated tokens: the refresh is saved on a second try, another instance never replays the used refresh token, and the session survives the next expiry', async () => {
      const shared = await twoInstancesOnBlippingStore('blip')
      const before = refreshes()
      shared.failUpdates(1)
      const first = await on(0, '/api/token')
      expect([first.status, first.body]).toEqual([200, '{"token":true}'])
      expect([shared.failed, refreshes()]).toEqual([1, before + 1])
      // the other instance finds the refreshed record: no refresh, no replay
      const other = await on(1, '/api/token')
      expect([other.status, other.body]).toEqual([200, '{"token":true}'])
      expect(refreshes()).toBe(before + 1)
      // the next expiry refreshes with the rotated refresh token that was saved
      vi.setSystemTime(Date.now() + 10_000)
      expect((await on(1, '/api/userinfo')).status).toBe(200)
      expect(refreshes()).toBe(before + 2)
      expect((await on(0, '/me')).status).toBe(200)
    })

    it('when every attempt fails: 503, and the next request saves the result it kept, at once, without a grant; the other instance never replays', async () => {
      const shared = await twoInstancesOnBlippingStore('down')
      const before = refreshes()
      shared.failUpdates(3)
      const failed = await on(0, '/api/token')
      expect([failed.status, JSON.parse(failed.body)]).toEqual([503, { error: 'codegrant/store_unavailable' }])
      expect([shared.failed, refreshes()]).toEqual([3, before + 1])
      // the holder still has the lock: its own next attempt does not wait for it to lapse (only,
      // at most, for the store breaker's pause that the three failures opened: 503 meanwhile)
      const started = performance.now()
      const saved = await onceBack(() => on(0, '/api/token'), 2000)
      expect([saved.status, saved.body]).toEqual([200, '{"token":true}'])
      expect(performance.now() - started).toBeLessThan(2000)
      expect(refreshes()).toBe(before + 1)
      expect((await on(1, '/api/token')).status).toBe(200)
      vi.setSystemTime(Date.now() + 10_000)
      expect((await on(1, '/me')).status).toBe(200)
      expect(refreshes()).toBe(before + 2)
    })
  })

  describe.each(STORES)('18.8: a refresh token another instance used meanwhile (%s store without a lock)', (kind) => {
    it('the provider refuses it (invalid_grant): the record is read again and the other instance\'s saved refresh is the answer; the session lives on', async () => {
      const shared = withoutLock(kind === 'memory' ? memoryStore() : redisClient(`nolock-${framework}-${++prefixes}:`))
      const late = stalling(shared)
      await instances([{ sessionStore: shared }, { sessionStore: late.store }])
      await signInAndExpire()
      const before = refreshes()
      // instance 1 reads the session (its access token expired) and stalls ...
      late.hold()
      const stalled = on(1, '/api/token')
      await until('instance 1 to read the session', async () => late.read)
      // ... meanwhile instance 0 refreshes: the provider rotates the refresh token, the record is saved
      const first = await on(0, '/api/token')
      expect([first.status, first.body]).toEqual([200, '{"token":true}'])
      expect(refreshes()).toBe(before + 1)
      // instance 1 goes on with the record it read: its refresh token is used, the provider refuses it
      late.release()
      const second = await stalled
      expect(refreshes()).toBe(before + 2)
      expect([second.status, second.body]).toEqual([200, '{"token":true}'])
      for (const which of [0, 1]) expect((await on(which, '/me')).status, `instance ${which}`).toBe(200)
      expect(refreshes()).toBe(before + 2)
    })
  })

  describe.each(['cookie', 'memory'] as const)('18.12: a provider that does not rotate refresh tokens (%s sessions)', (sessions) => {
    it('access tokens of 60 s: each expiry makes a token request, and the guard, accessToken(), oauth.fetch and userinfo() succeed', async () => {
      await instances([{ sessionStore: sessions }])
      fixture.hostile.set({ rotateRefreshTokens: false, tokenResponse: { expires_in: 60 } })
      await signIn()
      vi.useFakeTimers({ toFake: ['Date'] })
      const before = refreshes()
      const paths = ['/api/userinfo-twice', '/api/userinfo', '/api/token', '/me', '/api/userinfo-twice']
      for (const [i, path] of paths.entries()) {
        vi.setSystemTime(Date.now() + 61_000)
        // the provider has expired the access token, as its `expires_in` said
        fixture.hostile.forgetAccessTokens()
        const response = await on(0, path)
        expect([path, response.status]).toEqual([path, 200])
        expect(refreshes(), path).toBe(before + i + 1)
        if (sessions === 'cookie') expect(setsSession(response.setCookies), path).toBe(true)
      }
    })
  })

  describe('18.13: a 401 without an RFC 6750 Bearer challenge (LemonLDAP::NG)', () => {
    it.each([
      // the fix: userinfo() answered 502 here before 18.13 (the refusal lost its HTTP status)
      ['userinfo()', '/api/userinfo-twice'],
      // a regression guard, not the fix: oauth.fetch read the status 401 before 18.13 too; it
      // keeps the two paths alike should userinfo() ever go through oauth.fetch, or the reverse
      ['an API through oauth.fetch', '/api/userinfo'],
    ])('%s: one refresh, one retry, 200', async (_, path) => {
      await instances([{}])
      fixture.hostile.set({ challenge: 'error=invalid_request,error_description="Access token not found"' })
      await signIn()
      const [before, calls] = [refreshes(), fixture.hostile.count('userinfo')]
      // the provider invalidated the access token long before it expires (its SSO session ended)
      fixture.hostile.forgetAccessTokens()
      const response = await on(0, path)
      expect([response.status, JSON.parse(response.body)]).toMatchObject([200, path === '/api/userinfo' ? { sub: 'alice' } : { userinfo: { sub: 'alice' } }])
      expect([refreshes(), fixture.hostile.count('userinfo')]).toEqual([before + 1, calls + 2])
    })
  })
})
