import type { OAuthOptions, OAuthRequestState } from '@codegrant/core'

export interface UpstreamAnswer {
  status: number
  body: unknown
}

/**
 * `/api/userinfo`: the provider's userinfo for the signed-in user, through `oauth.userinfo()`
 * (codegrant finds the endpoint, refreshes an expired access token first and checks the `sub`).
 * CodegrantErrors (session ended, provider down, a refused answer) go to the app's error handler.
 * The parameters are kept for the examples' call sites; codegrant's own configuration is used.
 */
export function userinfo(_options?: OAuthOptions, _env?: NodeJS.ProcessEnv): (oauth: OAuthRequestState) => Promise<UpstreamAnswer> {
  return async (oauth) => ({ status: 200, body: await oauth.userinfo() })
}
