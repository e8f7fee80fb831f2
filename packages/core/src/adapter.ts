/**
 * `@codegrant/core/adapter`: the entry for adapter authors, apart from the app-facing
 * `@codegrant/core`. An adapter imports only this entry (and its framework): `createAdapter`
 * carries codegrant's policies, and the adapter supplies a few callbacks for its framework.
 * The contract beneath it (`createCodegrant`, `attach`, `match`, `handle`, `respond`, `guard`)
 * is here too, for an adapter that needs a shape `createAdapter` does not cover.
 *
 * @module
 */
export { createAdapter, developing, slotTrap, stateTrap, StateNotAttachedError, trapUnset, type Adapter, type Framework, type Handler, type Mounted, type Next } from './create-adapter.js'
export { createCodegrant, type Codegrant, type CookieSink, type Route } from './codegrant.js'
export { formParams, readBody, type BodyStream, type CoreRequest, type CoreResponse } from './http.js'
export { guard, guardOptions, type RequireAuthOptions } from './guard.js'
// what an adapter re-exports to its app, so that it needs no second entry
export type { OAuthOptions } from './config/options.js'
export type { LoginOptions } from './config/authorization-params.js'
export type { OAuthRequestState } from './request-state.js'
export { CodegrantError, isCodegrantError } from './errors.js'
