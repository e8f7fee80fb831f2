/**
 * The stage of the threat suites' SECURITY-PLAN cases against the hostile provider
 * (support/hostile-provider.ts), registered inside a `describe.each(FRAMEWORKS)` block, so that
 * each login costs a few milliseconds: the hostile stage with the suite's app mounted before each
 * test, a login up to (not into) the callback, and the check that a callback was refused with a
 * code, no session and no secret in the answer. Each test names its case number; SECURITY.md maps
 * every case to the test that covers it.
 */
import { expect } from 'vitest'
import { HTML, type Agent, type Hop } from './agent.js'
import type { Framework } from './apps.js'
import { useHostileStage } from './hostile-stage.js'
import { SECRET_A } from './provider.js'
import { setsSession } from './review-stage.js'
export const CASE_TIMEOUT = 1000 // OAUTH_HTTP_TIMEOUT, milliseconds

/** A `Set-Cookie` line's name and value. */
export const cookiePair = (line: string) => line.split(';')[0]!.split('=') as [string, string]

export function useCaseStage(framework: Framework) {
  const fixture = useHostileStage(framework, { httpTimeout: CASE_TIMEOUT })
  const { get } = fixture
  /** Starts a login in `jar` and returns the callback URL the provider sends back (not delivered). */
  const toCallback = async (jar: Agent = fixture.agent): Promise<URL> => {
    const started = await jar.follow(`${fixture.stage.url}/auth/login`, { headers: HTML }, (url) => url.startsWith(`${fixture.stage.url}/auth/callback`))
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status}`)
    return new URL(started.stoppedAt)
  }
  const expectRejected = (response: Hop, status: number, code: string) => {
    expect({ status: response.status, code: JSON.parse(response.body).code }).toEqual({ status, code })
    expect(setsSession(response.setCookies)).toBe(false)
    for (const secret of [...fixture.hostile.secrets(), SECRET_A]) expect(response.body).not.toContain(secret)
  }
  const signedOut = async () => expect((await get('/me')).status).toBe(401)
  return { fixture, mount: fixture.mount, get, toCallback, expectRejected, signedOut }
}
