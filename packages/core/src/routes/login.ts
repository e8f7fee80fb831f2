/** The login route, and the logins the app (`oauth.login()`) and the guard (step-up, silent) start. */
import { now } from '../clock.js'
import { cookiesOf, sessionOf, type Context } from '../context.js'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import { formParams, methodNotAllowed, queryOf, type CoreRequest, type CoreResponse } from '../http.js'
import { safeReturnTo } from '../return-to.js'
import type { ProviderRuntime } from '../providers.js'
import { newSessionId } from '../session/backend.js'
import { loginParams, mergeParams, queryParams, type AuthorizationParams, type LoginOptions } from '../config/authorization-params.js'
import { startLogin, type LoginExtras } from '../flow/login.js'
import { ATTR, instruments, outcomeOf, traced } from '../telemetry.js'
import { addedScope, askedRequirement } from '../api-challenge.js'
import { stepUpOf, stepUpParams } from '../flow/step-up.js'
import { identityOf } from '../session/identity.js'

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
  const query = queryOf(request)
  // from the browser's query: returnTo, only the parameters the app allows, and what an API asked
  // for (api-challenge.ts): a scope the app configures, a step-up
  const params = queryParams(config.loginQueryParams, query)
  const added = addedScope(config, runtime.settings, query.get('scope'))
  const requirement = askedRequirement(query)
  if (!requirement) return browserLogin(context, runtime, query.get('returnTo'), params, added ? { added } : {})
  const session = sessionOf(context)
  const sub = session && identityOf(session)?.sub
  return browserLogin(context, runtime, query.get('returnTo'), { ...params, ...stepUpParams(requirement) }, { ...(added ? { added } : {}), stepUp: stepUpOf(requirement, sub) })
}

/** A login the browser started at a login route: checked for what would make it fail at its end. */
export async function browserLogin(context: Context, runtime: ProviderRuntime, returnTo: string | null, params: AuthorizationParams, extras: LoginExtras = {}): Promise<CoreResponse> {
  const mismatch = context.engine.diagnostics.loginOrigin(context.request)
  if (mismatch) return mismatch
  // a sign-in that could not be stored at the end is not started: 503 now, not after the provider
  // (known already when this request's session could not be read; otherwise the store is asked)
  if (context.unavailable) throw context.unavailable
  const { backend } = context.engine
  if (backend.kind === 'external') await backend.store.get(newSessionId())
  return beginLogin(context, runtime, returnTo, params, extras)
}

/**
 * The parameters of a third-party-initiated login (OpenID Connect Core §4): a GET or a form POST
 * to the login route that names an `iss`. Undefined for any other request to the login route.
 */
export function initiatedLogin(request: CoreRequest): URLSearchParams | undefined {
  const params = request.method === 'POST' ? formParams(request.body) : request.method === 'GET' || request.method === 'HEAD' ? queryOf(request) : undefined
  return params?.has('iss') ? params : undefined
}

/**
 * A login a third party started (OpenID Connect Core §4, e.g. the provider's app launcher):
 * `iss` picks the provider with exactly that issuer (on a provider's own login route, only that
 * provider), `login_hint` goes on to it, and `target_link_uri` is where to land, only when it is
 * the app's own (the `returnTo` rules). Nothing in it is trusted beyond that: the login is an
 * ordinary one, with its own state, PKCE and nonce.
 *
 * @throws {CodegrantError} `codegrant/unknown_issuer` (400) for an `iss` of no provider of the
 *   app (or of another provider than the route's): no redirect, nothing started.
 */
export function thirdPartyLogin(context: Context, params: URLSearchParams, routeProvider: string | undefined): Promise<CoreResponse> {
  const { config, providers } = context.engine
  const [iss, ...more] = params.getAll('iss')
  const runtime = more.length === 0 ? providers.list.find((candidate) => candidate.settings.issuer !== undefined && candidate.settings.issuer === iss) : undefined
  if (!runtime || (routeProvider !== undefined && runtime.name !== routeProvider)) {
    throw new CodegrantError('codegrant/unknown_issuer', 'This sign-in was started for an issuer this app does not know: nothing was started.')
  }
  const hints = params.getAll('login_hint')
  const loginHint: AuthorizationParams = hints.length === 1 && hints[0]!.length <= 512 ? { login_hint: hints } : {}
  const targets = params.getAll('target_link_uri')
  return browserLogin(context, runtime, targets.length === 1 ? localTarget(config, targets[0]!) : null, { ...queryParams(config.loginQueryParams, queryOf(context.request)), ...loginHint })
}

/**
 * `target_link_uri` as a `returnTo`: a URL of the app's own origin and base path becomes its
 * local path; anything else goes through the `returnTo` rules (a foreign URL lands on `/`).
 */
function localTarget(config: OAuthConfig, target: string): string {
  const url = URL.parse(target)
  const base = config.baseUrl.pathname.replace(/\/$/, '')
  if (!url || url.origin !== config.baseUrl.origin || !url.pathname.startsWith(`${base}/`)) return safeReturnTo(target)
  return safeReturnTo(`${url.pathname.slice(base.length)}${url.search}${url.hash}`)
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
