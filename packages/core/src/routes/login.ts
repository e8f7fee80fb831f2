/** The login route, and the logins the app (`oauth.login()`) and the guard (step-up, silent) start. */
import { now } from '../clock.js'
import { cookiesOf, sessionOf, type Context } from '../context.js'
import { methodNotAllowed, queryOf, type CoreResponse } from '../http.js'
import type { ProviderRuntime } from '../providers.js'
import { newSessionId } from '../session/backend.js'
import { loginParams, mergeParams, queryParams, type AuthorizationParams, type LoginOptions } from '../config/authorization-params.js'
import { startLogin, type LoginExtras } from '../flow/login.js'
import { ATTR, instruments, outcomeOf, traced } from '../telemetry.js'

/** Starts a login with the configured parameters under `params` (later layers win a name). */
export function beginLogin(context: Context, runtime: ProviderRuntime, returnTo: string | null, params: AuthorizationParams, extras: LoginExtras = {}): Promise<CoreResponse> {
  return observedLogin(runtime.name, async () => {
    const merged = mergeParams(runtime.settings.authorizationParams, params)
    return startLogin(context.engine.config, await runtime.resolve(), context.engine.transactions, cookiesOf(context), returnTo, now(), { ...extras, params: merged.params, maxAge: merged.maxAge })
  })
}

/**
 * `oauth.login(options)`: the transaction cookie goes out through the sink; the app redirects to
 * the URL. Refused with `codegrant/store_unavailable` when this request could not read the
 * session store: the sign-in could not be stored at its end.
 */
export async function appLogin(context: Context, options: LoginOptions = {}): Promise<string> {
  const { providers } = context.engine
  if (context.unavailable) throw context.unavailable
  const runtime = options.provider === undefined ? providers.preferred(sessionOf(context)) : providers.byName(options.provider)
  if (!runtime) {
    throw new TypeError(`codegrant: login() needs a provider (${options.provider === undefined ? 'none is the default' : `${JSON.stringify(options.provider)} is not one`}): one of ${providers.list.map((provider) => provider.name).join(', ')}`)
  }
  const response = await beginLogin(context, runtime, options.returnTo ?? null, loginParams(options))
  context.sink(response.cookies, context.target)
  return response.headers.location!
}

export async function login(context: Context, runtime: ProviderRuntime): Promise<CoreResponse> {
  const { config } = context.engine
  const { request } = context
  if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET')
  const mismatch = context.engine.diagnostics.loginOrigin(request)
  if (mismatch) return mismatch
  const query = queryOf(request)
  // a sign-in that could not be stored at the end is not started: 503 now, not after the provider
  // (known already when this request's session could not be read; otherwise the store is asked)
  if (context.unavailable) throw context.unavailable
  const { backend } = context.engine
  if (backend.kind === 'external') await backend.store.get(newSessionId())
  // from the browser's query: returnTo, and only the parameters the app allows
  return beginLogin(context, runtime, query.get('returnTo'), queryParams(config.loginQueryParams, query))
}

/** A login start in its span (`codegrant.login`; discovery, PAR its children), counted as started or failed. */
function observedLogin(provider: string, start: () => Promise<CoreResponse>): Promise<CoreResponse> {
  return traced('codegrant.login', { [ATTR.provider]: provider }, async () => {
    try {
      const response = await start()
      instruments().loginsStarted.add(1, { [ATTR.provider]: provider })
      return response
    } catch (error) {
      instruments().loginsFailed.add(1, { [ATTR.provider]: provider, [ATTR.errorType]: outcomeOf(error) })
      throw error
    }
  })
}
