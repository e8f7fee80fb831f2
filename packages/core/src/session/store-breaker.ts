import { describe } from '../failures.js'
import type { FullLogger } from '../config/options.js'

/** Consecutive failed store calls (no success between them) that open the breaker. */
export const BREAKER_FAILURES = 3
/** How long the open breaker refuses calls after the last failure before it lets one through. */
export const BREAKER_PAUSE_MS = 500
/**
 * A probe that has not answered after this long is taken as lost (a store call that never
 * settles), so that one more call may go through: without it, a store that hung once would be
 * refused for good.
 */
export const BREAKER_PROBE_LOST_MS = 10_000

/**
 * How a server-side store's failures are handled: logged once per outage, and cut short by a
 * circuit breaker.
 *
 * Logging: an outage is a burst of failed calls with no successful one between them; its first
 * failure is logged (an error), the rest are counted, and the first call that succeeds again
 * ends it with one line saying how many failed meanwhile. While Redis is down every request that
 * carries a session cookie meets the outage (public pages included, which go on signed out): a
 * line each would flood the log and bury its cause.
 *
 * The breaker: a store that is down fails each call only after its timeout (`OAUTH_REDIS_TIMEOUT`,
 * 2 s by default; the Redis client queues commands while disconnected), and every page load of a signed-in
 * browser would wait that long. So, after {@link BREAKER_FAILURES} failures in a row the breaker
 * opens: calls fail at once with the same `codegrant/store_unavailable` (no store call is made,
 * and they are counted apart, not logged as failures) until {@link BREAKER_PAUSE_MS} have passed
 * since the last failure. Then one call goes through as a probe while the others keep failing at
 * once: if it succeeds the breaker closes (and the outage's end is logged as above); if it fails
 * the breaker stays open for another pause. A failure of a call that was already under way when
 * the breaker opened also starts a new pause. So, while open, at most one store call is started
 * per pause. While the store works, the breaker costs one flag check per call: no clock is read.
 * The pause is measured on the monotonic clock (`performance.now()`), so a wall-clock jump cannot
 * keep it open.
 *
 * Lines name the operation and the store's error (the store's errors name the command, never
 * its arguments); never a session id, a cookie or a token.
 */
export interface StoreBreaker {
  /**
   * True while the breaker is open: ask {@link refuses} before calling the store. A plain field,
   * so that the hot path (a working store) reads a flag and nothing else.
   */
  readonly open: boolean
  /**
   * With the breaker open: true when the call must fail at once without reaching the store;
   * false for the one call let through as a probe once the pause is over.
   */
  refuses(): boolean
  /** Records a failed call; logs it when it starts an outage; opens the breaker (or starts a new pause). */
  failed(what: string, error: unknown): void
  /**
   * Records a call that succeeded (closing the breaker) and passes its result through: a
   * function shared by all calls (no closure per call), which does nothing but compare a
   * counter while the store is up.
   */
  answered<T>(value: T): T
}

/**
 * @param opened called each time the breaker opens (from closed): a store's `flushCache`, so that
 *   nothing it kept from before the outage is served after it.
 */
export function createStoreBreaker(logger: FullLogger, opened?: () => void): StoreBreaker {
  let failures = 0
  let refused = 0
  let since = 0
  /** When the current pause ends; and when the probe let through went (undefined: none out). */
  let resumeAt = 0
  let probeAt: number | undefined
  const breaker = {
    open: false,
    refuses() {
      const now = performance.now()
      if (now < resumeAt || (probeAt !== undefined && now - probeAt < BREAKER_PROBE_LOST_MS)) {
        refused++
        return true
      }
      probeAt = now
      return false
    },
    failed(what: string, error: unknown) {
      if (failures++ === 0) {
        since = Date.now()
        logger.error(
          `the session store failed to ${what} a session: ${describe(error)}. Until it answers again, requests go on signed out ` +
            'and whatever needs the session (guarded routes, tokens, login, logout) answers 503 with Retry-After; ' +
            'session cookies are kept. Further failures are not logged until then.',
        )
      }
      if (failures >= BREAKER_FAILURES) {
        if (!breaker.open) opened?.()
        breaker.open = true
        resumeAt = performance.now() + BREAKER_PAUSE_MS
        probeAt = undefined
      }
    },
    answered<T>(value: T): T {
      if (failures > 0) {
        const cut = refused > 0 ? ` (and ${refused} refused at once while the store was deemed down)` : ''
        logger.warn(`the session store answers again, after ${failures} failed call(s)${cut} over ${Math.round((Date.now() - since) / 1000)} s`)
        failures = 0
        refused = 0
        breaker.open = false
        probeAt = undefined
      }
      return value
    },
  }
  return breaker
}
