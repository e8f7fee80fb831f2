/** The protocol steps of the dev provider's tests, by hand with fetch and node:crypto. */
import { createHash, createPublicKey, randomBytes, randomUUID, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

import { expect } from 'vitest';

/** A registered client, as the tests know it. */
export interface Client {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  [metadata: string]: unknown;
}

/** The client of these tests; `client` parameters below default to it. */
export const CLIENT: Client = {
  client_id: 'test-client',
  client_secret: 'test-secret-test-secret-test-secret',
  redirect_uris: ['http://localhost:3000/auth/callback'],
  post_logout_redirect_uris: ['http://localhost:3000/'],
};

/** Just enough of a browser's cookie store: every cookie goes with every request to the provider. */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', date = ''] = attribute.trim().split('=');
        return key.toLowerCase() === 'expires' && Date.parse(date) <= Date.now();
      });
      if (!value || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** A scripted browser: follows nothing by itself, keeps cookies. */
export class Browser {
  readonly jar = new CookieJar();

  async get(url: string): Promise<Response> {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: this.jar.header(), accept: 'text/html' } });
    this.jar.store(response);
    return response;
  }

  async postForm(url: string, form: Record<string, string>): Promise<Response> {
    const response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.jar.header(), 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams(form),
    });
    this.jar.store(response);
    return response;
  }
}

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  revocation_endpoint: string;
  end_session_endpoint: string;
  pushed_authorization_request_endpoint: string;
  dpop_signing_alg_values_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
  code_challenge_methods_supported: string[];
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  id_token: string;
  token_type: string;
  expires_in: number;
}

export function location(response: Response, base: string): URL {
  const value = response.headers.get('location');
  expect(value, `status ${response.status} without Location`).toBeTruthy();
  return new URL(value ?? '', base);
}

export function jwtPayload(jwt: string): Record<string, unknown> {
  const [, payload = ''] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function basicAuth(client: Client = CLIENT): string {
  return `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
}

export async function tokenRequest(
  discovery: Discovery,
  form: Record<string, string>,
  { client = CLIENT, headers = {} }: { client?: Client; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * CLIENT's authorization request for a code with PKCE (S256) and `openid profile email`;
 * `extra` adds to or overrides these (state, nonce, scope, resource, ...).
 */
export function authorizationParams(challenge: string, extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return {
    client_id: CLIENT.client_id,
    redirect_uri: CLIENT.redirect_uris[0] ?? '',
    response_type: 'code',
    scope: 'openid profile email',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** The authorization endpoint with `params` in its query (an array repeats its parameter). */
export function authorizationUrl(discovery: Discovery, params: Record<string, string | string[]>): URL {
  const authorize = new URL(discovery.authorization_endpoint);
  authorize.search = formOf(params).toString();
  return authorize;
}

/** Sends the browser to the authorization endpoint and returns the login page URL. */
export async function startLogin(browser: Browser, discovery: Discovery, challenge: string, state: string): Promise<URL> {
  const authorize = authorizationUrl(discovery, authorizationParams(challenge, { state, nonce: 'n-0S6_WzA2Mj' }));
  const response = await browser.get(authorize.href);
  expect(response.status).toBe(303);
  const loginUrl = location(response, discovery.issuer);
  expect(loginUrl.pathname).toMatch(/^\/interaction\/[\w-]+$/);
  return loginUrl;
}

/** Logs `username` in through the login page and returns the authorization code and its PKCE verifier. */
export async function signIn(
  discovery: Discovery,
  username: string,
  { par = false, extra = {} }: { par?: boolean; extra?: Record<string, string | string[]> } = {},
): Promise<{ code: string; verifier: string }> {
  const browser = new Browser();
  const { verifier, challenge } = pkce();
  const params = authorizationParams(challenge, { state: 'st', ...extra });
  let authorize = new URL(discovery.authorization_endpoint);
  if (par) {
    const pushed = await fetch(discovery.pushed_authorization_request_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      body: formOf(params),
    });
    expect(pushed.status).toBe(201);
    const { request_uri: requestUri } = (await pushed.json()) as { request_uri: string };
    authorize.search = new URLSearchParams({ client_id: CLIENT.client_id, request_uri: requestUri }).toString();
  } else {
    authorize = authorizationUrl(discovery, params);
  }
  const loginUrl = location(await browser.get(authorize.href), discovery.issuer);
  let next = location(await browser.postForm(loginUrl.href, { username, password: 'x' }), discovery.issuer);
  // Follow the provider's redirects (resume, and consent when asked for) until the client's redirect_uri.
  for (let hop = 0; next.origin === discovery.issuer && hop < 5; hop += 1) {
    next = location(await browser.get(next.href), discovery.issuer);
  }
  const callback = next;
  const code = callback.searchParams.get('code');
  expect(code, callback.href).toBeTruthy();
  return { code: code ?? '', verifier };
}

export function exchangeCode(
  discovery: Discovery,
  { code, verifier }: { code: string; verifier: string },
  headers: Record<string, string> = {},
  extra: Record<string, string> = {},
) {
  return fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CLIENT.redirect_uris[0] ?? '',
      code_verifier: verifier,
      ...extra,
    }),
  });
}

/** A form with a repeated parameter for each array (e.g. several `resource`s, RFC 8707). */
function formOf(params: Record<string, string | string[]>): URLSearchParams {
  return new URLSearchParams(Object.entries(params).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((item) => [name, item])));
}

/** A DPoP proof (RFC 9449) signed with ES256, by hand with node:crypto. */
export function dpopProof(keys: { publicKey: KeyObject; privateKey: KeyObject }, htm: string, htu: string, accessToken?: string) {
  const { kty, crv, x, y } = keys.publicKey.export({ format: 'jwk' });
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = encode({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
  const payload = encode({
    jti: randomUUID(),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(accessToken ? { ath: createHash('sha256').update(accessToken).digest('base64url') } : {}),
  });
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: keys.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

/** The RFC 7638 thumbprint of an EC public key: what a DPoP-bound token carries as `cnf.jkt`. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
}

/**
 * The header and claims of a JWT whose signature verifies against the provider's published keys
 * (its jwks_uri); throws otherwise. By hand with node:crypto: this package does not depend on jose.
 */
export async function verifiedJwt(jwt: string, discovery: Discovery & { jwks_uri: string }): Promise<{ header: Record<string, unknown>; payload: Record<string, unknown> }> {
  const [header = '', payload = '', signature = ''] = jwt.split('.');
  const decoded = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg: string; kid: string; [name: string]: unknown };
  const { keys } = (await (await fetch(discovery.jwks_uri)).json()) as { keys: (JsonWebKey & { kid: string })[] };
  const jwk = keys.find((key) => key.kid === decoded.kid);
  if (!jwk) throw new Error(`no published key ${decoded.kid}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const valid = verify('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  if (!valid) throw new Error('the signature does not verify');
  return { header: decoded, payload: jwtPayload(jwt) };
}
