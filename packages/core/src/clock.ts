/**
 * The clock of sessions and tokens: seconds since the epoch, the unit of `iat`, `exp`, `uat`,
 * `auth_time` and `expires_in`. Read once per decision and passed on, so that one decision sees
 * one time. (Caches and timeouts measure milliseconds with `Date.now()` and `performance.now()`.)
 */
export const now = (): number => Math.floor(Date.now() / 1000)
