/**
 * One provider's settings, validated: its preset applied, its endpoints or issuer, its client
 * and how it authenticates, its routes, its protocol options. Each problem names the
 * provider's own variable (`OAUTH_GITHUB_CLIENT_ID` with several providers).
 */
import { applyPreset } from './apply-preset.js'
import { parseAuthorizationParams } from './authorization-params.js'
import { isLoopback, type Checks } from './checks.js'
import { clientCertificate } from './client-cert.js'
import { CLIENT_ASSERTION_AUDS, CLIENT_AUTH_METHODS, isAssertionMethod, PRESET_NAMES, type Profile } from './enums.js'
import type { FullLogger, ProviderOptions } from './options.js'
import { parsePrivateKey } from './private-key.js'
import { fapi2Problems, messageSigningProblems } from './profile.js'
import type { ProviderSettings } from './resolved.js'

/** What a provider's settings depend on in the app's. */
export interface AppContext {
  /** True with several providers (`providers`): routes and variables carry the provider's name. */
  readonly named: boolean
  /** `OAUTH_BASE_URL`, ending with `/`; undefined when it is invalid (a problem already). */
  readonly base: URL | undefined
  /** The base URL's path without its final `/` (`''` at the origin's root). */
  readonly basePath: string
  readonly routes: Readonly<{ login: string; callback: string }>
  /** True under both FAPI 2.0 profiles (`profile` says which). */
  readonly fapi2: boolean
  readonly profile: Profile | undefined
  readonly clockTolerance: number
  readonly logger: FullLogger
}

/** Provider `name`'s settings (`given`: options over its variables); problems pushed to `check`. */
export function resolveProvider(name: string, given: ProviderOptions, check: Checks, app: AppContext): ProviderSettings {
  // the preset fills what is unset; a provider named like a preset (`github`) uses that one
  const preset = given.preset ?? (app.named ? PRESET_NAMES.find((known) => known === name) : undefined)
  const { settings: input, preset: resolvedPreset } = applyPreset({ ...given, preset }, check.problems, check.variable('preset').replace(/PRESET$/, ''))
  const where = endpointSettings(input, check, app.logger)
  const client = clientSettings(input, check, app.fapi2, where.explicitEndpoints)
  const { redirectUri, paths } = routeSettings(name, input, check, app)
  const protocol = protocolSettings(input, check, app.fapi2)
  const signing = messageSigningSettings(input, check, app.profile === 'fapi2-message-signing')
  if (app.profile) problems(check, fapi2Problems({ ...protocol, ...client, clockTolerance: app.clockTolerance }, app.profile))
  if (app.profile === 'fapi2-message-signing') problems(check, messageSigningProblems(signing))
  const fallback = app.base ?? new URL('http://localhost/')
  return Object.freeze({
    name,
    ...where,
    ...client,
    redirectUri,
    scope: where.scope,
    loginScope: where.scope,
    openid: where.scope.split(' ').includes('openid'),
    postLogoutRedirectUri: check.url('postLogoutRedirectUri', input.postLogoutRedirectUri, { allowHttp: true })?.href ?? fallback.href,
    ...protocol,
    ...signing,
    fetchUserinfo: check.flag('fetchUserinfo', input.fetchUserinfo),
    apiOrigins: apiOrigins(input.apiOrigins, check),
    authorizationParams: parseAuthorizationParams(input.authorizationParams, check.problems, check.variable('authorizationParams')),
    paths,
    preset: resolvedPreset,
  })
}

function problems(check: Checks, found: readonly string[]): void {
  check.problems.push(...found)
}

