/**
 * Cookies and framing: a session too large for a cookie fails the login clearly, a refresh's Set-
 * Cookie survives the app's failure, and codegrant's own pages cannot be framed (the review's
 * finding 10; issue 18's finding 10).
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { API, HTML, type Agent, type Hop } from '../support/agent.js'
import { buildHandler, FRAMEWORKS, type Framework, type Stage } from '../support/apps.js'
import type { HostileProvider } from '../support/hostile-provider.js'
import { CLIENT_ID, CLIENT_SECRET, SECRET_A, type captureLogs } from '../support/provider.js'
import { setsSession, useReviewStage } from '../support/review-stage.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const review = useReviewStage(framework)
  const { get, mount, toCallback, signedIn, signInAndExpire } = review
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  beforeEach(() => void ({ stage, hostile, logs, agent } = review.state))

  describe('finding 10', () => {
    it('a session too large for a cookie fails the login with a clear error instead of locking the user out (431)', async () => {
      const groups = Array.from({ length: 700 }, (_, i) => `department-group-${String(i).padStart(4, '0')}`)
      hostile.set({ idToken: { claims: { groups } } })
      const response = await agent.request(await toCallback(), { headers: API })
      expect([response.status, JSON.parse(response.body).code]).toEqual([502, 'codegrant/session_too_large'])
      expect(JSON.parse(response.body).message).toMatch(/OAUTH_SESSION_STORE/)
      expect(setsSession(response.setCookies)).toBe(false)
      expect((await get('/', HTML)).status).toBe(200)
      // the same login with a server-side store works
      await mount({ sessionStore: 'memory' })
      await signedIn()
      expect((await get('/me')).status).toBe(200)
    })

    it('keeps the Set-Cookie of a refresh (rotated refresh token) when the app then fails', async () => {
      await signInAndExpire()
      const before = hostile.count('token', 'refresh_token')
      const response = await get('/api/token-then-fail')
      expect(response.status).toBe(500)
      expect(hostile.count('token', 'refresh_token')).toBe(before + 1)
      expect(setsSession(response.setCookies)).toBe(true)
    })
  })

  describe('issue 18 finding 10: codegrant\'s own pages cannot be framed', () => {
    const expectUnframeable = (page: Hop, what: string) => {
      expect(page.headers.get('content-type'), what).toContain('text/html')
      const csp = (page.headers.get('content-security-policy') ?? '').split(';').map((directive) => directive.trim())
      expect(csp, what).toEqual(expect.arrayContaining(["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]))
      expect(page.headers.get('x-frame-options'), what).toBe('DENY')
    }

    it('the logout confirmation, the error pages (4xx and 503) and the provider chooser send frame-ancestors \'none\', base-uri \'none\' and X-Frame-Options: DENY', async () => {
      const confirmation = await get('/auth/logout', HTML)
      expect(confirmation.body).toContain('<form method="post"')
      expectUnframeable(confirmation, 'logout confirmation')
      const refused = await get('/auth/callback?code=x&state=y', HTML)
      expect(refused.status).toBe(400)
      expectUnframeable(refused, 'callback error page')
      hostile.set({ discovery: 'status-503' })
      const unavailable = await get('/auth/login', HTML)
      expect(unavailable.status).toBe(503)
      expectUnframeable(unavailable, 'provider unavailable page')
      stage.mount(await buildHandler(framework, {
        baseUrl: stage.url,
        cookieSecret: SECRET_A,
        logger: logs,
        providers: { alpha: { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }, beta: { issuer: hostile.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } },
      }, hostile.userinfoUrl))
      const chooser = await get('/auth/login', HTML)
      expect(chooser.body).toContain('Sign in with beta')
      expectUnframeable(chooser, 'provider chooser')
    })
  })
})
