/**
 * `@codegrant/core`: what an app imports beside its adapter (types to augment, errors, stores,
 * configuration). Adapter authors: `@codegrant/core/adapter`.
 *
 * @module
 */
import { createCodegrant as create } from './codegrant.js'
import { guard as guardState } from './guard.js'

export { configFromEnv, providerVariable } from './config/env.js'
export type { ApiOptions, Logger, OAuthOptions, ProviderOptions } from './config/options.js'
export { resolveConfig } from './config/resolve.js'
export type { ApiSettings, OAuthConfig, ProviderSettings, RedisConnection, RedisOpener } from './config/resolved.js'
export { API_SETTINGS, SETTINGS, type ApiOption, type Setting, type SettingScope, type SettingType } from './config/settings.js'
export type { ApiTokenMode, ClientAssertionAud, ClientAuthMethod, Profile, ResponseMode } from './config/enums.js'
export { doctor, formatReport, type Check, type CheckStatus, type DoctorReport } from './doctor.js'
export { CodegrantError, isCodegrantError, type CodegrantErrorCode, type CodegrantErrorCodes } from './errors.js'
export type { RequireAuthOptions } from './guard.js'
export type { AuthorizationParamsInput, LoginOptions } from './config/authorization-params.js'
export type { ErrorPage, ErrorPageInfo, LoginEvent, LoginHook, LoginHookResult } from './config/hooks.js'
export type { OAuthRequestState, SessionTimes } from './request-state.js'
export type { EndAllOptions, SessionControl, SessionInfo, UserOptions, UserSessions } from './sessions.js'
export { applyPreset } from './config/apply-preset.js'
export { PRESETS, type ApiUserSource, type Preset, type PresetName, type ResolvedPreset, type TenantIssuer, type TenantIssuerSpec, type TokenQuirks } from './config/presets.js'
export { safeReturnTo } from './return-to.js'
export { memoryStore } from './session/memory-store.js'
export { isCoordinating, type ApiToken, type CoordinatingStore, type DpopKey, type MaybePromise, type SessionData, type SessionIdentity, type SessionStore, type StandardClaims, type TokenSet, type UserClaims } from './session-types.js'
export { createCookieCodec, type CookieCodec } from './session/cookie-codec.js'

/**
 * @deprecated Adapter API, documented here before `@codegrant/core/adapter` existed: import
 * `createCodegrant` from `@codegrant/core/adapter`. This re-export goes in the next minor version.
 */
export const createCodegrant = create
/**
 * @deprecated Adapter API, documented here before `@codegrant/core/adapter` existed: import
 * `guard` from `@codegrant/core/adapter`. This re-export goes in the next minor version.
 */
export const guard = guardState
