import { isCodegrantError, type OAuthOptions, type OAuthRequestState } from '@codegrant/core'

export interface UpstreamAnswer {
  status: number
  body: unknown
}

const TIMEOUT_MS = 5000

/**
 * `/api/userinfo`: the provider's userinfo response as it is, fetched with `oauth.fetch` (so an
 * expired access token is refreshed first), or 502 when the provider fails. The endpoint is
 * `OAUTH_USERINFO_ENDPOINT`, else the issuer's discovery document (fetched once; a failure is
 * retried next time). CodegrantErrors (session ended, provider down) are rethrown for the app's
 * error handler.
 */
export function userinfo(options: OAuthOptions = {}, env = process.env): (oauth: OAuthRequestState) => Promise<UpstreamAnswer> {
  const endpoint = userinfoEndpoint(options, env)
  return async (oauth) => {
    let status: number | null = null
    try {
      const response = await oauth.fetch(await endpoint(), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS) })
      status = response.status
      if (response.ok) return { status: 200, body: (await response.json()) as unknown }
      await response.body?.cancel()
    } catch (error) {
      if (isCodegrantError(error)) throw error
      if (error instanceof UpstreamStatus) status = error.status
    }
    return { status: 502, body: { error: 'userinfo_failed', status } }
  }
}

class UpstreamStatus extends Error {
  constructor(readonly status: number | null) {
    super(`the provider's discovery answered ${status ?? 'nothing'}`)
  }
}

function userinfoEndpoint(options: OAuthOptions, env: NodeJS.ProcessEnv): () => Promise<string> {
  const explicit = options.userinfoEndpoint ?? env.OAUTH_USERINFO_ENDPOINT
  const issuer = options.issuer ?? env.OAUTH_ISSUER ?? env.ISSUER_BASE_URL
  let found: Promise<string> | undefined
  const discover = async (): Promise<string> => {
    if (!issuer) throw new UpstreamStatus(null)
    const response = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(TIMEOUT_MS) })
    const metadata = response.ok ? ((await response.json()) as { userinfo_endpoint?: unknown }) : undefined
    if (typeof metadata?.userinfo_endpoint !== 'string') throw new UpstreamStatus(response.status)
    return metadata.userinfo_endpoint
  }
  return () => {
    if (explicit) return Promise.resolve(explicit)
    found ??= discover().catch((error: unknown) => {
      found = undefined
      throw error
    })
    return found
  }
}
