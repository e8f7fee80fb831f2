import { startDevProvider, TOKEN_EXCHANGE, type DevProvider } from '@codegrant/dev-provider'
import { isCodegrantError, type Logger, type OAuthOptions } from '@codegrant/core'
import { createCodegrant } from '@codegrant/core/adapter'

export const CLIENT_ID = 'suite-client'
export const CLIENT_SECRET = 'suite-client-secret: %+/~' // characters that must survive client_secret_basic encoding
export const SECRET_A = 'a'.repeat(16) + 'suite-cookie-secret-A'
export const SECRET_B = 'b'.repeat(16) + 'suite-cookie-secret-B'
export const SECRET_C = 'c'.repeat(16) + 'suite-cookie-secret-C'

/**
 * A dev provider with one confidential client whose redirect URI is `appUrl`'s callback. With
 * `backchannel`, the client registers the app's back-channel logout URI (and wants `sid` in logout
 * tokens); with `frontchannel`, its front-channel logout URI (with `iss` and `sid`); with
 * `tokenExchange`, it may exchange tokens (RFC 8693) besides the code and refresh grants.
 */
export async function startProvider(appUrl: string, options: { accessTokenTtl?: number; backchannel?: boolean; frontchannel?: boolean; tokenExchange?: boolean } = {}): Promise<DevProvider> {
  return startDevProvider({
    quiet: true,
    accessTokenTtl: options.accessTokenTtl ?? 300,
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${appUrl}/auth/callback`],
        post_logout_redirect_uris: [`${appUrl}/`, `${appUrl}/auth/logout/done`],
        ...(options.backchannel ? { backchannel_logout_uri: `${appUrl}/auth/backchannel-logout`, backchannel_logout_session_required: true } : {}),
        ...(options.frontchannel ? { frontchannel_logout_uri: `${appUrl}/auth/frontchannel-logout`, frontchannel_logout_session_required: true } : {}),
        ...(options.tokenExchange ? { grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] } : {}),
      },
    ],
  })
}

/** Captures what codegrant logs, so tests can assert that no secret is ever logged. */
export function captureLogs(): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, warn: (line) => void lines.push(line), error: (line) => void lines.push(line) }
}

export function appOptions(provider: Pick<DevProvider, 'issuer'>, appUrl: string, logger: Logger, extra: OAuthOptions = {}): OAuthOptions {
  return {
    issuer: provider.issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    baseUrl: appUrl,
    cookieSecret: SECRET_A,
    logger,
    ...extra,
  }
}

/** The start-up problems codegrant lists for `options` over `env` (`codegrant/config_invalid`'s message), or '' when it starts. */
export function startupProblems(options: OAuthOptions, env: Record<string, string> = {}): string {
  try {
    createCodegrant(options, env)
  } catch (error) {
    if (isCodegrantError(error, 'codegrant/config_invalid')) return error.message
    throw error
  }
  return ''
}
