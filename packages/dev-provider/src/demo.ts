import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { certificateJwk, makeCertificate, type CertificateAndKey } from './certificates.js';
import { randomSecret } from './keys.js';
import { framed, warnOnce } from './notices.js';
import type { DevClient } from './configuration.js';
import { startDevProvider, type DevProvider } from './provider.js';
import { TOKEN_EXCHANGE } from './token-exchange.js';

export interface DemoSetup {
  /** Options for codegrant's oauth(). */
  options: { issuer: string; clientId: string; clientSecret?: string; privateKey?: string; baseUrl: string; cookieSecret: string; postLogoutRedirectUri?: string } & Partial<MtlsCredentials>;
  provider: DevProvider;
  close(): Promise<void>;
}

export const DEMO_CLIENT_ID = 'codegrant-demo';

/** Seconds an access token of the demo lives. */
export const DEMO_ACCESS_TOKEN_TTL = 300;

type Env = Record<string, string | undefined>;

/** A mutual-TLS demo client's credentials (RFC 8705): its method, certificate and key, and the CA of the provider's TLS listener. */
interface MtlsCredentials {
  clientAuthMethod: MtlsMethod;
  clientCert: string;
  clientCertKey: string;
  clientCertCa: string;
}

type MtlsMethod = 'tls_client_auth' | 'self_signed_tls_client_auth';

/** `OAUTH_CLIENT_AUTH_METHOD` when it names a mutual-TLS method: the demo is then the mTLS demo. */
function mtlsMethodOf(env: Env): MtlsMethod | undefined {
  const method = (env.OAUTH_CLIENT_AUTH_METHOD ?? '').trim();
  return method === 'tls_client_auth' || method === 'self_signed_tls_client_auth' ? method : undefined;
}

function isSet(env: Env, name: string): boolean {
  return (env[name] ?? '').trim() !== '';
}

function isTrue(env: Env, name: string): boolean {
  return /^(true|1|yes|on)$/i.test((env[name] ?? '').trim());
}

/**
 * Whether the environment names a real provider: an issuer, or both explicit endpoints. With
 * several providers (`OAUTH_PROVIDERS=github,corp`), whether any of them has its own
 * (`OAUTH_GITHUB_ISSUER`, …).
 */
export function isProviderConfigured(env: Env): boolean {
  const names = providerNames(env);
  if (names.length > 0) {
    return names.some((name) => {
      const prefix = `OAUTH_${name.toUpperCase()}_`;
      return isSet(env, `${prefix}ISSUER`) || (isSet(env, `${prefix}AUTHORIZATION_ENDPOINT`) && isSet(env, `${prefix}TOKEN_ENDPOINT`));
    });
  }
  return (
    isSet(env, 'OAUTH_ISSUER') ||
    isSet(env, 'ISSUER_BASE_URL') ||
    (isSet(env, 'OAUTH_AUTHORIZATION_ENDPOINT') && isSet(env, 'OAUTH_TOKEN_ENDPOINT'))
  );
}

