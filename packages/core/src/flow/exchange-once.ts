import { CodegrantError } from '../errors.js'
import { singleFlight, type Flight } from '../single-flight.js'
import type { SessionStore } from '../session/store.js'
import { TRANSACTION_TTL } from './transaction.js'

/** How long a finished exchange answers a late duplicate of its callback. */
const REMEMBER_MS = 10_000

/**
 * Runs `exchange` once per `state` in this process: a callback delivered again while its code
 * is being exchanged (a double click, a browser retry, a prefetch), or shortly after, shares
 * the first result instead of redeeming the code a second time — which a provider answers with
 * `invalid_grant` and, following RFC 6749 §4.1.2, by revoking the tokens already issued.
 * Only the very same response (`response`: its parameters) may share it.
 */
export function createExchangeOnce<T>(store: SessionStore | undefined): (state: string, response: string, exchange: () => Promise<T>) => Promise<T> {
  const flights = singleFlight<string, T, Flight<T> & { response: string }>()
  // With a store shared by several instances, the first delivery claims the state there too: a
  // duplicate that reaches another instance is refused before it can redeem the code again.
  const claimed = async (state: string, exchange: () => Promise<T>): Promise<T> => {
    const once = store?.once?.bind(store)
    if (once && !(await once(`exchange:${state}`, TRANSACTION_TTL))) {
      throw new CodegrantError('codegrant/invalid_callback', 'This sign-in response is already being completed (in another tab or on another server). If you are not signed in, start the sign-in again.')
    }
    return exchange()
  }
  return (state, response, exchange) => {
    const flight = flights.get(state)
    if (flight) {
      return flight.response === response
        ? flight.result
        : Promise.reject(new CodegrantError('codegrant/invalid_callback', 'This sign-in is already being completed with another response. Start the sign-in again.'))
    }
    return flights.start(state, { response, result: claimed(state, exchange) }, () => REMEMBER_MS).result
  }
}
