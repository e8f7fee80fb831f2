import type { FullLogger } from '../config.js'
import { describe } from '../provider/http.js'

/**
 * How a server-side store's failures are logged: once per outage, not once per request. An
 * outage is a burst of failed calls with no successful one between them; its first failure is
 * logged (an error), the rest are counted, and the first call that succeeds again ends it with
 * one line saying how many failed meanwhile. While Redis is down every request that carries a
 * session cookie meets the outage (public pages included, which go on signed out): a line each
 * would flood the log and bury its cause.
 *
 * Lines name the operation and the store's error (the store's errors name the command, never
 * its arguments); never a session id, a cookie or a token.
 */
export interface Outage {
  /** Records a failed call; logs it when it starts an outage. */
  failed(what: string, error: unknown): void
  /**
   * Records a call that succeeded and passes its result through: a function shared by all calls
   * (no closure per call), which does nothing but compare a flag while the store is up.
   */
  answered<T>(value: T): T
}

export function createOutage(logger: FullLogger): Outage {
  let failures = 0
  let since = 0
  return {
    failed(what, error) {
      if (failures++ === 0) {
        since = Date.now()
        logger.error(
          `the session store failed to ${what} a session: ${describe(error)}. Until it answers again, requests go on signed out ` +
            'and whatever needs the session (guarded routes, tokens, login, logout) answers 503 with Retry-After; ' +
            'session cookies are kept. Further failures are not logged until then.',
        )
      }
    },
    answered(value) {
      if (failures > 0) {
        logger.warn(`the session store answers again, after ${failures} failed call(s) over ${Math.round((Date.now() - since) / 1000)} s`)
        failures = 0
      }
      return value
    },
  }
}
