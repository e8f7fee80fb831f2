/**
 * What an API's refusal asks for, turned into the next step (issue 20 item 4):
 *
 * - `insufficient_scope` (RFC 6750 §3.1) with the `scope` needed → `codegrant/insufficient_scope`
 *   (403) whose `loginUrl` is the login route with that scope added (incremental consent) and a
 *   `returnTo` of the page;
 * - `insufficient_user_authentication` (RFC 9470 §3) with `max_age` / `acr_values` → the login
 *   route as a step-up (`codegrant/step_up_required`, 401), the callback checking the same user and
 *   the new `auth_time` / `acr` as for `requireAuth({ maxAge, acr })`.
 *
 * The login route adds only scopes the app configures for the provider (its `OAUTH_SCOPE` and the
 * `OAUTH_<API>_SCOPE` of its APIs): a browser's query cannot widen what the app asks for. Never a
 * loop: no `loginUrl` when the session's login already added the scope, or already meets the
 * authentication asked for; the API's refusal is then the answer.
 */
import { sessionOf, type Context } from './context.js'
import type { OAuthConfig, ProviderSettings } from './config/resolved.js'
import { CodegrantError } from './errors.js'
import { appPath } from './http.js'
import type { ProviderRuntime } from './providers.js'
import { challengesIn } from './provider/dpop.js'
import { safeReturnTo } from './return-to.js'
import type { SessionData } from './session/store.js'
import { identityOf } from './session/identity.js'
import { meetsRequirement, requirementOf, type AuthenticationRequirement } from './flow/step-up.js'
import { now } from './clock.js'

/** RFC 6749 §3.3 scope-token: printable ASCII without space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/

/** The scopes a login of `settings`' provider may add: its configured scope and those of the APIs that take its tokens. */
function addableScopes(config: OAuthConfig, settings: ProviderSettings): Set<string> {
  const own = config.apis.filter((api) => api.provider === undefined || api.provider === settings.name)
  return new Set([settings.loginScope, settings.scope, ...own.map((api) => api.scope)].flatMap((scope) => scope.split(' ')).filter(Boolean))
}

/**
 * The login route's `scope` (space-separated) when every one of them is addable; undefined for
 * none, or when any one is not (nothing beyond the configuration is ever asked for).
 */
export function addedScope(config: OAuthConfig, settings: ProviderSettings, asked: string | null): string | undefined {
  if (asked === null || asked.length > 1024) return undefined
  const scopes = [...new Set(asked.split(' ').filter(Boolean))]
  const addable = addableScopes(config, settings)
  if (scopes.length === 0 || !scopes.every((scope) => SCOPE_TOKEN.test(scope) && addable.has(scope))) return undefined
  return scopes.join(' ')
}

/**
 * The login route's step-up (`maxAge`, `acr`): the requirement an API's RFC 9470 challenge named;
 * undefined when neither is given or either is malformed.
 */
export function askedRequirement(query: URLSearchParams): AuthenticationRequirement | undefined {
  const maxAge = query.get('maxAge')
  const acr = query.get('acr')
  if (maxAge === null && acr === null) return undefined
  if (maxAge !== null && !/^\d{1,9}$/.test(maxAge)) return undefined
  try {
    return requirementOf({ ...(maxAge !== null ? { maxAge: Number(maxAge) } : {}), ...(acr !== null ? { acr: acr.split(' ').filter(Boolean) } : {}) })
  } catch {
    return undefined
  }
}

/** The challenge of an answer that asks for more scope or a stronger sign-in: a new token of the same grant would not do. */
async function askingChallenge(response: Response) {
  if (response.status !== 401 && response.status !== 403) return undefined
  return (await challengesIn(response)).find((candidate) => ['bearer', 'dpop'].includes(candidate.scheme) && ASKING.has(String(candidate.parameters.error)))
}
const ASKING = new Set(['insufficient_scope', 'insufficient_user_authentication'])

/** True when a 401 asks for more than a fresh token (RFC 6750 `insufficient_scope`, RFC 9470): refreshing and retrying would not help. */
export async function asksForMore(response: Response): Promise<boolean> {
  return (await askingChallenge(response)) !== undefined
}

