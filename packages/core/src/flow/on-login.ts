import type { LoginEvent, LoginHookResult } from '../config/hooks.js'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, isCodegrantError } from '../errors.js'
import { appUser } from '../session/claims.js'
import type { SessionData } from '../session/store.js'

/**
 * Runs the app's hook on a new session; throwing a CodegrantError from the hook answers with it.
 * Only `user` and `data` can change: the session's `identity` stays the provider's.
 */
export async function applyLoginHook<S extends SessionData>(config: OAuthConfig, session: S, provider: LoginEvent['provider']): Promise<S> {
  if (!config.onLogin) return session
  let result: LoginHookResult
  try {
    result = await config.onLogin({ user: appUser(session, config.keepProtocolClaims), tokens: session.tokens, provider })
  } catch (error) {
    if (isCodegrantError(error)) throw error
    config.logger.error(`onLogin threw: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`)
    throw new CodegrantError('codegrant/login_hook_failed', 'Sign-in could not be completed. Try again later.', { cause: error })
  }
  if (result === false) throw new CodegrantError('codegrant/login_denied', 'You are not allowed to sign in to this application.')
  if (!result) return session
  const next: S = { ...session }
  if (result.user !== undefined) {
    if (typeof result.user !== 'object' || result.user === null || typeof result.user.sub !== 'string') {
      config.logger.error('onLogin returned a user without a string `sub`')
      throw new CodegrantError('codegrant/login_hook_failed', 'Sign-in could not be completed. Try again later.')
    }
    next.user = result.user
    next.userByApp = true
  }
  if (result.data !== undefined) next.data = result.data
  config.logger.debug(`callback: onLogin ${result.user ? 'reshaped the user' : ''}${result.user && result.data ? ' and ' : ''}${result.data ? `added data (${Object.keys(result.data).length} keys)` : ''}`)
  return next
}
