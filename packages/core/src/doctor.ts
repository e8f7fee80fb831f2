/**
 * `codegrant doctor`: reads the configuration as the adapters do (the `OAUTH_*` environment),
 * checks the session store (Redis: one PING), fetches the provider's metadata, tests the client
 * credentials, and says what is right and what is wrong, with the fix. It opens nothing it does
 * not close, so it exits when done.
 */
import * as oauth from 'oauth4webapi'
import { isLoopback } from './config/checks.js'
import { variableOf } from './config/env.js'
import { isMtlsMethod } from './config/enums.js'
import type { Logger } from './config/options.js'
import { resolveConfig } from './config/resolve.js'
import type { OAuthConfig, ProviderSettings, RedisConnection, RedisOpener } from './config/resolved.js'
import { isCodegrantError } from './errors.js'
import { describe, providerRefusal, transportError, underlyingCause } from './failures.js'
import { discover, discoveryUrl, explicitIssuer } from './provider/discovery.js'
import { fetchOptions } from './provider/http.js'
import { createProviderResolver } from './provider/metadata.js'
import { memberOf } from './json.js'

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info'

export interface Check {
  status: CheckStatus
  label: string
  detail?: string
}

export interface DoctorReport {
  checks: Check[]
  /** False when any check failed: `codegrant doctor` then exits 1. */
  ok: boolean
}

/** Runs every check against `env` (default `process.env`). Never throws. */
export async function doctor(env: Readonly<Record<string, string | undefined>> = process.env): Promise<DoctorReport> {
  const checks: Check[] = []
  const add = (status: CheckStatus, label: string, detail?: string) => void checks.push(detail === undefined ? { status, label } : { status, label, detail })
  const lines: string[] = []
  const logger: Logger = { info: (line) => void lines.push(line), warn: (line) => void lines.push(line), error: (line) => void lines.push(line) }

  let config: OAuthConfig
  try {
    config = resolveConfig({ logger }, env)
  } catch (error) {
    add('fail', 'configuration', isCodegrantError(error) ? error.message.replace(/^codegrant configuration is invalid:\n/, '') : String(error))
    return { checks, ok: false }
  }
  add('ok', 'configuration valid')
  for (const line of lines.splice(0)) add('warn', 'configuration', line)
  if (config.redis) await checkRedis(config.redis, add)
  // each provider's checks; with several, each line names its provider
  for (const settings of config.providers) {
    await checkProvider(config, settings, config.named ? (status, label, detail) => add(status, `${settings.name}: ${label}`, detail) : add, lines)
  }
  return { checks, ok: !checks.some((check) => check.status === 'fail') }
}

type Add = (status: CheckStatus, label: string, detail?: string) => void

/**
 * `OAUTH_SESSION_STORE=redis`: opens the store, sends one PING (failing after
 * `OAUTH_REDIS_TIMEOUT`, as every call does) and closes it again. The line names where it
 * connects, never the password.
 */
async function checkRedis(redis: RedisOpener, add: Add): Promise<void> {
  const label = `session store: Redis at ${redis.address}`
  // the store warns once with the connection's error (refused, TLS, auth): the PING only times out
  const warnings: string[] = []
  const collect = (line: string) => void warnings.push(line)
  let store: RedisConnection | undefined
  try {
    store = redis.open({ info: collect, warn: collect, error: collect })
    await store.ping()
    add('ok', label, 'answers PING')
  } catch (error) {
    // the connection's own error says more than the command's ("max retries per request")
    const connection = warnings.map((line) => /^Redis is unavailable \((.*?)\);/.exec(line)?.[1] ?? line)
    const causes = connection.length > 0 ? connection : [describe(error)]
    add('fail', label, `no answer to PING within ${redis.timeout} ms (OAUTH_REDIS_TIMEOUT): ${[...new Set(causes)].join('; ')}. Check OAUTH_REDIS_URL and that Redis runs there`)
  } finally {
    await store?.close()
  }
}

/**
 * The client's credentials, tested with a token request for a code that cannot be valid: a
 * provider that accepts the credentials refuses the code (`invalid_grant`), one that does not
 * answers `invalid_client` (RFC 6749 §5.2: client authentication comes first). Nothing is issued.
 */
