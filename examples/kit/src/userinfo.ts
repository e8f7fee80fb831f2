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

/**
 * `/api/call/<api>`: the answer of the API `api` of `OAUTH_APIS` to `GET <its URL>/`, fetched with
 * `oauth.fetch(api, '/')` (its own token, obtained on first use), passed on as it is: its status,
 * its JSON (or text). A name `OAUTH_APIS` does not list is a 404; CodegrantErrors go to the app's
 * error handler.
 */
export async function callApi(oauth: OAuthRequestState, api: string, configured: readonly string[]): Promise<UpstreamAnswer> {
  if (!configured.includes(api)) return { status: 404, body: { error: 'not_found', apis: configured } }
  const response = await oauth.fetch(api, '/')
  const text = await response.text()
  try {
    return { status: response.status, body: JSON.parse(text) as unknown }
  } catch {
    return { status: response.status, body: text }
  }
}

/** The API names the app is configured with: `options.apis`, else `OAUTH_APIS`. */
export function apiNames(options?: OAuthOptions, env: NodeJS.ProcessEnv = process.env): string[] {
  if (options?.apis) return Object.keys(options.apis).map((name) => name.trim().toLowerCase())
  return (env.OAUTH_APIS ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean)
}
