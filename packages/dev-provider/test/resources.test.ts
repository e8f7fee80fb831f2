import { generateKeyPairSync } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE, startDevProvider, type DevProvider } from '../dist/index.js';
import {
  CLIENT,
  authorizationParams,
  authorizationUrl,
  basicAuth,
  dpopProof,
  exchangeCode,
  jwkThumbprint,
  location,
  Browser,
  pkce,
  signIn,
  tokenRequest,
  verifiedJwt,
  type Client,
  type Discovery,
  type TokenResponse,
} from './flow.js';

const ORDERS = 'https://orders.example';
const BILLING = 'https://billing.example/';
const BILLING_AUDIENCE = 'billing-api';

/** May exchange CLIENT's users' tokens. */
const GATEWAY: Client = {
  client_id: 'gateway',
  client_secret: 'gateway-secret-gateway-secret-gateway',
  redirect_uris: ['http://localhost:3001/auth/callback'],
  post_logout_redirect_uris: [],
  grant_types: ['authorization_code', TOKEN_EXCHANGE],
  token_exchange_subject_clients: [CLIENT.client_id],
};
/** Allowed the grant, but not for CLIENT's tokens. */
const STRANGER: Client = { ...GATEWAY, client_id: 'stranger', token_exchange_subject_clients: [] };
/** Not allowed the grant at all. */
const PLAIN: Client = { ...GATEWAY, client_id: 'plain', grant_types: ['authorization_code'] };

type FullDiscovery = Discovery & { jwks_uri: string; grant_types_supported: string[] };

let dev: DevProvider;
let discovery: FullDiscovery;

beforeAll(async () => {
  dev = await startDevProvider({
    quiet: true,
    clients: [{ ...CLIENT, grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] }, GATEWAY, STRANGER, PLAIN],
    resources: {
      [ORDERS]: { scope: 'orders:read orders:write' },
      [BILLING]: { scope: 'billing:read', audience: BILLING_AUDIENCE, accessTokenTtl: 120 },
    },
  });
  discovery = (await (await fetch(`${dev.issuer}/.well-known/openid-configuration`)).json()) as FullDiscovery;
});

afterAll(async () => {
  await dev?.close();
});

const isJwt = (token: string) => token.split('.').length === 3;

async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** A login naming both APIs and asking for some of their scopes; the code exchanged with `resource` when given. */
async function loginWithApis(username = 'alice', resource?: string, headers: Record<string, string> = {}): Promise<TokenResponse> {
  const grant = await signIn(discovery, username, {
    extra: { resource: [ORDERS, BILLING], scope: 'openid profile offline_access orders:read billing:read' },
  });
  const response = await exchangeCode(discovery, grant, headers, resource ? { resource } : {});
  expect(response.status, await response.clone().text()).toBe(200);
  return json<TokenResponse>(response);
}