/** Where the provider is: its issuer (discovery), or its endpoints given explicitly; and the scope asked for. */
function endpointSettings(input: ProviderOptions, check: Checks, logger: FullLogger) {
  const endpoints = Object.freeze({
    authorization: check.url('authorizationEndpoint', input.authorizationEndpoint)?.href,
    token: check.url('tokenEndpoint', input.tokenEndpoint)?.href,
    userinfo: check.url('userinfoEndpoint', input.userinfoEndpoint)?.href,
    revocation: check.url('revocationEndpoint', input.revocationEndpoint)?.href,
    endSession: check.url('endSessionEndpoint', input.endSessionEndpoint)?.href,
    jwks: check.url('jwksUri', input.jwksUri)?.href,
  })
  const explicitEndpoints = endpoints.authorization !== undefined && endpoints.token !== undefined
  const scope = (check.text('scope', input.scope) ?? '').split(/\s+/).filter(Boolean).join(' ')
  if (explicitEndpoints && !endpoints.jwks && scope.split(' ').includes('openid')) {
    check.problems.push(`${check.variable('jwksUri')} is required with explicit endpoints and the openid scope (ID token signatures are checked with its keys); or set only ${check.variable('issuer')} to use discovery`)
  }
  const issuer = check.url('issuer', input.issuer, { required: !explicitEndpoints })
  if (!explicitEndpoints && input.issuer === undefined && (endpoints.authorization ?? endpoints.token) !== undefined) {
    check.problems.push(`${check.variable('authorizationEndpoint')} and ${check.variable('tokenEndpoint')} must be given together (or set ${check.variable('issuer')} for discovery)`)
  }
  if (issuer && issuer.protocol === 'http:' && isLoopback(issuer)) {
    logger.warn(`${check.variable('issuer')} ${issuer.origin} is plain http: accepted only because it is loopback (development)`)
  }
  return { issuer: issuer ? input.issuer : undefined, endpoints, explicitEndpoints, scope }
}

/** The client: its id, how it authenticates at the token endpoint, and its secret, key or certificate. */
function clientSettings(input: ProviderOptions, check: Checks, fapi2: boolean, explicitEndpoints: boolean) {
  if (!input.clientId) check.problems.push(`${check.variable('clientId')} is required`)
  const clientAuthMethod = check.oneOf('clientAuthMethod', input.clientAuthMethod, CLIENT_AUTH_METHODS, fapi2 ? 'private_key_jwt' : undefined)
  // what a method needs, once the method itself is valid
  const chosen = input.clientAuthMethod === undefined || input.clientAuthMethod === clientAuthMethod
  if (chosen && clientAuthMethod.startsWith('client_secret') && !input.clientSecret) {
    check.problems.push(`${check.variable('clientSecret')} is required for ${clientAuthMethod}`)
  } else if (chosen && clientAuthMethod === 'private_key_jwt' && !input.privateKey) {
    check.problems.push(`${check.variable('privateKey')} is required for private_key_jwt`)
  }
  const privateKey = input.privateKey === undefined ? undefined : parsePrivateKey(input.privateKey, check.variable('privateKey'))
  if (typeof privateKey === 'string') check.problems.push(privateKey)
  const clientAssertionAud = check.oneOf('clientAssertionAud', input.clientAssertionAud, CLIENT_ASSERTION_AUDS, fapi2 ? 'issuer' : undefined)
  const audChosen = input.clientAssertionAud === undefined || input.clientAssertionAud === clientAssertionAud
  if (audChosen && clientAssertionAud === 'issuer' && isAssertionMethod(clientAuthMethod) && explicitEndpoints && input.issuer === undefined) {
    check.problems.push(`${check.variable('clientAssertionAud')}=issuer needs ${check.variable('issuer')} (the provider's issuer identifier) when the endpoints are given explicitly`)
  }
  return {
    clientId: input.clientId ?? '',
    clientSecret: input.clientSecret,
    clientAuthMethod,
    privateKey: typeof privateKey === 'object' ? privateKey : undefined,
    clientAssertionAud,
    clientCertificate: clientCertificate({ ...input, clientAuthMethod: chosen ? clientAuthMethod : '' }, check),
  }
}

/**
 * The provider's redirect URI and route paths. Each provider has its own callback (RFC 9700
 * §4.4.2: distinct redirect URIs defend against mix-up).
 */
