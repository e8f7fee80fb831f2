import type * as ProviderModule from 'oidc-provider';
import type { GrantHelpers, OidcConfiguration, OidcInteractionPolicyModule, OidcProvider } from './oidc-types.js';

export type { GrantHelpers } from './oidc-types.js';

// spelled out rather than `typeof ProviderModule…`: the published .d.ts must not need
// oidc-provider's types (it has none; src/types/oidc-provider.d.ts is compile-time only)
export type ProviderClass = new (issuer: string, configuration: OidcConfiguration) => OidcProvider;
/** oidc-provider's error classes (InvalidClientAuth, …), for configuration hooks that refuse a request. */
export type ProviderErrors = Record<string, new (description?: string, detail?: string) => Error>;

let loading: Promise<typeof ProviderModule> | undefined;

/** oidc-provider's Provider class, imported once. */
export async function loadProviderClass(): Promise<ProviderClass> {
  loading ??= importWithoutRuntimeNotice();
  return (await loading).default;
}

/** oidc-provider's interaction policy helpers (prompts and their checks). */
export async function loadInteractionPolicy(): Promise<OidcInteractionPolicyModule> {
  loading ??= importWithoutRuntimeNotice();
  return (await loading).interactionPolicy;
}

export async function loadProviderErrors(): Promise<ProviderErrors> {
  loading ??= importWithoutRuntimeNotice();
  return (await loading).errors;
}

/**
 * oidc-provider's helpers for custom grant types (lib/helpers/grants.js): the DPoP checks and the
 * token response its own grants use. They are outside its semantic versioning, so their presence
 * is checked here, with an error that says what changed rather than a TypeError mid-request.
 */
export async function loadGrantHelpers(): Promise<GrantHelpers> {
  loading ??= importWithoutRuntimeNotice();
  await loading;
  const helpers = await import('oidc-provider/lib/helpers/grants.js');
  const missing = (['validateDpop', 'checkDpopReplay', 'checkDpopRequired', 'buildTokenResponse'] as const).filter((name) => typeof helpers[name] !== 'function');
  if (missing.length) {
    throw new Error(`codegrant dev provider: token exchange needs oidc-provider's grant helpers ${missing.join(', ')} (lib/helpers/grants.js, as in oidc-provider 9.13); this version has changed them`);
  }
  return helpers;
}

/**
 * oidc-provider prints "Unsupported runtime. Use Node.js v22.x LTS" when it is
 * imported on Node.js 20. This project supports Node.js >= 20.19 and tests the
 * dev provider there, so that one notice is dropped (on Node.js 20 only);
 * every other warning goes through.
 */
async function importWithoutRuntimeNotice(): Promise<typeof ProviderModule> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 20) return import('oidc-provider');
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!(typeof args[0] === 'string' && args[0].includes('Unsupported runtime'))) warn.apply(console, args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}

/** Replaces a provider's signing keys (what it signs with and publishes at its jwks_uri). */
export type KeyInstaller = (provider: OidcProvider, jwks: { keys: Record<string, unknown>[] }) => void;

/**
 * oidc-provider's keystore set-up, which it runs once at construction: run again, it replaces the
 * signing keys of a running provider (sessions, grants and clients stay). Outside its semantic
 * versioning, so checked here with an error that says what changed.
 */
export async function loadKeyInstaller(): Promise<KeyInstaller> {
  loading ??= importWithoutRuntimeNotice();
  await loading;
  const { default: initialize } = await import('oidc-provider/lib/helpers/initialize_keystore.js');
  if (typeof initialize !== 'function') {
    throw new Error('codegrant dev provider: key rotation needs oidc-provider\'s lib/helpers/initialize_keystore.js (as in oidc-provider 9.13); this version has changed it');
  }
  return (provider, jwks) => initialize.call(provider, jwks);
}