function refresh(refreshToken: string, extra: Record<string, string> = {}): Promise<Response> {
  return tokenRequest(discovery, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

async function userinfoStatus(accessToken: string): Promise<number> {
  return (await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}

describe('access tokens per API (RFC 8707 resource indicators)', () => {
  it('gives a login that names no resource the opaque userinfo token, as before', async () => {
    const tokens = (await (await exchangeCode(discovery, await signIn(discovery, 'alice'))).json()) as TokenResponse;
    expect(isJwt(tokens.access_token)).toBe(false);
    expect(await userinfoStatus(tokens.access_token)).toBe(200);
    const refreshed = await json<TokenResponse>(await refresh(tokens.refresh_token));
    expect(isJwt(refreshed.access_token)).toBe(false);
    expect(await userinfoStatus(refreshed.access_token)).toBe(200);
    // no resource was granted: none can be asked for with the refresh token (RFC 8707 §2.2)
    const forOrders = await refresh(refreshed.refresh_token, { resource: ORDERS });
    expect(forOrders.status).toBe(400);
    expect(await forOrders.json()).toMatchObject({ error: 'invalid_target' });
  });

  it('issues a JWT for the API named at the code exchange: its aud, its scope, signed with the provider keys', async () => {
    const tokens = await loginWithApis('alice', ORDERS);
    const { header, payload } = await verifiedJwt(tokens.access_token, discovery);
    expect(header.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ iss: dev.issuer, aud: ORDERS, sub: 'alice', client_id: CLIENT.client_id, scope: 'orders:read' });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(3600);
    expect(tokens.token_type).toBe('Bearer');
    // a token for an API is not one for userinfo
    expect(await userinfoStatus(tokens.access_token)).toBe(401);
  });

  it('keeps the userinfo token at login and gives a token per API on refresh with resource (RFC 8707 §2.2)', async () => {
    const tokens = await loginWithApis();
    expect(isJwt(tokens.access_token)).toBe(false);
    expect(await userinfoStatus(tokens.access_token)).toBe(200);

    const orders = await json<TokenResponse>(await refresh(tokens.refresh_token, { resource: ORDERS }));
    expect((await verifiedJwt(orders.access_token, discovery)).payload).toMatchObject({ aud: ORDERS, scope: 'orders:read', sub: 'alice' });
    const billing = await json<TokenResponse & { scope: string }>(await refresh(orders.refresh_token, { resource: BILLING }));
    const billingClaims = (await verifiedJwt(billing.access_token, discovery)).payload;
    expect(billingClaims).toMatchObject({ aud: BILLING_AUDIENCE, scope: 'billing:read' });
    expect(billing.expires_in).toBe(120);
    expect(billing.scope).toBe('billing:read');

    const again = await json<TokenResponse>(await refresh(billing.refresh_token));
    expect(isJwt(again.access_token)).toBe(false);
    expect(await userinfoStatus(again.access_token)).toBe(200);

    // a scope the login did not ask for is not granted later
    const more = await refresh(again.refresh_token, { resource: ORDERS, scope: 'orders:write' });
    expect(more.status).toBe(400);
    expect(await more.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('binds an API token to the DPoP key of the token request', async () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tokens = await loginWithApis('bob', ORDERS, { dpop: dpopProof(keys, 'POST', discovery.token_endpoint) });
    expect(tokens.token_type).toBe('DPoP');
    expect((await verifiedJwt(tokens.access_token, discovery)).payload).toMatchObject({ aud: ORDERS, cnf: { jkt: jwkThumbprint(keys.publicKey) } });
    const refreshed = await json<TokenResponse>(
      await tokenRequest(
        discovery,
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, resource: BILLING },
        { headers: { dpop: dpopProof(keys, 'POST', discovery.token_endpoint) } },
      ),
    );
    expect((await verifiedJwt(refreshed.access_token, discovery)).payload).toMatchObject({ aud: BILLING_AUDIENCE, cnf: { jkt: jwkThumbprint(keys.publicKey) } });
  });

  it('refuses an authorization request for an API it does not know', async () => {
    const authorize = authorizationUrl(discovery, authorizationParams(pkce().challenge, { scope: 'openid', resource: 'https://unknown.example', state: 's' }));
    const back = location(await new Browser().get(authorize.href), dev.issuer);
    expect(back.searchParams.get('error')).toBe('invalid_target');
  });

  it('registers an API that starts after the provider (addResource), and refuses invalid ones', async () => {
    const api = `http://127.0.0.1:${40000 + (dev.port % 1000)}`;
    dev.addResource(api, { scope: 'late:read' });
    const grant = await signIn(discovery, 'alice', { extra: { resource: api, scope: 'openid late:read' } });
    const tokens = await json<TokenResponse>(await exchangeCode(discovery, grant, {}, { resource: api }));
    expect((await verifiedJwt(tokens.access_token, discovery)).payload).toMatchObject({ aud: api, scope: 'late:read' });

    expect(() => dev.addResource('not a url', { scope: 'x' })).toThrow(TypeError);
    expect(() => dev.addResource('https://api.example/#frag', { scope: 'x' })).toThrow(/fragment/);
    expect(() => dev.addResource('https://api.example', { scope: 'openid x' })).toThrow(/own scopes/);
    expect(() => dev.addResource('https://api.example', { scope: ' ' })).toThrow(/needs a scope/);
    await expect(startDevProvider({ quiet: true, clients: [], resources: { 'https://a.example': { scope: 'a', accessTokenTtl: 0 } } })).rejects.toThrow(/accessTokenTtl/);
  });
});

describe('token exchange (RFC 8693)', () => {
  function exchange(form: Record<string, string>, { client = CLIENT, headers = {} }: { client?: Client; headers?: Record<string, string> } = {}) {
    return tokenRequest(discovery, { grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN_TYPE, ...form }, { client, headers });
  }

  async function loginToken(username = 'alice', headers: Record<string, string> = {}): Promise<TokenResponse> {
    return json<TokenResponse>(await exchangeCode(discovery, await signIn(discovery, username), headers));
  }

  it('is advertised', () => {
    expect(discovery.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });

  it("exchanges the session's access token for a JWT for one API, with the scope asked for", async () => {
    const before = dev.count('grant.success', TOKEN_EXCHANGE);
    const { access_token: subject } = await loginToken();
    const response = await exchange({ subject_token: subject, resource: ORDERS, scope: 'orders:read' });
    expect(response.status).toBe(200);
    const body = await json<Record<string, unknown> & { access_token: string }>(response);
    expect(body).toMatchObject({ issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', scope: 'orders:read', expires_in: 3600 });
    expect(body).not.toHaveProperty('refresh_token');
    const { header, payload } = await verifiedJwt(body.access_token, discovery);
    expect(header.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ iss: dev.issuer, aud: ORDERS, sub: 'alice', client_id: CLIENT.client_id, scope: 'orders:read' });
    expect(dev.count('grant.success', TOKEN_EXCHANGE)).toBe(before + 1);
  });

  it('takes the audience instead of the resource, and all the API scopes when none is asked for', async () => {
    const { access_token: subject } = await loginToken('bob');
    const body = await json<{ access_token: string; scope: string; expires_in: number }>(await exchange({ subject_token: subject, audience: BILLING_AUDIENCE }));
    expect((await verifiedJwt(body.access_token, discovery)).payload).toMatchObject({ aud: BILLING_AUDIENCE, sub: 'bob', scope: 'billing:read' });
    expect(body.expires_in).toBe(120);
    const both = await exchange({ subject_token: subject, audience: BILLING_AUDIENCE, resource: BILLING });
    expect(both.status).toBe(200);
  });

  it("lets a client named in token_exchange_subject_clients exchange another client's token", async () => {
    const { access_token: subject } = await loginToken();
    const body = await json<{ access_token: string }>(await exchange({ subject_token: subject, resource: ORDERS }, { client: GATEWAY }));
    expect((await verifiedJwt(body.access_token, discovery)).payload).toMatchObject({ aud: ORDERS, sub: 'alice', client_id: GATEWAY.client_id, scope: 'orders:read orders:write' });
  });

  it('grants an added user with scopes only those, and refuses when none is left', async () => {
    dev.addUser({ sub: 'carol', name: 'Carol', email: 'carol@example.com', groups: [], scopes: ['openid', 'orders:read'] });
    const { access_token: subject } = await loginToken('carol');
    const body = await json<{ scope: string }>(await exchange({ subject_token: subject, resource: ORDERS }));
    expect(body.scope).toBe('orders:read');
    const none = await exchange({ subject_token: subject, resource: ORDERS, scope: 'orders:write' });
    expect(none.status).toBe(400);
    expect(await none.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('keeps a DPoP-bound subject bound: the proof must be signed with its key, and the new token is bound to it', async () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { access_token: subject } = await loginToken('alice', { dpop: dpopProof(keys, 'POST', discovery.token_endpoint) });

    const unproven = await exchange({ subject_token: subject, resource: ORDERS });
    expect(unproven.status).toBe(400);
    expect(await unproven.json()).toMatchObject({ error: 'invalid_request' });
    const wrongKey = await exchange({ subject_token: subject, resource: ORDERS }, { headers: { dpop: dpopProof(other, 'POST', discovery.token_endpoint) } });
    expect(wrongKey.status).toBe(400);
    expect(await wrongKey.json()).toMatchObject({ error: 'invalid_request' });

    const proven = await exchange({ subject_token: subject, resource: ORDERS }, { headers: { dpop: dpopProof(keys, 'POST', discovery.token_endpoint) } });
    expect(proven.status).toBe(200);
    const body = await json<{ access_token: string; token_type: string }>(proven);
    expect(body.token_type).toBe('DPoP');
    expect((await verifiedJwt(body.access_token, discovery)).payload).toMatchObject({ cnf: { jkt: jwkThumbprint(keys.publicKey) } });
  });

  describe('refuses', () => {
    let subject: string;
    let refreshToken: string;

    beforeAll(async () => {
      ({ access_token: subject, refresh_token: refreshToken } = await loginToken());
    });

    it.each([
      ['another subject_token_type', () => ({ subject_token: subject, resource: ORDERS, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), 'invalid_request'],
      ['no subject_token', () => ({ resource: ORDERS }), 'invalid_request'],
      ['a token it never issued', () => ({ subject_token: 'not-a-token-of-this-provider', resource: ORDERS }), 'invalid_request'],
      ['a refresh token as an access token', () => ({ subject_token: refreshToken, resource: ORDERS }), 'invalid_request'],
      ['an actor token', () => ({ subject_token: subject, resource: ORDERS, actor_token: subject, actor_token_type: ACCESS_TOKEN_TYPE }), 'invalid_request'],
      ['another requested_token_type', () => ({ subject_token: subject, resource: ORDERS, requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), 'invalid_request'],
      ['no resource nor audience', () => ({ subject_token: subject }), 'invalid_request'],
      ['an unknown resource', () => ({ subject_token: subject, resource: 'https://unknown.example' }), 'invalid_target'],
      ['an unknown audience', () => ({ subject_token: subject, audience: 'unknown-api' }), 'invalid_target'],
      ['a resource and an audience of different APIs', () => ({ subject_token: subject, resource: ORDERS, audience: BILLING_AUDIENCE }), 'invalid_target'],
      ['a scope the API does not define', () => ({ subject_token: subject, resource: ORDERS, scope: 'orders:read billing:read' }), 'invalid_scope'],
      ["the provider's own scopes", () => ({ subject_token: subject, resource: ORDERS, scope: 'openid' }), 'invalid_scope'],
    ])('%s', async (_what, form, error) => {
      const response = await exchange(form() as Record<string, string>);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error });
    });

    it('a client that may not exchange the subject client tokens', async () => {
      const response = await exchange({ subject_token: subject, resource: ORDERS }, { client: STRANGER });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/another client/) });
    });

    it('a client not allowed the grant', async () => {
      const response = await exchange({ subject_token: subject, resource: ORDERS }, { client: PLAIN });
      expect(response.status).toBe(400);
      // oidc-provider's own answer for a grant type the client is not registered for
      expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/grant type is not allowed/) });
    });

    it('a revoked subject token, and one whose grant has ended', async () => {
      const { access_token: revoked } = await loginToken('bob');
      await fetch(discovery.revocation_endpoint, {
        method: 'POST',
        headers: { authorization: basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: revoked, token_type_hint: 'access_token' }),
      });
      expect((await (await exchange({ subject_token: revoked, resource: ORDERS })).json()) as object).toMatchObject({ error: 'invalid_request' });

      dev.addUser({ sub: 'dave', name: 'Dave', email: 'dave@example.com', groups: [] });
      const { access_token: ended } = await loginToken('dave');
      expect(dev.revokeGrants('dave')).toBeGreaterThan(0);
      expect((await (await exchange({ subject_token: ended, resource: ORDERS })).json()) as object).toMatchObject({ error: 'invalid_request' });
    });

    it('an expired subject token', async () => {
      dev.addUser({ sub: 'erin', name: 'Erin', email: 'erin@example.com', groups: [], accessTokenTtl: 1 });
      const { access_token: expiring } = await loginToken('erin');
      const deadline = Date.now() + 5000;
      while ((await userinfoStatus(expiring)) === 200) {
        expect(Date.now(), 'the 1 s token never expired').toBeLessThan(deadline);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const response = await exchange({ subject_token: expiring, resource: ORDERS });
      expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    });
  });
});