/**
 * The CodegrantError for an API's answer that asks for more scope or a stronger sign-in, with the
 * login URL that would satisfy it (see the module comment); undefined for any other answer.
 */
/**
 * The error for a resource's answer that asks for more scope or a stronger sign-in, with the login
 * that would satisfy it; undefined for any other answer (or without a session). Asked once the
 * call's own retries are done: one attempt, then this error.
 */
export async function refusalOf(context: Context, response: Response): Promise<CodegrantError | undefined> {
  if (response.status !== 401 && response.status !== 403) return undefined
  const session = sessionOf(context)
  const runtime = session && context.engine.providers.of(session)
  return runtime ? apiRefusal(context, runtime, session, response) : undefined
}

async function apiRefusal(context: Context, runtime: ProviderRuntime, session: SessionData, response: Response): Promise<CodegrantError | undefined> {
  const challenge = await askingChallenge(response)
  const error = challenge?.parameters.error
  if (error === 'insufficient_scope') return insufficientScope(context, runtime, session, challenge!.parameters.scope)
  if (error === 'insufficient_user_authentication') return stepUpRequired(context, runtime, session, challenge!.parameters.max_age, challenge!.parameters.acr_values)
  return undefined
}

function insufficientScope(context: Context, runtime: ProviderRuntime, session: SessionData, asked: string | undefined): CodegrantError {
  const { config } = context.engine
  const scope = asked === undefined ? undefined : addedScope(config, runtime.settings, asked)
  const already = new Set((session.added ?? '').split(' '))
  const tried = scope !== undefined && scope.split(' ').every((name) => already.has(name))
  const why = asked === undefined
    ? 'The API refused the token for lack of a scope it did not name.'
    : scope === undefined
      ? `The API needs the scope ${JSON.stringify(asked.slice(0, 256))}, which this app does not configure (OAUTH_SCOPE or OAUTH_<API>_SCOPE): no sign-in can grant it.`
      : tried
        ? `The API needs the scope ${scope}, which the provider did not grant at the last sign-in.`
        : `The API needs the scope ${scope}: sign in again to grant it.`
  const loginUrl = scope !== undefined && !tried ? loginUrlOf(context, runtime, { scope }) : undefined
  return new CodegrantError('codegrant/insufficient_scope', why, { loginUrl, scope: scope ?? asked?.slice(0, 256) })
}

function stepUpRequired(context: Context, runtime: ProviderRuntime, session: SessionData, maxAge: string | undefined, acr: string | undefined): CodegrantError {
  const { config } = context.engine
  const query = new URLSearchParams({ ...(maxAge !== undefined ? { maxAge } : {}), ...(acr !== undefined ? { acr } : {}) })
  const requirement = askedRequirement(query)
  // the provider's identity (its auth_time and acr), never the app's user
  const identity = identityOf(session)
  const met = requirement !== undefined && identity !== undefined && meetsRequirement(identity, requirement, now(), config.clockTolerance)
  const loginUrl = requirement && !met ? loginUrlOf(context, runtime, Object.fromEntries(query)) : undefined
  const why = !requirement
    ? 'The API asks for a stronger sign-in without saying which (no max_age or acr_values it could be met with).'
    : met
      ? 'The API asks for a more recent or stronger sign-in than this session has, though the session meets what it named.'
      : 'The API asks for a more recent or stronger sign-in: sign in again.'
  return new CodegrantError('codegrant/step_up_required', why, { loginUrl })
}

/** The provider's login route with `params`, coming back to this request's page (a GET's URL; else the app's root). */
function loginUrlOf(context: Context, runtime: ProviderRuntime, params: Record<string, string>): string {
  const { config } = context.engine
  const { request } = context
  const returnTo = request.method === 'GET' || request.method === 'HEAD' ? safeReturnTo(request.url) : '/'
  return `${appPath(config, runtime.settings.paths.login[0]!)}?${new URLSearchParams({ returnTo, ...params })}`
}
