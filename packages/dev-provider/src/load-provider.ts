import type ProviderModule from 'oidc-provider';

export type ProviderClass = typeof ProviderModule;

let loading: Promise<ProviderClass> | undefined;

/** oidc-provider's Provider class, imported once. */
export function loadProviderClass(): Promise<ProviderClass> {
  loading ??= importWithoutRuntimeNotice();
  return loading;
}

/**
 * oidc-provider prints "Unsupported runtime. Use Node.js v22.x LTS" when it is
 * imported on Node.js 20. This project supports Node.js >= 20.19 and tests the
 * dev provider there, so that one notice is dropped (on Node.js 20 only);
 * every other warning goes through.
 */
async function importWithoutRuntimeNotice(): Promise<ProviderClass> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 20) return (await import('oidc-provider')).default;
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!(typeof args[0] === 'string' && args[0].includes('Unsupported runtime'))) warn.apply(console, args);
  };
  try {
    return (await import('oidc-provider')).default;
  } finally {
    console.warn = warn;
  }
}
