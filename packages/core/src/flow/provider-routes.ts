/**
 * Several providers in one app: which path is which provider's route, and the binding of a
 * login to its provider. Each provider has its own callback (its own redirect URI): a response
 * is accepted only at the callback of the provider its login went to (RFC 9700 §4.4.2, mix-up).
 */
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError } from '../errors.js'
import type { Transaction } from './transaction.js'

/**
 * A route codegrant serves: `login` (with several providers and no default, the chooser page),
 * `callback` and `logout`, each named provider's `login:<name>` and `callback:<name>`, and with
 * `OAUTH_BACKCHANNEL_LOGOUT` `backchannel-logout` (one for every provider: the token's `iss` says which).
 */
export type Route = 'login' | 'callback' | 'logout' | 'backchannel-logout' | `login:${string}` | `callback:${string}`

/** Every path codegrant answers, the first of each provider's being canonical, the others aliases. */
export function servedRoutes(config: OAuthConfig): readonly { readonly path: string; readonly route: Route }[] {
  const served: { path: string; route: Route }[] = [{ path: config.routes.login, route: 'login' }]
  if (!config.named) served.push({ path: config.routes.callback, route: 'callback' })
  else {
    for (const provider of config.providers) {
      for (const path of provider.paths.login) served.push({ path, route: `login:${provider.name}` })
      for (const path of provider.paths.callback) served.push({ path, route: `callback:${provider.name}` })
    }
  }
  served.push({ path: config.routes.logout, route: 'logout' })
  if (config.backchannelLogout) served.push({ path: config.routes.backchannelLogout, route: 'backchannel-logout' })
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
