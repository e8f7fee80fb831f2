/**
 * Codegrant's routes per request: which one a request path is for (most requests are told
 * apart by a common prefix, without a lookup), and the route module that serves it.
 */
import type { Context } from './context.js'
import { json, type CoreResponse } from './http.js'
import { apiCall } from './request-state.js'
import { BFF_PREFIX, bffProxy, bffSession } from './routes/bff.js'
import { bffSilentLogin } from './routes/bff-silent-login.js'
import { callback } from './routes/callback.js'
import { chooseProvider } from './routes/chooser.js'
import { frontchannelLogout } from './routes/frontchannel-logout.js'
import { initiatedLogin, login, thirdPartyLogin } from './routes/login.js'
import { logoutDone, tracedLogout } from './routes/logout.js'
import type { Route } from './routes/provider-routes.js'

/** Which of `served`'s routes a request URL is for (the query is ignored), if any. */
export function routeMatcher(served: readonly { readonly path: string; readonly route: Route }[]): (url: string) => Route | undefined {
  const routes = new Map(served.map(({ path, route }) => [path, route]))
  // with OAUTH_BFF, every path under /bff/ is the proxy's but /bff/session and /bff/silent-login (matched exactly)
  const bffRoute = served.find(({ route }) => route.kind === 'bff')?.route
  // what every route's path starts with: most requests are told apart by it without a lookup
  const routePrefix = commonPrefix([...routes.keys()].filter((path) => !path.startsWith(BFF_PREFIX)))
  return (url) => {
    if (bffRoute && url.startsWith(BFF_PREFIX)) return routes.get(pathOf(url)) ?? bffRoute
    if (!url.startsWith(routePrefix)) return undefined
    return routes.get(pathOf(url))
  }
}

/** A request URL's path, without its query. */
function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** The longest string every one of `paths` starts with. */
function commonPrefix(paths: string[]): string {
  let prefix = paths[0] ?? ''
  for (const path of paths) while (!path.startsWith(prefix)) prefix = prefix.slice(0, -1)
  return prefix
}

/** The route handlers, by route: codegrant's own, and each provider's login and callback. */
export function dispatch(context: Context, route: Route): Promise<CoreResponse> {
  const { config, providers, backchannel, sharedSignals } = context.engine
  if (route.kind === 'logout') return tracedLogout(context)
  if (route.kind === 'logout-done') return Promise.resolve(logoutDone(context))
  if (route.kind === 'frontchannel-logout') return frontchannelLogout(context)
  if (route.kind === 'bff-session') return Promise.resolve(bffSession(context))
  if (route.kind === 'bff-silent-login') return bffSilentLogin(context)
  if (route.kind === 'bff') return bffProxy(context, apiCall)
  if (route.kind === 'ssf') return sharedSignals ? sharedSignals(context.request) : Promise.resolve(json(404, { error: 'not_found' }))
  if (route.kind === 'backchannel-logout') return backchannel ? backchannel.handle(context.request) : Promise.resolve(json(404, { error: 'not_found' }))
  const initiated = route.kind === 'login' ? initiatedLogin(context.request) : undefined
  if (initiated) return thirdPartyLogin(context, initiated, route.provider)
  if (route.provider === undefined && route.kind === 'login' && config.named && config.defaultProvider === undefined) return Promise.resolve(chooseProvider(config, context.request))
  const runtime = route.provider === undefined ? providers.preferred(undefined) ?? providers.first : providers.byName(route.provider)
  if (!runtime) return Promise.resolve(json(404, { error: 'not_found' }))
  return route.kind === 'login' ? login(context, runtime) : callback(context, runtime)
}
