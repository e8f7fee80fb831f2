/**
 * Token and secret leakage: no error, log line or response carries a token, code or secret; the
 * access token goes only to allowed origins, in the header; no request reaches a provider whose
 * TLS certificate is not trusted (SECURITY-PLAN #31, #49; the review's findings 6 and 9).
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { beforeEach, describe, expect, it } from 'vitest'
import { API, type Agent } from '../support/agent.js'
import { FRAMEWORKS, type Framework } from '../support/apps.js'
import { useCaseStage } from '../support/case-stage.js'
import type { HostileProvider } from '../support/hostile-provider.js'
import { CLIENT_ID, CLIENT_SECRET, SECRET_A } from '../support/provider.js'
import { setsSession, useReviewStage } from '../support/review-stage.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const review = useReviewStage(framework)
  const { get, mount, toCallback, signedIn, signInAndExpire, expectNoLeak } = review
  let hostile: HostileProvider
  let agent: Agent
  let caught: unknown[]
  beforeEach(() => void ({ hostile, agent, caught } = review.state))

  describe('finding 6: no error references a token, code or secret at any depth', () => {
    it('a refresh answered with scope as an array', async () => {
      await signInAndExpire()
      hostile.set({ tokenResponse: { expires_in: 2, scope: ['openid', 'profile'] } })
      const response = await get('/api/token')
      expect(response.status).toBe(502)
      expect(caught).toHaveLength(1)
      const deep = inspect(caught[0], { depth: Infinity, showHidden: true })
      expect(deep).toContain('codegrant/provider_error')
      for (const secret of [...hostile.secrets(), SECRET_A]) expect(deep).not.toContain(secret)
      expect(JSON.stringify(caught[0])).not.toMatch(/rt-|at-/)
    })

    it('a code exchange answered with an ID token for another audience', async () => {
      hostile.set({ idToken: { claims: { aud: 'someone-else' } } })
      const response = await agent.request(await toCallback(), { headers: API })
      expect(response.status).toBe(400)
      expectNoLeak(response)
    })
  })

  describe('finding 9: oauth.fetch sends the access token only to allowed origins', () => {
    it('refuses another origin by default, and sends nothing there', async () => {
      await mount({}, `${hostile.evil.url}/userinfo`)
      await signedIn()
      const before = hostile.evil.count()
      const response = await get('/api/userinfo')
      expect([response.status, JSON.parse(response.body)]).toEqual([500, { error: 'codegrant/origin_not_allowed' }])
      expect(hostile.evil.count()).toBe(before)
    })

    it('refuses plain http off loopback, before any request', async () => {
      await mount({}, 'http://api.example.test/v1/me')
      await signedIn()
      const response = await get('/api/userinfo')
      expect([response.status, JSON.parse(response.body)]).toEqual([500, { error: 'codegrant/origin_not_allowed' }])
      expect(inspect(caught[0])).toMatch(/http:\/\/api\.example\.test/)
    })

    it('sends it to an origin the app named (apiOrigins) and to the provider', async () => {
      await mount({ apiOrigins: [hostile.evil.url] }, `${hostile.evil.url}/userinfo`)
      await signedIn()
      const before = hostile.evil.count()
      expect((await get('/api/userinfo')).status).toBe(200)
      expect(hostile.evil.count()).toBe(before + 1)
      await mount({ apiOrigins: [hostile.evil.url] })
      expect((await get('/api/userinfo')).status).toBe(200)
    })
  })
})

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const cases = useCaseStage(framework)
  const { mount, get, toCallback } = cases
  let hostile: HostileProvider
  let agent: Agent
  beforeEach(() => void ({ hostile, agent } = cases.fixture))

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

  it('#31 a provider whose TLS certificate is not trusted: 503, no request reaches it', async () => {
    const fixture = new URL('../fixtures/untrusted-tls/', import.meta.url)
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
