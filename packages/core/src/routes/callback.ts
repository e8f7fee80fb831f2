/** The callback route: the provider's answer checked against its transaction, then the session started. */
import { now } from '../clock.js'
import { isFormPostMode, isJwtResponseMode } from '../config/enums.js'
import { cookiesOf, sessionOf, type Context } from '../context.js'
import { CodegrantError } from '../errors.js'
import { describe } from '../failures.js'
import { appPath, formParams, header, methodNotAllowed, queryOf, redirect, type CoreRequest, type CoreResponse } from '../http.js'
import type { ProviderRuntime } from '../providers.js'
import { indexSession } from './backchannel-logout.js'
import { CALLBACK_HEADERS, completeLogin, responseStates } from '../flow/callback.js'
import { applyLoginHook } from '../flow/on-login.js'
import { assertSameProvider } from './provider-routes.js'
import { declinedSilently } from '../flow/silent-login.js'
import { silentLoginPage } from './bff-silent-login.js'
import { authTimeFailure, verifyStepUp } from '../flow/step-up.js'
import { TRANSACTION_TTL } from '../flow/transaction.js'
import { canIndex, deviceOf, indexUserSession } from '../session/user-index.js'
import { ATTR, instruments, OK, outcomeOf, secondsSince, traced } from '../telemetry.js'

/**
 * The callback in its span (`codegrant.callback`, the code exchange and the ID token check its
 * children), timed, and counted: a login completed, or failed with its code. (A silent login the
 * provider declined, or a callback replayed by the back button, is neither.)
 */
export function callback(context: Context, runtime: ProviderRuntime): Promise<CoreResponse> {
  const start = performance.now()
  const attributes = { [ATTR.provider]: runtime.name, [ATTR.storeKind]: context.engine.backend.kind }
  const measured = (outcome: string) => {
    const { callbackDuration, loginsFailed } = instruments()
    callbackDuration.record(secondsSince(start), { ...attributes, [ATTR.outcome]: outcome })
    if (outcome !== OK) loginsFailed.add(1, { [ATTR.provider]: runtime.name, [ATTR.errorType]: outcome })
  }
  return traced('codegrant.callback', attributes, async () => {
    try {
      const response = await startSession(context, runtime)
      measured(OK)
      return response
    } catch (error) {
      measured(outcomeOf(error))
      throw error
    }
  })
}

async function startSession(context: Context, runtime: ProviderRuntime): Promise<CoreResponse> {
  const { config, transactions, backend } = context.engine
  const provider = runtime.resolve
  const { request } = context
  const method = isFormPostMode(config.responseMode) ? 'POST' : 'GET'
  if (request.method !== method) return { ...methodNotAllowed(method), headers: { ...CALLBACK_HEADERS, allow: method } }
  const params = responseParams(request)
  const states = params ? responseStates(config, params) : []
  const state = states.length === 1 ? states[0] : undefined
  if (!params || state === undefined) {
    const why = states.length > 1 ? 'carries more than one state' : isJwtResponseMode(config.responseMode) ? 'is not one signed response (JARM) with a state' : 'has no state'
    throw new CodegrantError('codegrant/invalid_callback', `The sign-in response ${why}: start the sign-in again.`)
  }
  // the store could not be read (the previous session, if any, is unknown) and is needed to
  // keep the new one: 503 before the code is exchanged; the transaction is kept for a reload
  if (context.unavailable) throw context.unavailable
  const cookies = cookiesOf(context)
  const transaction = transactions.read(cookies, state, now())
  if (transaction === 'missing') {
    // the back button after a completed login lands here: the user is already in
    if (sessionOf(context)) return redirect(appPath(config, '/'), [], { ...CALLBACK_HEADERS })
    throw new CodegrantError('codegrant/transaction_missing', missingTransactionHint(context))
  }
  if (transaction === 'invalid') {
    throw new CodegrantError('codegrant/transaction_invalid', 'The sign-in cookie is invalid or expired. Start the sign-in again.')
  }
  // a response for another provider's login is refused before anything is sent anywhere
  assertSameProvider(transaction, runtime.name, context.engine.providers.first.name)
  let completed: Awaited<ReturnType<typeof completeLogin>>
  try {
    // one exchange per state in this process: a duplicate delivery shares the first one's result
    completed = await context.engine.exchangeOnce(state, params.toString(), async () => completeLogin(config, await provider(), transaction, params, now()))
  } catch (error) {
    // a silent attempt the provider declined: signed out as before, told (a SPA) or sent back to its page
    const declined = declinedSilently(config, transaction, error)
    if (declined !== undefined) {
      const answer = transaction.spa ? silentLoginPage({ ok: false, error: declined }) : redirect(appPath(config, transaction.returnTo))
      return { ...answer, headers: { ...answer.headers, ...CALLBACK_HEADERS }, cookies: [transactions.remove(state)] }
    }
    throw authTimeFailure(transaction, error) ?? error
  }
  const { location } = completed
  if (transaction.stepUp) verifyStepUp(transaction.stepUp, completed.session.identity)
  // the app's hook last: it sees (and may reshape) a user who passed every check
  const hooked = await applyLoginHook(config, completed.session, { name: runtime.name, issuer: (await provider()).as.issuer })
  // with a server-side store, the browser it began in, for the user's list of sessions
  const device = backend.kind === 'cookie' ? undefined : deviceOf(header(request, 'user-agent'))
  const session = { ...hooked, ...(device ? { device } : {}), ...(transaction.added ? { added: transaction.added } : {}) }
  const previous = sessionOf(context)
  if (previous && previous.sid !== session.sid) {
    // end the previous session's server-side record; its cookie is overwritten below
    const destroyed = backend.clear({}, previous)
    if (destroyed instanceof Promise) await destroyed
  }
  // filed for back- and front-channel logout before the cookie exists: no session the provider cannot end
  if (context.engine.sessionIndex) await indexSession(context.engine.sessionIndex, session, now())
  // and under its user and handle, for listing and ending a user's sessions (sessions.ts)
  if (canIndex(backend.store)) await indexUserSession(backend.store, session, now())
  const written = backend.write(cookies, session, now(), true)
  const sessionCookies = written instanceof Promise ? await written : written
  const cookiesOut = [transactions.remove(state), ...sessionCookies]
  config.logger.debug(`callback: session started (${backend.kind} store, ${sessionCookies.length} cookie(s), ${sessionCookies.reduce((size, line) => size + line.length, 0)} bytes); redirecting to the app`)
  context.session = session
  instruments().loginsCompleted.add(1, { [ATTR.provider]: runtime.name })
  // a SPA's silent login ends on the page that tells it; any other login goes on to its page
  if (transaction.spa) return { ...silentLoginPage({ ok: true }), cookies: cookiesOut }
  return redirect(location, cookiesOut, { ...CALLBACK_HEADERS })
}