async function checkClientAuthentication(config: OAuthConfig, provider: ProviderSettings, add: Add): Promise<void> {
  const label = 'client authentication'
  if (provider.clientAuthMethod === 'none') return add('info', label, 'none (a public client): nothing to check')
  const credential = provider.clientAuthMethod === 'private_key_jwt' ? 'privateKey' : isMtlsMethod(provider.clientAuthMethod) ? 'clientCert' : 'clientSecret'
  const variables = (['clientId', credential, 'clientAuthMethod'] as const).map((option) => variableOf(option, config.named ? provider.name : undefined))
  const refused = (answer: string) =>
    add('fail', label, `the provider refused the client's credentials (${answer}; method ${provider.clientAuthMethod}): check ${variables.join(', ')} against the client registered at the provider`)
  try {
    const { as, client, clientAuth, http } = await createProviderResolver(config, provider)()
    const state = oauth.generateRandomState()
    const made = new URLSearchParams({ code: `codegrant-doctor-${oauth.generateRandomState()}`, state })
    if (as.authorization_response_iss_parameter_supported) made.set('iss', as.issuer)
    const params = oauth.validateAuthResponse(as, client, made, state)
    const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, provider.redirectUri, oauth.generateRandomCodeVerifier(), http)
    await oauth.processAuthorizationCodeResponse(as, client, response)
    add('warn', label, 'the provider accepted a made-up authorization code')
  } catch (error) {
    const refusal = providerRefusal(error)
    if (!refusal) return add('fail', label, `the token endpoint could not be asked: ${describe(transportError(error, 'token request') ?? error)}`)
    const status = (error as oauth.ResponseBodyError | oauth.WWWAuthenticateChallengeError).status
    if (refusal.code === 'invalid_grant') return add('ok', label, `accepted (${provider.clientAuthMethod}): a made-up code was refused with invalid_grant`)
    if (refusal.code === 'invalid_client' || status === 401) return refused(`${refusal.text}, HTTP ${status}`)
    add('warn', label, `not confirmed: the provider answered a made-up code with ${refusal.text} (HTTP ${status}).${refusal.fix}`)
  }
}

/** One provider's checks: what to register, its metadata, endpoints, keys and features. */
async function checkProvider(config: OAuthConfig, provider: ProviderSettings, add: Add, lines: string[]): Promise<void> {
  add('info', 'redirect URI to register at the provider', provider.redirectUri)
  add('info', 'post-logout redirect URI to register', provider.postLogoutRedirectUri)

  let as: oauth.AuthorizationServer
  if (provider.explicitEndpoints) {
    add('info', 'provider', 'explicit endpoints (no discovery)')
    as = {
      issuer: explicitIssuer(provider),
      authorization_endpoint: provider.endpoints.authorization,
      token_endpoint: provider.endpoints.token,
      ...(provider.endpoints.jwks ? { jwks_uri: provider.endpoints.jwks } : {}),
      ...(provider.endpoints.userinfo ? { userinfo_endpoint: provider.endpoints.userinfo } : {}),
      ...(provider.endpoints.revocation ? { revocation_endpoint: provider.endpoints.revocation } : {}),
      ...(provider.endpoints.endSession ? { end_session_endpoint: provider.endpoints.endSession } : {}),
    }
  } else {
    try {
      as = await discover(provider, config.logger, fetchOptions(provider, config.httpTimeout))
      add('ok', 'provider reachable', `${discoveryUrl(provider).url.href} (issuer ${as.issuer})`)
    } catch {
      add('fail', 'provider reachable', lines.splice(0).filter((line) => !line.startsWith('provider discovery at')).join('; ') || 'discovery failed')
      return
    }
    for (const line of lines.splice(0)) if (line.startsWith('provider discovery at')) add('warn', 'discovery', line)
    await clock(config, provider, add)
  }

  const endpoints = ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'revocation_endpoint', 'end_session_endpoint', 'pushed_authorization_request_endpoint'] as const
  const insecure = endpoints.flatMap((name) => {
    const url = as[name]
    return typeof url === 'string' && !secure(url) ? [`${name} ${url}`] : []
  })
  if (insecure.length) add('fail', 'endpoints https', `not https (and not loopback): ${insecure.join(', ')}`)
  else add('ok', 'endpoints https', 'https (or plain http on loopback)')

  const pkce = as.code_challenge_methods_supported
  if (Array.isArray(pkce) && pkce.includes('S256')) add('ok', 'PKCE S256 supported')
  else if (Array.isArray(pkce)) add('fail', 'PKCE S256 supported', `the provider lists ${JSON.stringify(pkce)}: codegrant always sends S256; enable it at the provider`)
  else add('warn', 'PKCE S256 supported', 'not advertised (code_challenge_methods_supported missing): most providers accept S256 anyway; a nonce is sent too')

  if (as.authorization_response_iss_parameter_supported === true) add('ok', 'iss in the authorization response (RFC 9207)')
  else add('info', 'iss in the authorization response (RFC 9207)', 'not advertised: mix-up protection relies on one provider per app')

  if (provider.openid && !as.jwks_uri) add('fail', 'JWKS', 'no jwks_uri: ID tokens cannot be verified; set OAUTH_JWKS_URI')
  else if (as.jwks_uri) await jwks(config, as.jwks_uri, add)

  const algs = as.id_token_signing_alg_values_supported
  if (provider.openid && Array.isArray(algs)) {
    const pinned = provider.idTokenSigningAlg ?? (algs.includes('RS256') ? 'RS256' : algs.find((alg) => alg !== 'none' && !/^HS/i.test(alg)))
    if (pinned && algs.includes(pinned)) add('ok', 'ID token signing algorithm', `${pinned} (pinned)`)
    else add('fail', 'ID token signing algorithm', `OAUTH_ID_TOKEN_SIGNING_ALG ${String(pinned)} is not among the provider's ${JSON.stringify(algs)}`)
  }

  if (as.pushed_authorization_request_endpoint) add(provider.par ? 'ok' : 'info', 'PAR (RFC 9126)', provider.par ? 'on' : 'offered by the provider; OAUTH_PAR=true to use it')
  else add(provider.par ? 'warn' : 'info', 'PAR (RFC 9126)', provider.par ? 'OAUTH_PAR is on but the provider offers no PAR endpoint' : 'not offered')
  const dpop = as.dpop_signing_alg_values_supported
  add('info', 'DPoP (RFC 9449)', Array.isArray(dpop) && dpop.length ? `offered (${dpop.join(', ')})` : 'not offered')
  if (as.token_endpoint) {
    await checkClientAuthentication(config, provider, add)
    lines.splice(0)
  }
  add(as.revocation_endpoint ? 'ok' : 'info', 'token revocation at logout', as.revocation_endpoint ? as.revocation_endpoint : 'no revocation_endpoint: logout revokes nothing (OAUTH_REVOCATION_ENDPOINT)')
  add(as.end_session_endpoint ? 'ok' : 'info', 'logout at the provider', as.end_session_endpoint ? as.end_session_endpoint : 'no end_session_endpoint: logout ends the local session only')
}