/** The names in `OAUTH_PROVIDERS`, lower-cased. */
export function providerNames(env: Env): string[] {
  return (env.OAUTH_PROVIDERS ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
}

/**
 * With neither OAUTH_ISSUER (nor its alias ISSUER_BASE_URL) nor both
 * OAUTH_AUTHORIZATION_ENDPOINT and OAUTH_TOKEN_ENDPOINT set in env, starts a
 * dev provider on a free loopback port with one client ('codegrant-demo', a
 * random secret, redirect_uris [`http://localhost:${appPort}/auth/callback`],
 * post_logout_redirect_uris [`http://localhost:${appPort}/`, `…/auth/logout/done`]), and returns
 * options for the app: baseUrl `http://localhost:${appPort}`, a random
 * cookieSecret, etc. Prints a loud "development setup" notice naming the
 * issuer. Returns undefined when the env configures a real provider.
 *
 * With OAUTH_DPOP=true the client's access tokens must be DPoP-bound. With
 * OAUTH_PROFILE=fapi2 the provider acts as a FAPI 2.0 provider and the client
 * authenticates with a key pair generated for the run (private_key_jwt, its
 * private JWK in `options.privateKey`), pushes its authorization requests and
 * uses DPoP: `OAUTH_PROFILE=fapi2 pnpm demo` needs nothing else. With
 * OAUTH_PROFILE=fapi2-message-signing the client is also registered for signed request objects
 * (`require_signed_request_object`, ES256) and ES256-signed JWT authorization responses (JARM,
 * `authorization_signed_response_alg`), as FAPI 2.0 Message Signing asks. With
 * OAUTH_REQUEST_OBJECT=true (and no profile) the client keeps its secret, is required to sign its
 * request objects, and gets a key pair for them (`options.privateKey`). With
 * OAUTH_BACKCHANNEL_LOGOUT=true the client registers its `backchannel_logout_uri`, so signing
 * out at the provider POSTs a logout token to the app (OpenID Back-Channel Logout); with
 * OAUTH_FRONTCHANNEL_LOGOUT=true its `frontchannel_logout_uri`, which the provider's logout page
 * renders in an iframe (OpenID Front-Channel Logout). With OAUTH_CLIENT_AUTH_METHOD=tls_client_auth
 * or self_signed_tls_client_auth the provider also serves mutual TLS (its token, PAR, revocation
 * and userinfo endpoints aliased on an HTTPS listener, RFC 8705 §5) and the client authenticates
 * with a certificate made for the run (signed by the provider's run-time CA, or self-signed and
 * registered in its `jwks`), its access tokens bound to it: `options` carry the method, the
 * certificate, its key and the CA to trust.
 */
export async function startDemoIfUnconfigured(env: Env, appPort: number): Promise<DemoSetup | undefined> {
  // several providers: the examples' kit starts one dev provider per name (this is the one-provider demo)
  if (isProviderConfigured(env) || providerNames(env).length > 0) return undefined;
  if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) {
    throw new RangeError(`codegrant demo: the app port must be an integer from 1 to 65535, got ${String(appPort)}`);
  }
  const baseUrl = `http://localhost:${appPort}`;
  // OAUTH_PROFILE=fapi2: the provider acts as a FAPI 2.0 provider, and the demo client gets a
  // key pair (private_key_jwt) and is forced to PAR and DPoP, as a FAPI provider would register it;
  // fapi2-message-signing: the same, and it must sign its requests and gets signed responses
  const profile = (env.OAUTH_PROFILE ?? '').trim();
  const messageSigning = profile === 'fapi2-message-signing';
  const fapi2 = profile === 'fapi2' || messageSigning;
  const dpop = fapi2 || isTrue(env, 'OAUTH_DPOP');
  const redirects = {
    // token exchange too: the demo's billing API takes exchanged tokens (RFC 8693)
    grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE],
    redirect_uris: [`${baseUrl}/auth/callback`],
    // `/auth/logout/done`: where codegrant checks the `state` it sent with the logout
    post_logout_redirect_uris: [`${baseUrl}/`, `${baseUrl}/auth/logout/done`],
    // signing out at the provider ends the app's session too, when the app serves back-channel logout
    ...(isTrue(env, 'OAUTH_BACKCHANNEL_LOGOUT') ? { backchannel_logout_uri: `${baseUrl}/auth/backchannel-logout`, backchannel_logout_session_required: true } : {}),
    // and through an iframe of the provider's logout page, when the app serves front-channel logout
    ...(isTrue(env, 'OAUTH_FRONTCHANNEL_LOGOUT') ? { frontchannel_logout_uri: `${baseUrl}/auth/frontchannel-logout`, frontchannel_logout_session_required: true } : {}),
  };
  const mtlsMethod = mtlsMethodOf(env);
  const mtls = mtlsMethod && (await mtlsClient(mtlsMethod));
  let credentials: { clientSecret: string; privateKey?: string } | { privateKey: string } | MtlsCredentials;
  let client: DevClient;
  // OAUTH_REQUEST_OBJECT=true alone: a key pair for the signed request objects the client must then send
  const requestObject = !fapi2 && isTrue(env, 'OAUTH_REQUEST_OBJECT');
  if (mtls) {
    credentials = mtls.credentials;
    client = { client_id: DEMO_CLIENT_ID, ...mtls.registration, tls_client_certificate_bound_access_tokens: true, ...(fapi2 ? { require_pushed_authorization_requests: true } : {}), ...redirects };
  } else if (fapi2) {
    const { privateKey, publicJwk } = demoKeyPair();
    credentials = { privateKey };
    client = {
      client_id: DEMO_CLIENT_ID,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [publicJwk] },
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
      ...(messageSigning ? { require_signed_request_object: true, request_object_signing_alg: 'ES256', authorization_signed_response_alg: 'ES256' } : {}),
      ...redirects,
    };
  } else {
    const clientSecret = randomSecret();
    const signing = requestObject ? demoKeyPair() : undefined;
    credentials = { clientSecret, ...(signing ? { privateKey: signing.privateKey } : {}) };
    client = {
      client_id: DEMO_CLIENT_ID,
      client_secret: clientSecret,
      ...(dpop ? { dpop_bound_access_tokens: true } : {}),
      ...(signing ? { jwks: { keys: [signing.publicJwk] }, require_signed_request_object: true, request_object_signing_alg: 'ES256' } : {}),
      ...redirects,
    };
  }
  const provider = await startDevProvider({
    quiet: true,
    // five minutes: long enough to look around, short enough to watch it expire and be refreshed
    accessTokenTtl: DEMO_ACCESS_TOKEN_TTL,
    fapi2,
    ...(mtls ? { mtls: { ca: mtls.ca } } : {}),
    clients: [client],
  });
  warnOnce();
  const mode = mtlsMethod ? `mutual TLS (${mtlsMethod}, certificate-bound tokens${fapi2 ? ', FAPI 2.0' : ''})`
    : messageSigning ? 'FAPI 2.0 Message Signing (PAR with signed request objects, JARM, DPoP, private_key_jwt)'
    : fapi2 ? 'FAPI 2.0 (PAR, DPoP, private_key_jwt)'
    : [dpop ? 'DPoP' : '', requestObject ? 'signed request objects' : ''].filter(Boolean).join(', ') || undefined;
  console.error(demoNotice(provider.issuer, baseUrl, mode));
  return {
    options: {
      issuer: provider.issuer,
      clientId: DEMO_CLIENT_ID,
      ...credentials,
      baseUrl,
      cookieSecret: randomSecret(32),
      // logout sends a `state` and checks it on the way back (RP-Initiated Logout 1.0 §3)
      ...(isSet(env, 'OAUTH_POST_LOGOUT_REDIRECT_URI') ? {} : { postLogoutRedirectUri: `${baseUrl}/auth/logout/done` }),
    },
    provider,
    close: () => provider.close(),
  };
}

