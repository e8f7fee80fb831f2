/**
 * The values of the settings that are one of a list (the settings table's `enum`s), and their
 * types: the table, the option types and the checks all read them from here. A leaf.
 */

export const PRESET_NAMES = ['github', 'google', 'microsoft', 'gitlab', 'auth0', 'okta', 'keycloak'] as const
/** A provider preset's name (see `PRESETS`). */
export type PresetName = (typeof PRESET_NAMES)[number]

export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'] as const
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number]

/** The methods that authenticate with the TLS client certificate (RFC 8705 §2): PKI or self-signed. */
export function isMtlsMethod(method: string): boolean {
  return method === 'tls_client_auth' || method === 'self_signed_tls_client_auth'
}

/** The methods that authenticate with a client assertion (RFC 7523): signed with the key, or with the secret (HS256). */
export function isAssertionMethod(method: string): boolean {
  return method === 'private_key_jwt' || method === 'client_secret_jwt'
}

export const CLIENT_ASSERTION_AUDS = ['issuer', 'token_endpoint'] as const
/** What a `private_key_jwt` client assertion names as its audience (`aud`). */
export type ClientAssertionAud = (typeof CLIENT_ASSERTION_AUDS)[number]

export const RESPONSE_MODES = ['query', 'form_post', 'jwt', 'query.jwt', 'form_post.jwt'] as const
/**
 * How the authorization response comes back: in the query or as a form POST (`form_post`), each
 * also as one signed JWT (JARM: `query.jwt`, `form_post.jwt`; `jwt` is the query for a code).
 */
export type ResponseMode = (typeof RESPONSE_MODES)[number]

/** The response modes whose answer is a POSTed form (OAuth 2.0 Form Post Response Mode, JARM §2.3.4). */
export function isFormPostMode(mode: ResponseMode): boolean {
  return mode === 'form_post' || mode === 'form_post.jwt'
}

/** The JWT-secured response modes (JARM): the answer is one `response` JWT signed by the provider. */
export function isJwtResponseMode(mode: ResponseMode): boolean {
  return mode === 'jwt' || mode.endsWith('.jwt')
}

export const PROFILES = ['fapi2', 'fapi2-message-signing'] as const
/**
 * Security profiles: `fapi2` is the FAPI 2.0 Security Profile's client requirements;
 * `fapi2-message-signing` adds FAPI 2.0 Message Signing's signed requests (JAR) and responses (JARM).
 */
export type Profile = (typeof PROFILES)[number]

/** True for both FAPI 2.0 profiles: everything the Security Profile requires applies. */
export function isFapi2(profile: Profile | undefined): boolean {
  return profile === 'fapi2' || profile === 'fapi2-message-signing'
}

export const SESSION_STORES = ['cookie', 'memory', 'redis'] as const
/** The session stores a name chooses (`OAUTH_SESSION_STORE`); an app may also pass a store. */
export type SessionStoreName = (typeof SESSION_STORES)[number]

export const API_TOKEN_MODES = ['login', 'resource', 'exchange'] as const
/**
 * How an API's token is obtained (`OAUTH_<API>_TOKEN`): `login`, the session's own access token;
 * `resource`, a refresh-token grant naming the API's resource (RFC 8707 §2.2); `exchange`, token
 * exchange of the session's access token (RFC 8693).
 */
export type ApiTokenMode = (typeof API_TOKEN_MODES)[number]
