/**
 * Parsed JSON (a provider's answer, a decoded token, an error's cause) is `unknown` until checked.
 * These guards let a module read it without a type assertion, which a malformed answer would turn
 * into a lie further on.
 */

/** True for a JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `value[key]` when `value` is an object, else undefined: one member of an answer of unknown shape. */
export function memberOf(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined
}
