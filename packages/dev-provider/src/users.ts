import type { OidcAccount } from './oidc-types.js';

export interface DevUser {
  sub: string;
  name: string;
  email: string;
  groups: string[];
}

/** The test users. `sub` is the user name; any password is accepted. */
export const users: Record<string, DevUser> = Object.freeze({
  alice: Object.freeze({ sub: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['admin'] }),
  bob: Object.freeze({ sub: 'bob', name: 'Bob Example', email: 'bob@example.com', groups: [] }),
}) as Record<string, DevUser>;

/** A user added to one provider (tests): any `sub`, its own claims, granted scopes and token lifetime. */
export interface AddedUser extends DevUser {
  /** Claims added to (or replacing) the standard ones. */
  claims?: Record<string, unknown>;
  /** When set, only these of the requested scopes are granted. */
  scopes?: string[];
  /** Seconds; the provider's `accessTokenTtl` otherwise. */
  accessTokenTtl?: number;
}

/** Users added to one provider, by `sub`. */
export type AddedUsers = Map<string, AddedUser>;

/** Looks a user up by name without falling into Object.prototype ("constructor", "__proto__"). */
export function findUser(name: string, added?: AddedUsers): DevUser | AddedUser | undefined {
  const extra = added?.get(name);
  if (extra) return extra;
  return Object.hasOwn(users, name) ? users[name] : undefined;
}

/** The claims of a user, for the ID token and userinfo (oidc-provider filters them by scope). */
export function userClaims(user: DevUser): Record<string, unknown> {
  return {
    sub: user.sub,
    name: user.name,
    preferred_username: user.sub,
    groups: [...user.groups],
    email: user.email,
    email_verified: true,
  };
}

/** Claims that override a user's own, per provider (e.g. a test's 300 groups). */
export type ClaimOverrides = Map<string, Record<string, unknown>>;

export function findAccount(sub: string, overrides?: ClaimOverrides, added?: AddedUsers): OidcAccount | undefined {
  const user = findUser(sub, added);
  if (!user) return undefined;
  const own = 'claims' in user ? user.claims : undefined;
  return { accountId: user.sub, claims: () => ({ ...userClaims(user), ...own, ...overrides?.get(user.sub), sub: user.sub }) };
}