function routeSettings(name: string, input: ProviderOptions, check: Checks, app: AppContext) {
  const { base, basePath, routes, named } = app
  const redirect = check.url('redirectUri', input.redirectUri, { allowHttp: true })
  const underBase = redirect && base && redirect.origin === base.origin && redirect.pathname.startsWith(`${basePath}/`)
  const callback = !named ? routes.callback : underBase ? redirect.pathname.slice(basePath.length) : `${routes.callback}/${name}`
  if (redirect && base && (!named ? redirect.origin !== base.origin || redirect.pathname !== `${basePath}${routes.callback}` : !underBase)) {
    check.problems.push(`${check.variable('redirectUri')} (${redirect.href}) must be OAUTH_BASE_URL + the callback route (${base.origin}${basePath}${callback}), so that the callback reaches this app`)
  }
  const paths = !named
    ? { login: [routes.login], callback: [routes.callback] }
    : { login: [`${routes.login}/${name}`, nested(routes.login, name)], callback: redirect ? [callback] : [callback, nested(routes.callback, name)] }
  return {
    redirectUri: redirect?.href ?? new URL(callback.slice(1), base ?? new URL('http://localhost/')).href,
    paths: Object.freeze({ login: Object.freeze(paths.login), callback: Object.freeze(paths.callback) }),
  }
}

/** `/auth/login` and `github` → `/auth/github/login` (the design's spelling, served as an alias). */
function nested(route: string, name: string): string {
  const slash = route.lastIndexOf('/')
  return `${route.slice(0, slash)}/${name}${route.slice(slash)}`
}

/** The ID token's and signed userinfo's algorithms, PAR and DPoP (on by default under FAPI 2.0, without a client certificate). */
function protocolSettings(input: ProviderOptions, check: Checks, fapi2: boolean) {
  const { idTokenSigningAlg, userinfoSigningAlg } = input
  for (const [option, alg] of [['idTokenSigningAlg', idTokenSigningAlg], ['userinfoSigningAlg', userinfoSigningAlg]] as const) {
    if (alg !== undefined && (alg.toLowerCase() === 'none' || /^HS/i.test(alg))) {
      check.problems.push(`${check.variable(option)} must be an asymmetric algorithm such as RS256 or ES256 (got ${JSON.stringify(alg)})`)
    }
  }
  // FAPI 2.0 sender-constrains tokens with DPoP unless they are bound to the client certificate (RFC 8705 §3)
  const dpop = input.dpop === undefined && fapi2 && input.clientCert === undefined ? true : check.flag('dpop', input.dpop)
  const dpopAllowBearer = check.flag('dpopAllowBearer', input.dpopAllowBearer)
  const par = input.par === undefined && fapi2 ? true : check.flag('par', input.par)
  const ssf = check.flag('ssf', input.ssf)
  return { idTokenSigningAlg, userinfoSigningAlg, par, dpop, dpopAllowBearer, ssf }
}

/**
 * Signed request objects (JAR) and the algorithm pinned for signed authorization responses (JARM);
 * request objects are on by default under FAPI 2.0 Message Signing. A request object is signed
 * with the client's private key, so it needs one, whatever authenticates the client.
 */
function messageSigningSettings(input: ProviderOptions, check: Checks, messageSigning: boolean) {
  const requestObject = input.requestObject === undefined && messageSigning ? true : check.flag('requestObject', input.requestObject)
  if (requestObject && input.privateKey === undefined) {
    check.problems.push(`${check.variable('requestObject')} needs ${check.variable('privateKey')}: the request object is signed with the client's private key`)
  }
  const { authorizationSigningAlg } = input
  if (authorizationSigningAlg !== undefined && (authorizationSigningAlg.toLowerCase() === 'none' || /^HS/i.test(authorizationSigningAlg))) {
    check.problems.push(`${check.variable('authorizationSigningAlg')} must be an asymmetric algorithm such as RS256 or ES256 (got ${JSON.stringify(authorizationSigningAlg)})`)
  }
  return { requestObject, authorizationSigningAlg }
}

/** `OAUTH_API_ORIGINS`: a list or a comma-separated string of URLs, kept as origins. */
function apiOrigins(input: ProviderOptions['apiOrigins'], check: Checks): readonly string[] {
  const origins = (typeof input === 'string' ? input.split(',') : [...(input ?? [])])
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '')
    .map((origin) => check.url('apiOrigins', origin)?.origin)
    .filter((origin): origin is string => origin !== undefined)
  return Object.freeze(origins)
}