function secure(url: string): boolean {
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopback(parsed))
  } catch {
    return false
  }
}

/** The clock difference with the provider, from its `Date` header. */
async function clock(config: OAuthConfig, provider: ProviderSettings, add: (status: CheckStatus, label: string, detail?: string) => void): Promise<void> {
  try {
    const response = await fetch(discoveryUrl(provider).url, { signal: AbortSignal.timeout(config.httpTimeout), redirect: 'manual' })
    await response.body?.cancel()
    const date = response.headers.get('date')
    if (!date) return add('info', 'clock difference with the provider', 'the provider sent no Date header')
    const difference = Math.round((Date.parse(date) - Date.now()) / 1000)
    const text = `${difference >= 0 ? '+' : ''}${difference} s (the Date header has 1 s resolution; OAUTH_CLOCK_TOLERANCE is ${config.clockTolerance} s)`
    add(Math.abs(difference) > config.clockTolerance ? 'fail' : 'ok', 'clock difference with the provider', Math.abs(difference) > config.clockTolerance ? `${text}: set the clock right (NTP)` : text)
  } catch (error) {
    add('warn', 'clock difference with the provider', `could not be measured: ${underlyingCause(error) ?? String(error)}`)
  }
}

async function jwks(config: OAuthConfig, url: string, add: (status: CheckStatus, label: string, detail?: string) => void): Promise<void> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(config.httpTimeout), redirect: 'manual', headers: { accept: 'application/json' } })
    const keys = response.ok ? memberOf(await response.json(), 'keys') : undefined
    if (!response.ok) await response.body?.cancel()
    if (Array.isArray(keys) && keys.length > 0) add('ok', 'JWKS', `${keys.length} key(s) at ${url}`)
    else add('fail', 'JWKS', `${url} answered HTTP ${response.status} without keys`)
  } catch (error) {
    add('fail', 'JWKS', `${url}: ${underlyingCause(error) ?? String(error)}`)
  }
}

const MARKS: Record<CheckStatus, string> = { ok: '✔', warn: '!', fail: '✖', info: '·' }

/** The report as the CLI prints it. */
export function formatReport(report: DoctorReport): string {
  const lines = report.checks.map((check) => `${MARKS[check.status]} ${check.label}${check.detail ? `: ${check.detail.replace(/\n/g, '\n    ')}` : ''}`)
  lines.push(report.ok ? '\nAll checks passed.' : '\nSome checks failed (✖): see above.')
  return lines.join('\n')
}
