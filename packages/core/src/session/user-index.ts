/**
 * The index of each user's sessions in a server-side store, for listing and ending them
 * (`sessions.ts`): every new session is filed under its user (the provider's name and the
 * identity's `sub`, the provider's word, never the app's `user`) and under its handle, with the
 * store's `tag`, the same index back-channel logout uses. Tags are hashed, as there.
 */
import { createHash } from 'node:crypto'
import type { IdentifiedSession } from './identity.js'
import type { SessionStore } from './store.js'

/** A store that can file sessions under tags and find them again. */
export type IndexingStore = SessionStore & Required<Pick<SessionStore, 'tag' | 'tagged'>>

export function canIndex(store: SessionStore | undefined): store is IndexingStore {
  return typeof store?.tag === 'function' && typeof store.tagged === 'function'
}

const hash = (value: string) => createHash('sha256').update(value).digest('base64url')

/**
 * A session's public handle: what lists show and `end(id)` takes. Derived from the session id
 * and never the id itself, which stays on the server (the store's key).
 */
export function handleOf(sid: string): string {
  return hash(`handle\u0000${sid}`).slice(0, 22)
}

export const userTag = (provider: string, sub: string) => `user:${hash(`${provider}\u0000${sub}`)}`
export const handleTag = (handle: string) => `handle:${hash(handle)}`

/** Files a new session under its user and its handle, for as long as it can live (its absolute end). */
export async function indexUserSession(store: IndexingStore, session: IdentifiedSession, now: number): Promise<void> {
  const ttl = Math.max(1, session.exp - now)
  const { provider, sub } = session.identity
  await Promise.all([store.tag(userTag(provider, sub), session.sid, ttl), store.tag(handleTag(handleOf(session.sid)), session.sid, ttl)])
}

/**
 * A short summary of a User-Agent header for a list of a user's sessions ("Firefox on Linux"):
 * the browser family and the system, nothing that identifies more than that.
 */
export function deviceOf(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined
  const browser = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari'], ['curl/', 'curl']].find(([mark]) => userAgent.includes(mark!))?.[1] ?? 'Other browser'
  const system = [['Android', 'Android'], ['iPhone', 'iOS'], ['iPad', 'iOS'], ['Windows', 'Windows'], ['Mac OS X', 'macOS'], ['Linux', 'Linux']].find(([mark]) => userAgent.includes(mark!))?.[1]
  return system ? `${browser} on ${system}` : browser
}
