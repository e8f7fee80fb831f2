/**
 * The user of a plain OAuth 2.0 provider with a JSON user API instead of OpenID Connect
 * (GitHub's `GET /user`), mapped to standard claims as the preset says, with the primary
 * verified email address from the provider's email list when the token's scope allows it.
 * Requests go through oauth4webapi's `protectedResourceRequest` with the provider's timeout
 * and size cap; the provider's own headers (GitHub: `Accept: application/vnd.github+json`) are
 * sent with them.
 */
import * as oauth from 'oauth4webapi'
import type { OAuthConfig } from '../config/resolved.js'
import { CodegrantError, statusCause } from '../errors.js'
import { describe, transportError } from '../failures.js'
import type { UserClaims } from '../session/store.js'
import { type FetchOptions } from './http.js'
import type { ApiUserSource } from '../config/presets.js'
import { isRecord } from '../json.js'

const USER_AGENT = 'codegrant'

/**
 * Reads the user from `url` with the access token and maps it.
 *
 * @param scope the scope the token was granted (space-separated): decides whether the email list is read.
 * @throws {CodegrantError} `codegrant/userinfo_invalid` (502) for an answer that is not a user,
 *   `codegrant/provider_error` / `provider_timeout` when the provider fails.
 */
export async function fetchApiUser(config: OAuthConfig, http: FetchOptions, source: ApiUserSource, url: string, accessToken: string, scope: string): Promise<UserClaims> {
  const record = await getJson(config, http, source, url, accessToken, 'user')
  if (!isRecord(record)) {
    throw new CodegrantError('codegrant/userinfo_invalid', 'The provider\'s user API did not answer with a user (not a JSON object).')
  }
  const user = mapClaims(source, record)
  if (!user.sub) throw new CodegrantError('codegrant/userinfo_invalid', 'The provider\'s user has no id.')
  const granted = scope.split(/[\s,]+/)
  if (source.emails && source.emails.scopes.some((name) => granted.includes(name))) {
    const list = await getJson(config, http, source, `${url.replace(/\/$/, '')}/${source.emails.path}`, accessToken, 'email list')
    if (!Array.isArray(list)) throw new CodegrantError('codegrant/userinfo_invalid', 'The provider\'s email list is not a list.')
    const primary = list.find(isPrimaryVerified)
    if (primary) {
      user.email = primary.email
      user.email_verified = true
    }
  }
  return user
}

/** The claims a preset maps from an API's user object; only those are kept. */
export function mapClaims(source: ApiUserSource, record: Readonly<Record<string, unknown>>): UserClaims {
  const user: Record<string, unknown> = {}
  for (const [claim, members] of Object.entries(source.claims)) {
    for (const member of members) {
      const value = record[member]
      if (value === undefined || value === null || value === '') continue
      if (claim === 'sub') {
        if (typeof value !== 'string' && !(typeof value === 'number' && Number.isSafeInteger(value))) continue
        user.sub = String(value)
      } else user[claim] = value
      break
    }
  }
  return user as UserClaims
}

function isPrimaryVerified(entry: unknown): entry is { email: string } {
  if (!isRecord(entry)) return false
  const { email, primary, verified } = entry
  return typeof email === 'string' && email !== '' && primary === true && verified === true
}

async function getJson(config: OAuthConfig, http: FetchOptions, source: ApiUserSource, url: string, accessToken: string, what: string): Promise<unknown> {
  let response: Response
  try {
    const options: oauth.ProtectedResourceRequestOptions = {
      signal: http.signal,
      [oauth.customFetch]: (target, init) => http[oauth.customFetch](target, init as RequestInit),
      ...(http[oauth.allowInsecureRequests] ? { [oauth.allowInsecureRequests]: true } : {}),
    }
    response = await oauth.protectedResourceRequest(accessToken, 'GET', new URL(url), new Headers({ 'user-agent': USER_AGENT, ...source.headers }), null, options)
  } catch (error) {
    config.logger.error(`the provider's ${what} request failed: ${describe(error)}`)
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      throw new CodegrantError('codegrant/userinfo_invalid', `The provider refused the access token at its ${what} API (HTTP ${error.status}).`, { cause: error })
    }
    throw transportError(error, `${what} request`) ?? new CodegrantError('codegrant/provider_error', `The provider's ${what} API could not be read.`, { cause: error })
  }
  if (!response.ok) {
    await response.body?.cancel()
    config.logger.error(`the provider's ${what} API answered HTTP ${response.status} (${new URL(url).pathname})`)
    throw new CodegrantError('codegrant/userinfo_invalid', `The provider's ${what} API answered HTTP ${response.status}.`, { cause: statusCause(response.status) })
  }
  try {
    return await response.json()
  } catch (error) {
    throw transportError(error, `${what} request`) ?? new CodegrantError('codegrant/userinfo_invalid', `The provider's ${what} API did not answer with JSON.`, { cause: error })
  }
}
