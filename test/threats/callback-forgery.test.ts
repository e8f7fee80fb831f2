/**
 * Forged, replayed and injected callbacks (login CSRF, code injection, transaction swaps, tokens
 * smuggled into the authorization response): none signs anyone in or reaches the token endpoint
 * twice (SECURITY-PLAN #3, #9, #10, #12, #15, #19, #20, #24, #42; the review's findings 5 and 7).
 */
import { memoryStore } from '@codegrant/core'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { API, createAgent, HTML, type Agent } from '../support/agent.js'
import { buildHandler, FRAMEWORKS, type Framework, type Stage } from '../support/apps.js'
import { cookiePair, useCaseStage } from '../support/case-stage.js'
import type { HostileProvider } from '../support/hostile-provider.js'
import { appOptions, type captureLogs } from '../support/provider.js'
import { faultyStore, setsSession, TIMEOUT, useReviewStage } from '../support/review-stage.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const review = useReviewStage(framework)
  const { get, mount, toCallback, signedIn } = review
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  beforeEach(() => void ({ stage, hostile, logs, agent } = review.state))

  describe('finding 5: one code exchange per state in flight', () => {
    it('the same callback delivered three times at once: one token request, one session', async () => {
      const faulty = faultyStore()
      await mount({ sessionStore: faulty.store })
      const url = await toCallback()
      const before = hostile.count('token', 'authorization_code')
      const responses = await Promise.all([1, 2, 3].map(() => agent.request(url, { headers: HTML })))
      expect(hostile.count('token', 'authorization_code')).toBe(before + 1)
      expect(new Set(faulty.written).size).toBe(1)
      for (const response of responses) expect([response.status, response.headers.get('location')]).toEqual([302, '/'])
      expect((await get('/me')).status).toBe(200)
    })

    it('the same callback delivered at once to two instances sharing a store: one token request', async () => {
      // two codegrant instances (as on two servers) behind one round-robin entry, one shared store
      const shared = memoryStore()
      const options = appOptions(hostile, stage.url, logs, { httpTimeout: TIMEOUT, sessionStore: shared })
      const instances = [await buildHandler(framework, options, hostile.userinfoUrl), await buildHandler(framework, options, hostile.userinfoUrl)]
      let next = 0
      stage.mount((req, res) => instances[next++ % 2]!(req, res))
      const url = await toCallback()
      const before = hostile.count('token', 'authorization_code')
      const responses = await Promise.all([1, 2].map(() => agent.request(url, { headers: API })))
      expect(hostile.count('token', 'authorization_code')).toBe(before + 1)
      const outcomes = responses.map((response) => (response.status === 302 ? 'signed in' : JSON.parse(response.body).code)).sort()
      expect(outcomes).toEqual(['codegrant/invalid_callback', 'signed in'])
      expect((await get('/me')).status).toBe(200)
      expect((await get('/me')).status).toBe(200) // on both instances
    })
  })

  describe('finding 7: cookie names the cookie library cannot serialise are ignored', () => {
    it('a callback whose state names such a cookie: 400, not 500', async () => {
      agent.setCookie(stage.url, 'codegrant.tx.a b', 'x')
      const response = await get('/auth/callback?state=a%20b&code=x', API)
      expect([response.status, JSON.parse(response.body).code]).toEqual([400, 'codegrant/transaction_invalid'])
      expect((await get('/', HTML)).status).toBe(200)
    })

    it('a login with planted transaction cookies of invalid names: 302', async () => {
      for (let i = 0; i < 6; i++) agent.setCookie(stage.url, `codegrant.tx.bad name ${i}`, 'x')
      const response = await get('/auth/login', HTML)
      expect(response.status).toBe(302)
      await signedIn()
    })
  })
})

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const cases = useCaseStage(framework)
  const { get, toCallback, expectRejected, signedOut } = cases
  let stage: Stage
  let hostile: HostileProvider
  let agent: Agent
  beforeEach(() => void ({ stage, hostile, agent } = cases.fixture))

  it('#3 the transaction cookie is HttpOnly, SameSite=Lax, lives 10 minutes, and its value is sealed', async () => {
    const started = await get('/auth/login', HTML)
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!
    const tx = started.setCookies.find((line) => line.startsWith(`codegrant.tx.${state}=`))!
    expect(tx).toMatch(/; HttpOnly/)
    expect(tx).toMatch(/; SameSite=Lax/)
    expect(tx).toMatch(/; Path=\//)
    expect(Number(/Max-Age=(\d+)/.exec(tx)![1])).toBe(600)
    const value = cookiePair(tx)[1]
    expect(value).toMatch(/^[\w-]+$/)
    const verifierOrNonce = /"(verifier|nonce)"/
    expect(Buffer.from(value, 'base64url').toString('latin1')).not.toMatch(verifierOrNonce)
  })

  it('#9 sends state, nonce and S256 even when the provider does not advertise PKCE support', async () => {
    hostile.set({ metadata: { code_challenge_methods_supported: undefined } })
    const location = new URL((await get('/auth/login', HTML)).headers.get('location')!)
    expect(location.searchParams.get('code_challenge_method')).toBe('S256')
    expect(location.searchParams.get('state')).toMatch(/^[\w-]{43}$/)
    expect(location.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/)
  })

  it('#10 a callback after the transaction expired: 400 transaction_invalid, no token request', async () => {
    const url = await toCallback()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 11 * 60_000)
    const before = hostile.count('token')
    expectRejected(await agent.request(url.href, { headers: API }), 400, 'codegrant/transaction_invalid')
    expect(hostile.count('token')).toBe(before)
  })

  it('#12 a callback without state: 400 invalid_callback, no token request', async () => {
    const url = await toCallback()
    url.searchParams.delete('state')
    const before = hostile.count('token')
    expectRejected(await agent.request(url.href, { headers: API }), 400, 'codegrant/invalid_callback')
    expect(hostile.count('token')).toBe(before)
    await signedOut()
  })

  it('#15 code injection: the attacker\'s state with the victim\'s code is refused (PKCE), no session', async () => {
    const victim = await toCallback(createAgent())
    const attacker = await toCallback()
    attacker.searchParams.set('code', victim.searchParams.get('code')!)
    const before = hostile.count('token')
    expectRejected(await agent.request(attacker.href, { headers: API }), 400, 'codegrant/invalid_grant')
    expect(hostile.count('token')).toBe(before + 1)
    await signedOut()
  })

  it.each([
    ['an id_token', { id_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.' }],
    ['a token (implicit)', { token: 'injected', token_type: 'bearer' }],
    ['a JARM response', { response: 'eyJhbGciOiJub25lIn0.e30.' }],
    ['no code', { code: undefined }],
  ] as const)('#19 a callback carrying %s: 400 invalid_callback, no token request', async (_, change) => {
    const url = await toCallback()
    for (const [name, value] of Object.entries(change)) {
      if (value === undefined) url.searchParams.delete(name)
      else url.searchParams.set(name, value)
    }
    const before = hostile.count('token')
    expectRejected(await agent.request(url.href, { headers: API }), 400, 'codegrant/invalid_callback')
    expect(hostile.count('token')).toBe(before)
  })

  it('#19 an access_token in the callback query is ignored: the session holds what the exchange gave', async () => {
    const url = await toCallback()
    url.searchParams.set('access_token', 'injected-access-token')
    const response = await agent.request(url.href, { headers: API })
    expect([response.status, setsSession(response.setCookies)]).toEqual([302, true])
    // the resource accepts only tokens the provider issued: the injected one was never used
    expect((await get('/api/userinfo')).status).toBe(200)
  })

  it('#20 in query mode, the response POSTed as form_post is refused with 405, no token request', async () => {
    const url = await toCallback()
    const before = hostile.count('token')
    const response = await agent.request(`${stage.url}/auth/callback`, { method: 'POST', headers: API, body: url.searchParams.toString() })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET')
    expect(setsSession(response.setCookies)).toBe(false)
    expect(hostile.count('token')).toBe(before)
    // the response is still good for the GET it was meant for
    expect((await agent.request(url.href, { headers: API })).status).toBe(302)
  })

  it('#24 transaction swap: another transaction\'s cookie value under this state\'s name is refused', async () => {
    const first = await toCallback()
    const second = await toCallback()
    const cookies = agent.cookies(stage.url)
    const name = (url: URL) => `codegrant.tx.${url.searchParams.get('state')}`
    cookies.set(name(first), cookies.get(name(second))!)
    const before = hostile.count('token')
    expectRejected(await agent.request(first.href, { headers: API }), 400, 'codegrant/transaction_invalid')
    expect(hostile.count('token')).toBe(before)
  })

  it('#42 accepts an ID token without kid when one published key fits the pinned algorithm', async () => {
    hostile.set({ idToken: { header: { kid: undefined } } })
    const response = await agent.request((await toCallback()).href, { headers: API })
    expect([response.status, setsSession(response.setCookies)]).toEqual([302, true])
    expect((await get('/me')).status).toBe(200)
  })
})
