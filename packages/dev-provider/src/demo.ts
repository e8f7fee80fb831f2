import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { randomSecret } from './keys.js';
import { framed, warnOnce } from './notices.js';
import type { DevClient } from './configuration.js';
import { startDevProvider, type DevProvider } from './provider.js';

export interface DemoSetup {
  /** Options for codegrant's oauth(). */
  options: { issuer: string; clientId: string; clientSecret?: string; privateKey?: string; baseUrl: string; cookieSecret: string };
  provider: DevProvider;
  close(): Promise<void>;
}

export const DEMO_CLIENT_ID = 'codegrant-demo';

/** Seconds an access token of the demo lives. */
export const DEMO_ACCESS_TOKEN_TTL = 300;

type Env = Record<string, string | undefined>;

function isSet(env: Env, name: string): boolean {
  return (env[name] ?? '').trim() !== '';
}

function isTrue(env: Env, name: string): boolean {
  return /^(true|1|yes|on)$/i.test((env[name] ?? '').trim());
}

/** Whether the environment names a real provider: an issuer, or both explicit endpoints. */
export function isProviderConfigured(env: Env): boolean {
  return (
    isSet(env, 'OAUTH_ISSUER') ||
    isSet(env, 'ISSUER_BASE_URL') ||
    (isSet(env, 'OAUTH_AUTHORIZATION_ENDPOINT') && isSet(env, 'OAUTH_TOKEN_ENDPOINT'))
  );
}

/**
 * With neither OAUTH_ISSUER (nor its alias ISSUER_BASE_URL) nor both
 * OAUTH_AUTHORIZATION_ENDPOINT and OAUTH_TOKEN_ENDPOINT set in env, starts a
 * dev provider on a free loopback port with one client ('codegrant-demo', a
 * random secret, redirect_uris [`http://localhost:${appPort}/auth/callback`],
 * post_logout_redirect_uris [`http://localhost:${appPort}/`]), and returns
 * options for the app: baseUrl `http://localhost:${appPort}`, a random
 * cookieSecret, etc. Prints a loud "development setup" notice naming the
 * issuer. Returns undefined when the env configures a real provider.
 *
 * With OAUTH_DPOP=true the client's access tokens must be DPoP-bound. With
 * OAUTH_PROFILE=fapi2 the provider acts as a FAPI 2.0 provider and the client
 * authenticates with a key pair generated for the run (private_key_jwt, its
 * private JWK in `options.privateKey`), pushes its authorization requests and
 * uses DPoP: `OAUTH_PROFILE=fapi2 pnpm demo` needs nothing else.
 */
export async function startDemoIfUnconfigured(env: Env, appPort: number): Promise<DemoSetup | undefined> {
  if (isProviderConfigured(env)) return undefined;
  if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) {
    throw new RangeError(`codegrant demo: the app port must be an integer from 1 to 65535, got ${String(appPort)}`);
  }
  const baseUrl = `http://localhost:${appPort}`;
  // OAUTH_PROFILE=fapi2: the provider acts as a FAPI 2.0 provider, and the demo client gets a
  // key pair (private_key_jwt) and is forced to PAR and DPoP, as a FAPI provider would register it
  const fapi2 = (env.OAUTH_PROFILE ?? '').trim() === 'fapi2';
  const dpop = fapi2 || isTrue(env, 'OAUTH_DPOP');
  const redirects = { redirect_uris: [`${baseUrl}/auth/callback`], post_logout_redirect_uris: [`${baseUrl}/`] };
  let credentials: { clientSecret: string } | { privateKey: string };
  let client: DevClient;
  if (fapi2) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomUUID();
    credentials = { privateKey: JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid }) };
    client = {
      client_id: DEMO_CLIENT_ID,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] },
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      ...redirects,
    };
  } else {
    const clientSecret = randomSecret();
    credentials = { clientSecret };
    client = { client_id: DEMO_CLIENT_ID, client_secret: clientSecret, ...(dpop ? { dpop_bound_access_tokens: true } : {}), ...redirects };
  }
  const provider = await startDevProvider({
    quiet: true,
    // five minutes: long enough to look around, short enough to watch it expire and be refreshed
    accessTokenTtl: DEMO_ACCESS_TOKEN_TTL,
    fapi2,
    clients: [client],
  });
  warnOnce();
  console.error(demoNotice(provider.issuer, baseUrl, fapi2 ? 'FAPI 2.0 (PAR, DPoP, private_key_jwt)' : dpop ? 'DPoP' : undefined));
  return {
    options: { issuer: provider.issuer, clientId: DEMO_CLIENT_ID, ...credentials, baseUrl, cookieSecret: randomSecret(32) },
    provider,
    close: () => provider.close(),
  };
}

function demoNotice(issuer: string, baseUrl: string, mode: string | undefined): string {
  return framed([
    'codegrant: DEVELOPMENT SETUP (no OAUTH_ISSUER configured)',
    `Started the codegrant dev provider at ${issuer}${mode ? ` in ${mode} mode` : ''}`,
    `with the client ${DEMO_CLIENT_ID} for ${baseUrl}; secrets are new on every run.`,
    'Sign in as alice (group admin) or bob, with any password.',
    'To use a real provider set OAUTH_ISSUER, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_BASE_URL, OAUTH_COOKIE_SECRET.',
  ]);
}
