import { createHash } from 'node:crypto'
import type { OAuthOptions, OAuthRequestState } from '@codegrant/core'

/**
 * What the inspector shows of a request's session: plain data, the same for the HTML page and
 * for API clients. Tokens never appear, only a short fingerprint of each (a SHA-256 prefix: it
 * tells two tokens apart, it cannot be used as one).
 */
export interface InspectorView {
  framework: string
  /** Server time, seconds since the epoch: the page's countdowns run from it. */
  now: number
  signedIn: boolean
  /** With several providers: the one the session came from (`oauth.provider`). */
  provider?: string
  /** The APIs of `OAUTH_APIS` the page offers to call (`/api/call/<api>`), each with its own token. */
  apis?: string[]
  user?: Record<string, unknown>
  session?: {
    store: string
    issuedAt: number
    expiresAt: number
    idleExpiresAt: number
  }
  tokens?: {
    type: string
    scopes: string[]
    expiresAt: number | null
    accessToken: string
    refreshToken: string | null
    idToken: string | null
  }
}

/** `sha256:` and the first 12 hex digits of the token's SHA-256. */
export function fingerprint(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`
}

export function inspectorView(framework: string, store: string, oauth: OAuthRequestState): InspectorView {
  const now = Math.floor(Date.now() / 1000)
  const { user, session, tokens } = oauth
  if (!user || !session || !tokens) return { framework, now, signedIn: false }
  return {
    framework,
    now,
    signedIn: true,
    ...(oauth.provider && oauth.provider !== 'default' ? { provider: oauth.provider } : {}),
    user: { ...user },
    session: { store, ...session },
    tokens: {
      type: tokens.tokenType === 'dpop' ? 'DPoP' : tokens.tokenType === 'bearer' ? 'Bearer' : tokens.tokenType,
      scopes: tokens.scope.split(' ').filter(Boolean),
      expiresAt: tokens.expiresAt ?? null,
      accessToken: fingerprint(tokens.accessToken),
      refreshToken: tokens.refreshToken ? fingerprint(tokens.refreshToken) : null,
      idToken: tokens.idToken ? fingerprint(tokens.idToken) : null,
    },
  }
}

/**
 * Where the example keeps sessions, as codegrant is configured (options over the environment):
 * `cookie`, `memory`, `redis` (a store object with OAUTH_REDIS_URL set) or `custom`.
 */
export function storeName(options: OAuthOptions = {}, env: NodeJS.ProcessEnv = process.env): string {
  const store = options.sessionStore ?? (env.OAUTH_SESSION_STORE || undefined)
  if (typeof store === 'object') return env.OAUTH_REDIS_URL || options.redisUrl ? 'redis' : 'custom'
  return store ?? 'cookie'
}