/** An ES256 key pair made for the run: the private JWK for codegrant (`OAUTH_PRIVATE_KEY`), the public one for the client's registration. */
function demoKeyPair(): { privateKey: string; publicJwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return {
    privateKey: JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid }),
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
  };
}

/**
 * The mTLS demo client's certificate, made for the run: signed by the provider's CA (made here
 * too) with the client's subject for `tls_client_auth`, or self-signed and published in its
 * `jwks` for `self_signed_tls_client_auth`. Its registration, and what the app needs to present it.
 */
async function mtlsClient(method: MtlsMethod): Promise<{ ca: CertificateAndKey; registration: Partial<DevClient>; credentials: MtlsCredentials }> {
  const ca = await makeCertificate({ commonName: 'codegrant dev provider CA' });
  const self = method === 'self_signed_tls_client_auth';
  const { cert, key } = await makeCertificate({ commonName: DEMO_CLIENT_ID, ...(self ? {} : { issuer: ca }) });
  const registration = self ? { jwks: { keys: [certificateJwk(cert)] } } : { tls_client_auth_subject_dn: `CN=${DEMO_CLIENT_ID}` };
  return { ca, registration: { token_endpoint_auth_method: method, ...registration }, credentials: { clientAuthMethod: method, clientCert: cert, clientCertKey: key, clientCertCa: ca.cert } };
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

export interface DemoProvidersSetup {
  /** Options for codegrant's oauth(): one provider per name, each a dev provider of its own. */
  options: { baseUrl: string; cookieSecret: string; providers: Record<string, { issuer: string; clientId: string; clientSecret: string }> };
  providers: DevProvider[];
  close(): Promise<void>;
}

/**
 * The demo with several providers: with `OAUTH_PROVIDERS` set and none of its providers
 * configured (no `OAUTH_<NAME>_ISSUER`, nor both explicit endpoints), starts one dev provider per
 * name, each on its own loopback address (127.0.0.1, 127.0.0.2, …, so that their cookies stay
 * apart in a browser as two real providers' would) with the client 'codegrant-demo' registered
 * for `http://localhost:${appPort}/auth/callback/<name>`. Returns undefined otherwise.
 */
export async function startDemoProvidersIfUnconfigured(env: Env, appPort: number): Promise<DemoProvidersSetup | undefined> {
  const names = providerNames(env);
  if (names.length === 0 || isProviderConfigured(env)) return undefined;
  if (!Number.isInteger(appPort) || appPort < 1 || appPort > 65535) {
    throw new RangeError(`codegrant demo: the app port must be an integer from 1 to 65535, got ${String(appPort)}`);
  }
  const baseUrl = `http://localhost:${appPort}`;
  const started: DevProvider[] = [];
  const options: DemoProvidersSetup['options'] = { baseUrl, cookieSecret: randomSecret(32), providers: {} };
  try {
    for (const [index, name] of names.entries()) {
      const clientSecret = randomSecret();
      const provider = await startDevProvider({
        quiet: true,
        host: `127.0.0.${index + 1}`,
        accessTokenTtl: DEMO_ACCESS_TOKEN_TTL,
        clients: [{ client_id: DEMO_CLIENT_ID, client_secret: clientSecret, redirect_uris: [`${baseUrl}/auth/callback/${name}`], post_logout_redirect_uris: [`${baseUrl}/`] }],
      });
      started.push(provider);
      options.providers[name] = { issuer: provider.issuer, clientId: DEMO_CLIENT_ID, clientSecret };
    }
  } catch (error) {
    await Promise.all(started.map((provider) => provider.close()));
    throw error;
  }
  warnOnce();
  console.error(framed([
    `codegrant: DEVELOPMENT SETUP (OAUTH_PROVIDERS=${names.join(',')} without issuers)`,
    ...names.map((name, index) => `Started a dev provider for ${name} at ${started[index]!.issuer}`),
    `each with the client ${DEMO_CLIENT_ID} for ${baseUrl}; secrets are new on every run.`,
    'Sign in as alice (group admin) or bob, with any password, at either.',
    'To use real providers set OAUTH_<NAME>_ISSUER, OAUTH_<NAME>_CLIENT_ID, OAUTH_<NAME>_CLIENT_SECRET for each name.',
  ]));
  return { options, providers: started, close: async () => void (await Promise.all(started.map((provider) => provider.close()))) };
}
