import type { OidcAdapter, UnknownObject } from './oidc-types.js';

interface Entry {
  payload: UnknownObject;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

/** The models that revocation by grant reaches (as in oidc-provider's memory adapter). */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/**
 * In-memory storage for one dev provider, with the semantics of oidc-provider's
 * built-in memory adapter (same payload objects, `consumed` stamped in place,
 * grant-wide revocation). It exists because the built-in one is not exported
 * and announces itself with a "you MUST change it" warning on every start; a
 * dev provider, which already warns loudly, needs neither.
 */
export class MemoryStore {
  readonly #entries = new Map<string, Entry>();
  readonly #grantMembers = new Map<string, Set<string>>();
  readonly #uids = new Map<string, string>();
  readonly #userCodes = new Map<string, string>();
  #lastSweep = Date.now();

  adapterFor(model: string): OidcAdapter {
    return new MemoryAdapter(model, this);
  }

  get(key: string): UnknownObject | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(model: string, key: string, payload: UnknownObject, expiresIn: number | undefined): void {
    this.#sweepExpired();
    this.delete(key);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    this.#entries.set(key, { payload, expiresAt });
    if (GRANTABLE.has(model) && typeof payload.grantId === 'string') this.#membersOf(payload.grantId).add(key);
    if (model === 'Session' && typeof payload.uid === 'string') this.#uids.set(payload.uid, key);
    if (typeof payload.userCode === 'string') this.#userCodes.set(payload.userCode, key);
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    const { grantId, uid, userCode } = entry.payload;
    if (typeof grantId === 'string') this.#grantMembers.get(grantId)?.delete(key);
    if (typeof uid === 'string' && this.#uids.get(uid) === key) this.#uids.delete(uid);
    if (typeof userCode === 'string' && this.#userCodes.get(userCode) === key) this.#userCodes.delete(userCode);
  }

  keyForUid(uid: string): string | undefined {
    return this.#uids.get(uid);
  }

  keyForUserCode(userCode: string): string | undefined {
    return this.#userCodes.get(userCode);
  }

  deleteGrantMembers(grantId: string): void {
    for (const key of this.#grantMembers.get(grantId) ?? []) this.delete(key);
    this.#grantMembers.delete(grantId);
  }

  /** Deletes every grant of an account, and with them its tokens (as an admin revoking access would). */
  revokeAccount(accountId: string): number {
    let revoked = 0;
    for (const [key, entry] of this.#entries) {
      if (!key.startsWith('Grant:') || entry.payload.accountId !== accountId) continue;
      this.deleteGrantMembers(key.slice('Grant:'.length));
      this.delete(key);
      revoked++;
    }
    return revoked;
  }

  clear(): void {
    this.#entries.clear();
    this.#grantMembers.clear();
    this.#uids.clear();
    this.#userCodes.clear();
  }

  #membersOf(grantId: string): Set<string> {
    let members = this.#grantMembers.get(grantId);
    if (!members) {
      members = new Set();
      this.#grantMembers.set(grantId, members);
    }
    return members;
  }

  /** Expired entries are otherwise only dropped when read; a long demo run should not grow forever. */
  #sweepExpired(): void {
    const now = Date.now();
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.delete(key);
    }
  }
}

class MemoryAdapter implements OidcAdapter {
  readonly #model: string;
  readonly #store: MemoryStore;

  constructor(model: string, store: MemoryStore) {
    this.#model = model;
    this.#store = store;
  }

  async upsert(id: string, payload: UnknownObject, expiresIn?: number): Promise<void> {
    this.#store.set(this.#model, this.#key(id), payload, expiresIn);
  }

  async find(id: string): Promise<UnknownObject | undefined> {
    return this.#store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<UnknownObject | undefined> {
    const key = this.#store.keyForUid(uid);
    return key === undefined ? undefined : this.#store.get(key);
  }

  async findByUserCode(userCode: string): Promise<UnknownObject | undefined> {
    const key = this.#store.keyForUserCode(userCode);
    return key === undefined ? undefined : this.#store.get(key);
  }

  async consume(id: string): Promise<void> {
    const payload = this.#store.get(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#store.deleteGrantMembers(grantId);
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }
}
