/**
 * Several providers in one app: which path is which provider's route, and the binding of a
 * login to its provider. Each provider has its own callback (its own redirect URI): a response
 * is accepted only at the callback of the provider its login went to (RFC 9700 §4.4.2, mix-up).
 */
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import type { Transaction } from '../flow/transaction.js'
import { BFF_PREFIX, BFF_SESSION } from './bff.js'
import { BFF_SILENT_LOGIN } from './bff-silent-login.js'

/**
 * A route codegrant serves, as plain data: `login` (with several providers and no default, the
 * chooser page), `callback` and `logout`; each named provider's `login` and `callback`, with its
 * name in `provider`; `logout-done` (where the provider returns after a logout that sent a
 * `state`); with `OAUTH_BACKCHANNEL_LOGOUT` `backchannel-logout` and with
 * `OAUTH_FRONTCHANNEL_LOGOUT` `frontchannel-logout` (one for every provider: `iss` says which); with
 * `OAUTH_SSF` (any provider's) `ssf` (the SET's `iss` says which); with `OAUTH_BFF` `bff-session`
 * (`GET /bff/session`), `bff-silent-login` (`GET /bff/silent-login`) and `bff` (every other path
 * under `/bff/`, served with the request's body stream unread). An adapter only passes routes from
 * `match` or `served` back to `handle`.
 */
export interface Route {
  readonly kind: 'login' | 'callback' | 'logout' | 'logout-done' | 'backchannel-logout' | 'frontchannel-logout' | 'ssf' | 'bff-session' | 'bff-silent-login' | 'bff'
  /** The provider's name, for a login or callback route of one of several providers; else undefined. */
  readonly provider?: string | undefined
}

/** Every path codegrant answers, the first of each provider's being canonical, the others aliases. */
export function servedRoutes(config: OAuthConfig): readonly { readonly path: string; readonly route: Route }[] {
  const served: { path: string; route: Route }[] = [{ path: config.routes.login, route: { kind: 'login' } }]
  if (!config.named) served.push({ path: config.routes.callback, route: { kind: 'callback' } })
  else {
    for (const { name, paths } of config.providers) {
      // one route object per provider and kind, shared by its paths (a canonical one and aliases)
      const login: Route = { kind: 'login', provider: name }
      const callback: Route = { kind: 'callback', provider: name }
      for (const path of paths.login) served.push({ path, route: login })
      for (const path of paths.callback) served.push({ path, route: callback })
    }
  }
  served.push({ path: config.routes.logout, route: { kind: 'logout' } })
  served.push({ path: config.routes.logoutDone, route: { kind: 'logout-done' } })
  if (config.backchannelLogout) served.push({ path: config.routes.backchannelLogout, route: { kind: 'backchannel-logout' } })
  if (config.frontchannelLogout) served.push({ path: config.routes.frontchannelLogout, route: { kind: 'frontchannel-logout' } })
  if (config.providers.some((provider) => provider.ssf)) served.push({ path: config.routes.ssf, route: { kind: 'ssf' } })
  // a router matches `/bff/*` after the exact `/bff/session` and `/bff/silent-login`
  if (config.bff) {
    served.push({ path: BFF_SESSION, route: { kind: 'bff-session' } }, { path: BFF_SILENT_LOGIN, route: { kind: 'bff-silent-login' } }, { path: `${BFF_PREFIX}*`, route: { kind: 'bff' } })
  }
  for (const { route } of served) Object.freeze(route)
  return Object.freeze(served.map((entry) => Object.freeze(entry)))
}

/**
 * @throws {CodegrantError} `codegrant/provider_mismatch` (400) when the response arrived at the
 *   callback of another provider than the one its login went to.
 */
export function assertSameProvider(transaction: Transaction, callbackOf: string, first: string): void {
  const startedWith = transaction.provider ?? first
  if (startedWith === callbackOf) return
  throw new CodegrantError(
    'codegrant/provider_mismatch',
    `This sign-in was started with ${startedWith}, but its response came to the callback of ${callbackOf}: it is refused (a response delivered to the wrong provider's callback is a mix-up attack or a misconfigured redirect URI). Start the sign-in again.`,
  )
}
