/**
 * Open redirects: every Location codegrant sends after a login or a logout stays on the app's
 * origin, whatever `returnTo` carries (SECURITY-PLAN #77, the review's finding 1). The returnTo
 * rules themselves: `packages/core/test/return-to.test.ts`; through real logins:
 * `test/fuzz.test.ts`; in the shared suite: `test/behaviour.test.ts` › returnTo.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { HTML } from '../support/agent.js'
import { FRAMEWORKS, type Framework } from '../support/apps.js'
import type { HostileProvider } from '../support/hostile-provider.js'
import { NORMALISED_AWAY, SAME_ORIGIN, useReviewStage } from '../support/review-stage.js'

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  const review = useReviewStage(framework)
  const { get, signIn, signedIn, expectLocal } = review
  let hostile: HostileProvider
  beforeEach(() => void ({ hostile } = review.state))

  describe('finding 1: the final Location of a local redirect is same-origin', () => {
    it('after login, for returnTo values that normalise to another host', async () => {
      for (const vector of NORMALISED_AWAY) {
        const response = await signIn(vector)
        expect(response.status, vector).toBe(302)
        expectLocal(response.headers.get('location'), vector)
      }
    })

    it('after logout at a provider without end_session_endpoint', async () => {
      hostile.set({ metadata: { end_session_endpoint: undefined } })
      for (const vector of NORMALISED_AWAY) {
        await signedIn()
        const response = await get(`/auth/logout?returnTo=${encodeURIComponent(vector)}`, { ...HTML, ...SAME_ORIGIN })
        expect(response.status, vector).toBe(302)
        expectLocal(response.headers.get('location'), vector)
        expect((await get('/me')).status).toBe(401)
      }
      // a plain same-origin path is kept
      await signedIn()
      const kept = await get(`/auth/logout?returnTo=${encodeURIComponent('/bye?x=1')}`, { ...HTML, ...SAME_ORIGIN })
      expect(kept.headers.get('location')).toBe('/bye?x=1')
    })
  })
})