/**
 * A callback that failed: the failure is counted for diagnostics, and the answer carries the
 * callback's headers and clears the sign-in cookie. The clean-up is best effort: it must never
 * turn a clear 4xx/5xx into a rejection. A callback refused because the store was down is kept
 * (its code was not exchanged): reloaded once the store answers, it signs the user in.
 */
export function callbackFailed(context: Context, failure: CodegrantError, response: CoreResponse): CoreResponse {
  const { diagnostics, config } = context.engine
  diagnostics.rejected(failure)
  // a SPA's silent login hears of any failure on its page (an error page would leave it waiting)
  const answer = spaLogin(context) ? silentLoginPage({ ok: false, error: failure.code }) : response
  Object.assign(answer.headers, CALLBACK_HEADERS)
  try {
    if (failure !== context.unavailable) answer.cookies.push(...clearTransaction(context))
  } catch (cleanup) {
    config.logger.warn(`the sign-in cookie could not be cleared: ${describe(cleanup)}`)
  }
  return answer
}

/** True when the failed callback's transaction (still in its cookie) is a SPA's silent login. */
function spaLogin(context: Context): boolean {
  const state = responseParams(context.request)?.get('state')
  if (!state) return false
  try {
    const transaction = context.engine.transactions.read(cookiesOf(context), state, now())
    return typeof transaction === 'object' && transaction.spa === true
  } catch {
    return false
  }
}

function clearTransaction(context: Context): string[] {
  const { transactions, config } = context.engine
  const params = responseParams(context.request)
  const state = params && responseStates(config, params)[0]
  if (!state) return []
  const name = transactions.name(state)
  return cookiesOf(context)[name] !== undefined && transactions.isTransaction(name) ? [transactions.remove(state)] : []
}

/** The authorization response's parameters: the query of a GET, the form of a POST (form_post). */
function responseParams(request: CoreRequest): URLSearchParams | undefined {
  return request.method === 'GET' ? queryOf(request) : formParams(request.body)
}

/** Names the likely cause instead of a bare "invalid state". */
function missingTransactionHint(context: Context): string {
  const { config, transactions } = context.engine
  const others = Object.keys(cookiesOf(context)).filter(transactions.isTransaction).length
  if (others > 0) {
    return 'This sign-in response does not match a sign-in started in this browser (it may already have been used). Start the sign-in again.'
  }
  const host = (config.trustProxy ? header(context.request, 'x-forwarded-host') : undefined) ?? header(context.request, 'host')
  const hostHint = host && host !== config.baseUrl.host ? ` This request came to ${host}, but OAUTH_BASE_URL is ${config.baseUrl.origin}: open the app at that address.` : ''
  const modeHint = isFormPostMode(config.responseMode) ? ' With form_post the cookie needs SameSite=None and Secure (https).' : ''
  return `This browser did not send back the sign-in cookie, so the response cannot be trusted. Start the sign-in again from this site; it must be finished within ${TRANSACTION_TTL / 60} minutes with cookies allowed.${hostHint}${modeHint}`
}
