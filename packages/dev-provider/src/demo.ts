import { randomSecret } from './keys.js';
import { framed, warnOnce } from './notices.js';
import { startDevProvider, type DevProvider } from './provider.js';

export interface DemoSetup {
  /** Options for codegrant's oauth(). */
  options: { issuer: string; clientId: string; clientSecret: string; baseUrl: string; cookieSecret: string };
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
 */
export async function startDemoIfUnconfigured(env: Env, appPort: number): Promise<DemoSetup | undefined> {
  if (isProviderConfigured(env)) return undefined;
  if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) {
    throw new RangeError(`codegrant demo: the app port must be an integer from 1 to 65535, got ${String(appPort)}`);
  }
  const baseUrl = `http://localhost:${appPort}`;
  const clientSecret = randomSecret();
  const provider = await startDevProvider({
    quiet: true,
    // five minutes: long enough to look around, short enough to watch it expire and be refreshed
    accessTokenTtl: DEMO_ACCESS_TOKEN_TTL,
    clients: [
      {
        client_id: DEMO_CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: [`${baseUrl}/auth/callback`],
        post_logout_redirect_uris: [`${baseUrl}/`],
      },
    ],
  });
  warnOnce();
  console.error(demoNotice(provider.issuer, baseUrl));
  return {
    options: { issuer: provider.issuer, clientId: DEMO_CLIENT_ID, clientSecret, baseUrl, cookieSecret: randomSecret(32) },
    provider,
    close: () => provider.close(),
  };
}

function demoNotice(issuer: string, baseUrl: string): string {
  return framed([
    'codegrant: DEVELOPMENT SETUP (no OAUTH_ISSUER configured)',
    `Started the codegrant dev provider at ${issuer}`,
    `with the client ${DEMO_CLIENT_ID} for ${baseUrl}; secrets are new on every run.`,
    'Sign in as alice (group admin) or bob, with any password.',
    'To use a real provider set OAUTH_ISSUER, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_BASE_URL, OAUTH_COOKIE_SECRET.',
  ]);
}
