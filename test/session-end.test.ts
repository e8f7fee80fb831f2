/**
 * The provider's word on when a session ends (issue 23 item 4): the ID token's `session_expiry`
 * (OpenID IPSIE SL1) is the session's absolute end, clamped to our own lifetime and refused when
 * it has passed; with a configured `max_age`, the session ends `max_age` after the ID token's
 * `auth_time`. Both read from the validated ID token, never from the app's `user`. Against the
 * dev provider (its users' `session_expiry` claim goes into their ID tokens), on a real server,
 * with cookie and memory sessions.
 */
import type { OAuthOptions } from '@codegrant/core'
import type { DevProvider } from '@codegrant/dev-provider'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { API, createAgent, login, type Agent } from './support/agent.js'
import { buildHandler, openStage, type Stage } from './support/apps.js'
import { appOptions, captureLogs, startProvider } from './support/provider.js'

const SESSION = 'codegrant.session'
const SESSION_MAX_AGE = 3600
let stage: Stage
let provider: DevProvider
let agent: Agent

beforeAll(async () => {
  stage = await openStage()
  provider = await startProvider(stage.url)
})
afterAll(async () => {
  await stage?.close()
  await provider?.close()
})
beforeEach(() => {
  agent = createAgent()
})
afterEach(() => provider.setExtraClaims('alice', {}))

const seconds = () => Math.floor(Date.now() / 1000)
const mount = async (extra: OAuthOptions = {}) =>
  stage.mount(await buildHandler('express5', appOptions(provider, stage.url, captureLogs(), { sessionMaxAge: SESSION_MAX_AGE, ...extra }), `${provider.issuer}/me`))
const get = (path: string) => agent.request(`${stage.url}${path}`, { headers: API })
const sessionTimes = async () => (JSON.parse((await get('/api/session')).body) as { session: { issuedAt: number; expiresAt: number } | null }).session

describe.each(['cookie', 'memory'] as const)('the provider\'s session end (%s sessions)', (store) => {
  const options: OAuthOptions = store === 'memory' ? { sessionStore: 'memory' } : {}

  it('session_expiry in the ID token is the session\'s absolute end', async () => {
    await mount(options)
    const expiry = seconds() + 600
    provider.setExtraClaims('alice', { session_expiry: expiry })
    await login(agent, stage.url, 'alice')
    expect((await sessionTimes())?.expiresAt).toBe(expiry)
  })

  it('is read from the provider\'s ID token, not from the user the app\'s hook made (which drops it)', async () => {
    await mount({ ...options, onLogin: ({ user }) => ({ user: { sub: user.sub } }) })
    const expiry = seconds() + 900
    provider.setExtraClaims('alice', { session_expiry: expiry })
    await login(agent, stage.url, 'alice')
    expect((await sessionTimes())?.expiresAt).toBe(expiry)
  })

  it('is clamped to our own lifetime: a later session_expiry leaves OAUTH_SESSION_MAX_AGE the end', async () => {
    await mount(options)
    provider.setExtraClaims('alice', { session_expiry: seconds() + 10 * SESSION_MAX_AGE })
    await login(agent, stage.url, 'alice')
    const times = await sessionTimes()
    expect(times!.expiresAt).toBe(times!.issuedAt + SESSION_MAX_AGE)
  })

  it('a session_expiry that has passed refuses the login with a clear error, and starts no session', async () => {
    await mount(options)
    provider.setExtraClaims('alice', { session_expiry: seconds() - 5 })
    const { callback } = await login(agent, stage.url, 'alice')
    expect(callback?.status).toBe(400)
    // the browser's error page names the code and says what happened
    expect(callback!.body).toContain('codegrant/id_token_invalid')
    expect(callback!.body).toContain('session_expiry has passed')
    expect(agent.cookies(stage.url).has(SESSION)).toBe(false)
    expect(await sessionTimes()).toBeNull()
  })

  it('a session_expiry that is no number of seconds refuses the login', async () => {
    await mount(options)
    provider.setExtraClaims('alice', { session_expiry: 'tomorrow' })
    const { callback } = await login(agent, stage.url, 'alice')
    expect(callback?.status).toBe(400)
    expect(callback!.body).toContain('codegrant/id_token_invalid')
    expect(agent.cookies(stage.url).has(SESSION)).toBe(false)
  })

  it('the session ends at session_expiry: signed in before it, signed out from it on', async () => {
    await mount(options)
    const expiry = seconds() + 2
    provider.setExtraClaims('alice', { session_expiry: expiry })
    await login(agent, stage.url, 'alice')
    expect((await get('/me')).status).toBe(200)
    // bounded: the session must end within a second of session_expiry
    const deadline = Date.now() + 5000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      status = (await get('/me')).status
      if (status === 200) {
        expect(seconds()).toBeLessThan(expiry)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    expect(status).toBe(401)
    expect(seconds()).toBeGreaterThanOrEqual(expiry)
  })

  it('a refreshed ID token brings the end nearer, never further; one whose session_expiry passed ends the session', async () => {
    await mount(options)
    const first = seconds() + 600
    provider.setExtraClaims('alice', { session_expiry: first })
    await login(agent, stage.url, 'alice')
    const refresh = () => agent.request(`${stage.url}/api/refresh`, { method: 'POST', headers: API })
    const nearer = seconds() + 300
    provider.setExtraClaims('alice', { session_expiry: nearer })
    expect((await refresh()).status).toBe(200)
    expect((await sessionTimes())?.expiresAt).toBe(nearer)
    provider.setExtraClaims('alice', { session_expiry: seconds() + 900 })
    expect((await refresh()).status).toBe(200)
    expect((await sessionTimes())?.expiresAt).toBe(nearer)
    provider.setExtraClaims('alice', { session_expiry: seconds() - 1 })
    const ended = await refresh()
    expect([ended.status, JSON.parse(ended.body).error]).toEqual([401, 'codegrant/session_ended'])
    expect((await get('/me')).status).toBe(401)
  })

  it('with a configured max_age, the session ends max_age after the ID token\'s auth_time', async () => {
    await mount({ ...options, authorizationParams: { max_age: '600' } })
    const before = seconds()
    await login(agent, stage.url, 'alice')
    const times = await sessionTimes()
    // auth_time is the provider's sign-in, during login()
    expect(times!.expiresAt).toBeGreaterThanOrEqual(before + 600)
    expect(times!.expiresAt).toBeLessThanOrEqual(seconds() + 600)
    expect(times!.expiresAt).toBeLessThan(times!.issuedAt + SESSION_MAX_AGE)
  })
})
