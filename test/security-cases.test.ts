/**
 * SECURITY-PLAN cases that no other file covered, once per framework, against the hostile
 * provider (support/hostile-provider.ts) so that each login costs a few milliseconds. Each test
 * names its case number; SECURITY.md maps every case to the test that covers it.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { API, createAgent, HTML, type Agent, type Hop } from './support/agent.js'
import { FRAMEWORKS, type Framework, type Stage } from './support/apps.js'
import type { HostileProvider } from './support/hostile-provider.js'
import { useHostileStage } from './support/hostile-stage.js'
import { CLIENT_ID, CLIENT_SECRET, SECRET_A } from './support/provider.js'

const SESSION = 'codegrant.session'
const isSessionCookie = (line: string) => line.startsWith(`${SESSION}=`) || line.startsWith(`${SESSION}.`)
const setsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line))
const cookiePair = (line: string) => line.split(';')[0]!.split('=') as [string, string]

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const fixture = useHostileStage(framework, { httpTimeout: 1000 })
  const { mount, get } = fixture
  let stage: Stage
  let hostile: HostileProvider
  let agent: Agent
  beforeEach(() => void ({ stage, hostile, agent } = fixture))
  /** Starts a login in `jar` and returns the callback URL the provider sends back (not delivered). */
  const toCallback = async (jar: Agent = agent): Promise<URL> => {
    const started = await jar.follow(`${stage.url}/auth/login`, { headers: HTML }, (url) => url.startsWith(`${stage.url}/auth/callback`))
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status}`)
    return new URL(started.stoppedAt)
  }
  const expectRejected = (response: Hop, status: number, code: string) => {
    expect({ status: response.status, code: JSON.parse(response.body).code }).toEqual({ status, code })
    expect(setsSession(response.setCookies)).toBe(false)
    for (const secret of [...hostile.secrets(), SECRET_A]) expect(response.body).not.toContain(secret)
  }
  const signedOut = async () => expect((await get('/me')).status).toBe(401)


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

  it('#49 oauth.fetch sends the token in the header and, on a 401, refreshes once and retries', async () => {
    await agent.request((await toCallback()).href, { headers: API })
    expect((await get('/api/userinfo')).status).toBe(200)
    // the provider revokes the access token behind our back: the resource answers 401
    const accessToken = hostile.secrets().filter((secret) => secret.startsWith('at-')).at(-1)!
    const revoked = await fetch(`${hostile.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: accessToken, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }),
    })
    expect(revoked.status).toBe(200)
    const before = hostile.count('token', 'refresh_token')
    const retried = await get('/api/userinfo')
    expect([retried.status, JSON.parse(retried.body).sub]).toEqual([200, hostile.sub])
    expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
    expect(setsSession(retried.setCookies)).toBe(true)
  })

  it('#68 a refresh answer without refresh_token, id_token and expires_in keeps the user signed in', async () => {
    hostile.set({ tokenResponse: { expires_in: 2 } })
    await agent.request((await toCallback()).href, { headers: API })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 10_000)
    hostile.set({ tokenResponse: { refresh_token: undefined, id_token: undefined, expires_in: undefined } })
    const before = hostile.count('token', 'refresh_token')
    expect((await get('/api/token')).status).toBe(200)
    expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
    const me = await get('/me')
    expect([me.status, JSON.parse(me.body).user.sub]).toEqual([200, hostile.sub])
    // the lifetime is now unknown: no refresh on every request
    expect((await get('/api/token')).status).toBe(200)
    expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
  })

  it('#90 a callback that lands on another instance (same secret) completes', async () => {
    const url = await toCallback()
    await mount() // another instance: nothing shared but the configuration
    const response = await agent.request(url.href, { headers: API })
    expect([response.status, setsSession(response.setCookies)]).toEqual([302, true])
    expect((await get('/me')).status).toBe(200)
  })

  it('#31 a provider whose TLS certificate is not trusted: 503, no request reaches it', async () => {
    const fixture = new URL('./fixtures/untrusted-tls/', import.meta.url)
    let served = 0
    const tls = createServer({ key: readFileSync(new URL('key.pem', fixture)), cert: readFileSync(new URL('cert.pem', fixture)) }, (_req, res) => {
      served++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
    tls.on('tlsClientError', () => {})
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
    try {
      await mount({ issuer: `https://127.0.0.1:${(tls.address() as AddressInfo).port}` })
      const response = await get('/auth/login')
      expect([response.status, JSON.parse(response.body).code]).toEqual([503, 'codegrant/provider_unavailable'])
      expect(response.headers.get('location')).toBeNull()
      expect(served).toBe(0)
    } finally {
      tls.closeAllConnections()
      await new Promise((resolve) => tls.close(resolve))
    }
  })
})
