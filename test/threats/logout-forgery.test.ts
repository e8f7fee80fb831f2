/**
 * Logout forgery: logout refuses every request that may be cross-site, and asks before signing out
 * on a plain GET (the review's finding 8).
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { API, HTML, type Agent } from '../support/agent.js'
import { FRAMEWORKS, type Framework, type Stage } from '../support/apps.js'
import { SAME_ORIGIN, useReviewStage } from '../support/review-stage.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const review = useReviewStage(framework)
  const { get, signedIn } = review
  let stage: Stage
  let agent: Agent
  beforeEach(() => void ({ stage, agent } = review.state))

  describe('finding 8: logout refuses every request that may be cross-site', () => {
    it.each<[string, Record<string, string>]>([
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['no fetch metadata at all', {}],
    ])('a GET with %s asks instead of logging out', async (_, headers) => {
      await signedIn()
      const response = await get('/auth/logout', { ...HTML, ...headers })
      expect(response.status).toBe(200)
      expect(response.body).toContain('method="post"')
      expect((await get('/me')).status).toBe(200)
    })

    it.each<[string, Record<string, string>]>([
      ['Origin: null and no fetch metadata', { origin: 'null' }],
      ['Origin: null from a cross-site (sandboxed) frame', { origin: 'null', 'sec-fetch-site': 'cross-site' }],
      ['Origin: a sibling', { origin: 'http://sibling.localhost' }],
      ['Sec-Fetch-Site: same-site and no Origin', { 'sec-fetch-site': 'same-site' }],
      ['Origin: this app but Sec-Fetch-Site: same-site', { origin: 'ORIGIN', 'sec-fetch-site': 'same-site' }],
    ])('a POST with %s is refused with 403', async (_, given) => {
      const headers = Object.fromEntries(Object.entries(given).map(([name, value]) => [name, value === 'ORIGIN' ? stage.url : value]))
      await signedIn()
      const response = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...API, ...headers }, body: '' })
      expect([response.status, JSON.parse(response.body).code]).toEqual([403, 'codegrant/cross_site_request'])
      expect((await get('/me')).status).toBe(200)
    })

    it.each<[string, Record<string, string>]>([
      ['a GET from this origin', SAME_ORIGIN],
      ['a GET the user typed (Sec-Fetch-Site: none)', { 'sec-fetch-site': 'none' }],
    ])('%s logs out', async (_, headers) => {
      await signedIn()
      expect((await get('/auth/logout', { ...HTML, ...headers })).status).toBe(302)
      expect((await get('/me')).status).toBe(401)
    })

    it.each<[string, (url: string) => Record<string, string>]>([
      ['the confirmation form, posted from this origin', (url) => ({ origin: url, ...SAME_ORIGIN })],
      // what Chromium sends for a same-origin form on a page with Referrer-Policy: no-referrer
      ['a form on a no-referrer page of this origin (Origin: null, Sec-Fetch-Site: same-origin)', () => ({ origin: 'null', ...SAME_ORIGIN })],
      ['a client without fetch metadata or Origin (curl)', () => ({})],
    ])('%s logs out on POST', async (_, headers) => {
      await signedIn()
      const response = await agent.request(`${stage.url}/auth/logout`, { method: 'POST', headers: { ...HTML, ...headers(stage.url) }, body: '' })
      expect(response.status).toBe(302)
      expect((await get('/me')).status).toBe(401)
    })
  })
})
