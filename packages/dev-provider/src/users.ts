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

/** Looks a user up by name without falling into Object.prototype ("constructor", "__proto__"). */
export function findUser(name: string): DevUser | undefined {
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

export function findAccount(sub: string, overrides?: ClaimOverrides): OidcAccount | undefined {
  const user = findUser(sub);
  if (!user) return undefined;
  return { accountId: user.sub, claims: () => ({ ...userClaims(user), ...overrides?.get(user.sub), sub: user.sub }) };
}
