/**
 * What users of the peers expect (issue 8 §4), through every adapter: `userinfo()` on the
 * request (once per request), and an `onLogin` hook that may refuse the login, reshape the
 * stored user, or keep app data in the session.
 */
import type { LoginEvent } from '@codegrant/core'
import { beforeEach, describe, expect, it } from 'vitest'
import { API, HTML, type Agent } from './support/agent.js'
import { FRAMEWORKS, type Framework, type Stage } from './support/apps.js'
import type { HostileProvider } from './support/hostile-provider.js'
import { useHostileStage } from './support/hostile-stage.js'
import type { captureLogs } from './support/provider.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const fixture = useHostileStage(framework, { mount: false })
  const { mount } = fixture
  let stage: Stage
  let hostile: HostileProvider
  let agent: Agent
  let logs: ReturnType<typeof captureLogs>
  beforeEach(() => void ({ stage, hostile, agent, logs } = fixture))
  const signIn = async () => (await agent.follow(`${stage.url}/auth/login`, { headers: HTML })).last
  const get = async (path: string) => {
    const hop = await agent.request(`${stage.url}${path}`, { headers: API })
    return { status: hop.status, body: JSON.parse(hop.body) as Record<string, unknown> }
  }

  it('userinfo(): the provider\'s userinfo for the user, fetched once per request', async () => {
    await mount()
    await signIn()
    const before = hostile.count('userinfo')
    expect(await get('/api/userinfo-twice')).toEqual({ status: 200, body: { userinfo: { sub: 'alice', name: 'Alice Hostile', email: 'alice@hostile.example' }, same: true } })
    expect(hostile.count('userinfo')).toBe(before + 1)
    // another request asks again
    await get('/api/userinfo-twice')
    expect(hostile.count('userinfo')).toBe(before + 2)
  })

  it('userinfo(): an unexpired access token the provider refuses (401) is refreshed once and the call retried', async () => {
    await mount()
    await signIn()
    const refreshes = hostile.count('token', 'refresh_token')
    hostile.forgetAccessTokens()
    expect(await get('/api/userinfo-twice')).toMatchObject({ status: 200, body: { userinfo: { sub: 'alice' }, same: true } })
    expect(hostile.count('token', 'refresh_token')).toBe(refreshes + 1)
    // the new access token was kept: the next request needs no refresh
    expect((await get('/api/userinfo-twice')).status).toBe(200)
    expect(hostile.count('token', 'refresh_token')).toBe(refreshes + 1)
  })

  it('userinfo(): a response for another subject is refused', async () => {
    await mount()
    await signIn()
    hostile.set({ userinfo: { sub: 'mallory' } })
    expect(await get('/api/userinfo-twice')).toMatchObject({ status: 502, body: { error: 'codegrant/userinfo_invalid' } })
  })

  it('onLogin may refuse a login: 403 codegrant/login_denied, no session', async () => {
    const seen: LoginEvent[] = []
    await mount({ onLogin: (event) => { seen.push(event); return false } })
    const page = await signIn()
    expect(page.status).toBe(403)
    expect(page.body).toContain('codegrant/login_denied')
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ user: { sub: 'alice' }, provider: { name: 'default', issuer: hostile.issuer }, tokens: { tokenType: 'Bearer' } })
    expect((await get('/me')).status).toBe(401)
  })

  it('onLogin may reshape the stored user and keep app data in the session', async () => {
    await mount({ onLogin: async ({ user }) => ({ user: { sub: user.sub, roles: ['editor'] }, data: { tenant: 'acme' } }) })
    expect((await signIn()).status).toBe(200)
    expect(await get('/me')).toEqual({ status: 200, body: { user: { sub: 'alice', roles: ['editor'] } } })
    expect(await get('/api/data')).toEqual({ status: 200, body: { data: { tenant: 'acme' } } })
  })

  it('onLogin that throws: 500 codegrant/login_hook_failed with a generic message, the cause in the log', async () => {
    await mount({ onLogin: () => { throw new Error('database down') } })
    const page = await signIn()
    expect(page.status).toBe(500)
    expect(page.body).toContain('codegrant/login_hook_failed')
    expect(page.body).not.toContain('database down')
    expect(logs.lines).toContain('onLogin threw: Error: database down')
  })
})
