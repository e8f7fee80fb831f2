import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import {
  isLoopbackHost,
  startDemoIfUnconfigured,
  startDevProvider,
  users,
  type DevProvider,
} from '../dist/index.js';
import {
  Browser,
  CLIENT,
  basicAuth,
  dpopProof,
  exchangeCode,
  jwtPayload,
  location,
  pkce,
  signIn,
  startLogin,
  tokenRequest,
  type Discovery,
  type TokenResponse,
} from './flow.js';

describe('dev provider', () => {
  let dev: DevProvider;
  let discovery: Discovery;

  beforeAll(async () => {
    dev = await startDevProvider({ clients: [CLIENT], quiet: true });
    discovery = (await (await fetch(`${dev.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
  });

  afterAll(async () => {
    await dev?.close();
  });

  it('publishes the discovery document of a loopback issuer', () => {
    expect(dev.issuer).toBe(`http://127.0.0.1:${dev.port}`);
    expect(discovery.issuer).toBe(dev.issuer);
    expect(discovery.end_session_endpoint).toBe(`${dev.issuer}/session/end`);
    expect(discovery.revocation_endpoint).toBe(`${dev.issuer}/token/revocation`);
    expect(discovery.pushed_authorization_request_endpoint).toBe(`${dev.issuer}/request`);
    expect(discovery.dpop_signing_alg_values_supported).toContain('ES256');
    expect(discovery.authorization_response_iss_parameter_supported).toBe(true);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
  });

  it('runs the authorization code flow with PKCE, userinfo, refresh, revocation and logout', async () => {
    const browser = new Browser();
    const { verifier, challenge } = pkce();
    const loginUrl = await startLogin(browser, discovery, challenge, 'state-1');

    const page = await browser.get(loginUrl.href);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('codegrant dev provider');
    expect(html).toContain('id="username"');
    expect(html).toContain('id="login"');
    expect(html).toContain('type="password"');
    expect(html).toMatch(/development and tests only/i);

    const submitted = await browser.postForm(loginUrl.href, { username: 'alice', password: 'anything' });
    expect(submitted.status).toBe(303);
    const resumed = await browser.get(location(submitted, dev.issuer).href);
    expect(resumed.status).toBe(303);
    const callback = location(resumed, dev.issuer);
    expect(`${callback.origin}${callback.pathname}`).toBe(CLIENT.redirect_uris[0]);
    expect(callback.searchParams.get('state')).toBe('state-1');
    expect(callback.searchParams.get('iss')).toBe(dev.issuer);
    const code = callback.searchParams.get('code');
    expect(code).toBeTruthy();

    const exchanged = await tokenRequest(discovery, {
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: CLIENT.redirect_uris[0] ?? '',
      code_verifier: verifier,
    });
    expect(exchanged.status).toBe(200);
    const tokens = (await exchanged.json()) as TokenResponse;
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    const claims = jwtPayload(tokens.id_token);
    expect(claims).toMatchObject({
      iss: dev.issuer,
      aud: CLIENT.client_id,
      sub: 'alice',
      nonce: 'n-0S6_WzA2Mj',
      groups: ['admin'],
      name: 'Alice Example',
      email: 'alice@example.com',
    });
    expect(dev.count('grant.success', 'authorization_code')).toBe(1);

    const userinfo = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toMatchObject({ sub: 'alice', groups: ['admin'], email_verified: true });
    expect(dev.count('userinfo.success')).toBe(1);

    const refreshed = await tokenRequest(discovery, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
    const rotated = (await refreshed.json()) as TokenResponse;
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect(jwtPayload(rotated.id_token)).toMatchObject({ sub: 'alice', groups: ['admin'] });
    expect(dev.count('grant.success', 'refresh_token')).toBe(1);

    const revoked = await fetch(discovery.revocation_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: rotated.refresh_token, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    expect(dev.events).toContainEqual(
      expect.objectContaining({ name: 'revocation.success', tokenType: 'refresh_token', clientId: CLIENT.client_id }),
    );
    const afterRevocation = await tokenRequest(discovery, { grant_type: 'refresh_token', refresh_token: rotated.refresh_token });
    expect(afterRevocation.status).toBe(400);
    expect(await afterRevocation.json()).toMatchObject({ error: 'invalid_grant' });
    expect(dev.count('grant.error', 'refresh_token')).toBe(1);

    // No event carries a token value.
    const logged = JSON.stringify(dev.events);
    for (const value of [code, tokens.access_token, tokens.refresh_token, tokens.id_token, rotated.refresh_token]) {
      expect(logged).not.toContain(value);
    }

    // RP-initiated logout: the confirmation page submits itself, so the browser lands on post_logout_redirect_uri.
    const endSession = new URL(discovery.end_session_endpoint);
    endSession.search = new URLSearchParams({
      id_token_hint: rotated.id_token,
      post_logout_redirect_uri: CLIENT.post_logout_redirect_uris[0] ?? '',
      state: 'bye',
    }).toString();
    const confirmPage = await browser.get(endSession.href);
    expect(confirmPage.status).toBe(200);
    const confirmHtml = await confirmPage.text();
    expect(confirmHtml).toContain("document.getElementById('logout').click();");
    expect(confirmPage.headers.get('content-security-policy')).toContain("script-src 'sha256-");
    const action = /action="([^"]+)"/.exec(confirmHtml)?.[1] ?? '';
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirmHtml)?.[1] ?? '';
    const loggedOut = await browser.postForm(new URL(action, dev.issuer).href, { xsrf, logout: 'yes' });
    expect(loggedOut.status).toBe(303);
    expect(location(loggedOut, dev.issuer).href).toBe(`${CLIENT.post_logout_redirect_uris[0]}?state=bye`);
    expect(dev.count('end_session.success')).toBe(1);
  });

  it('accepts pushed authorization requests and binds tokens with DPoP', async () => {
    const grant = await signIn(discovery, 'bob', { par: true });
    expect(dev.count('pushed_authorization_request.success')).toBe(1);
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const exchanged = await exchangeCode(discovery, grant, { dpop: dpopProof(keys, 'POST', discovery.token_endpoint) });
    expect(exchanged.status).toBe(200);
    const tokens = (await exchanged.json()) as TokenResponse;
    expect(tokens.token_type).toBe('DPoP');
    expect(jwtPayload(tokens.id_token)).toMatchObject({ sub: 'bob', groups: [] });

    const withProof = await fetch(discovery.userinfo_endpoint, {
      headers: {
        authorization: `DPoP ${tokens.access_token}`,
        dpop: dpopProof(keys, 'GET', discovery.userinfo_endpoint, tokens.access_token),
      },
    });
    expect(withProof.status).toBe(200);
    expect(await withProof.json()).toMatchObject({ sub: 'bob', name: 'Bob Example' });
    const asBearer = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
  });

  it('grants consent by itself when the client asks for prompt=consent', async () => {
    const interactions = dev.count('interaction.started');
    const grant = await signIn(discovery, 'alice', { extra: { prompt: 'consent' } });
    // login, then the consent prompt, which the login page route grants without showing anything
    expect(dev.count('interaction.started') - interactions).toBe(2);
    const exchanged = await exchangeCode(discovery, grant);
    expect(exchanged.status).toBe(200);
    expect(jwtPayload(((await exchanged.json()) as TokenResponse).id_token)).toMatchObject({ sub: 'alice', groups: ['admin'] });
  });

  it('sets its cookies without Secure over http, HttpOnly and SameSite=Lax', async () => {
    const browser = new Browser();
    const response = await fetch(
      `${discovery.authorization_endpoint}?${new URLSearchParams({
        client_id: CLIENT.client_id,
        redirect_uri: CLIENT.redirect_uris[0] ?? '',
        response_type: 'code',
        scope: 'openid',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      })}`,
      { redirect: 'manual' },
    );
    browser.jar.store(response);
    const cookies = response.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie.toLowerCase()).not.toContain('secure');
      expect(cookie.toLowerCase()).toContain('httponly');
      expect(cookie.toLowerCase()).toContain('samesite=lax');
    }
  });

  it('requires PKCE', async () => {
    const response = await fetch(
      `${discovery.authorization_endpoint}?${new URLSearchParams({
        client_id: CLIENT.client_id,
        redirect_uri: CLIENT.redirect_uris[0] ?? '',
        response_type: 'code',
        scope: 'openid',
        state: 's',
      })}`,
      { redirect: 'manual' },
    );
    expect(response.status).toBe(303);
    const callback = location(response, dev.issuer);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(dev.count('authorization.error')).toBeGreaterThanOrEqual(1);
  });

  it('shows an accessible login page: labelled inputs, the scopes asked for, the test users and what each has', async () => {
    const browser = new Browser();
    const loginUrl = await startLogin(browser, discovery, pkce().challenge, 'state-users');
    const html = await (await browser.get(loginUrl.href)).text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<label for="username">');
    expect(html).toContain('<label for="password">');
    expect(html).toMatch(/It asks for <code>openid<\/code> <code>profile<\/code> <code>email<\/code>/);
    expect(html).toMatch(/<code>alice<\/code><\/th><td>Alice Example<br><small>alice@example.com<\/small><\/td><td>group <code>admin<\/code><\/td>/);
    expect(html).toMatch(/<code>bob<\/code><\/th><td>Bob Example<br><small>bob@example.com<\/small><\/td><td>no groups<\/td>/);
    expect(html).toContain('aria-label="Sign in as bob"');
  });

  it('signs a test user in with the one-click form (the user name only)', async () => {
    const browser = new Browser();
    const loginUrl = await startLogin(browser, discovery, pkce().challenge, 'state-quick');
    const submitted = await browser.postForm(loginUrl.href, { username: 'bob' });
    expect(submitted.status).toBe(303);
    const callback = location(await browser.get(location(submitted, dev.issuer).href), dev.issuer);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBe('state-quick');
  });

  it('answers an unknown user with 400 and the form again, escaped', async () => {
    const browser = new Browser();
    const loginUrl = await startLogin(browser, discovery, pkce().challenge, 'state-2');
    const response = await browser.postForm(loginUrl.href, { username: '<mallory>', password: 'x' });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('Unknown user');
    expect(html).toContain('&lt;mallory&gt;');
    expect(html).not.toContain('<mallory>');
    expect(html).toContain('id="username"');
    // the error is announced and tied to the field
    expect(html).toContain('role="alert" id="login-error"');
    expect(html).toContain('aria-invalid="true" aria-describedby="login-error"');
  });

  it('returns access_denied to the client when the user cancels', async () => {
    const browser = new Browser();
    const loginUrl = await startLogin(browser, discovery, pkce().challenge, 'state-3');
    const cancelled = await browser.postForm(loginUrl.href, { action: 'cancel' });
    expect(cancelled.status).toBe(303);
    const resumed = await browser.get(location(cancelled, dev.issuer).href);
    const callback = location(resumed, dev.issuer);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('state-3');
  });

  it('answers a login page without its interaction cookie with 400, not a crash', async () => {
    const response = await fetch(`${dev.issuer}/interaction/does-not-exist`);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/expired or its cookie is missing/);
    const tooBig = await fetch(`${dev.issuer}/interaction/does-not-exist`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=${'a'.repeat(10_000)}`,
    });
    expect(tooBig.status).toBe(413);
  });
});

describe('token lifetimes', () => {
  it('rejects an access token as soon as accessTokenTtl has passed (no clock tolerance)', async () => {
    const dev = await startDevProvider({ clients: [CLIENT], quiet: true, accessTokenTtl: 1, idTokenTtl: 60 });
    try {
      const discovery = (await (await fetch(`${dev.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
      const tokens = (await (await exchangeCode(discovery, await signIn(discovery, 'alice'))).json()) as TokenResponse;
      expect(tokens.expires_in).toBe(1);
      const idToken = jwtPayload(tokens.id_token);
      expect(Number(idToken.exp) - Number(idToken.iat)).toBe(60);
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const userinfo = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(userinfo.status).toBe(401);
    } finally {
      await dev.close();
    }
  });

  it('rejects invalid lifetimes and ports', async () => {
    await expect(startDevProvider({ clients: [CLIENT], quiet: true, accessTokenTtl: 0 })).rejects.toThrow(RangeError);
    await expect(startDevProvider({ clients: [CLIENT], quiet: true, port: 70000 })).rejects.toThrow(RangeError);
  });
});

describe('loopback only', () => {
  it.each(['0.0.0.0', '::', '192.168.1.10', 'example.com', '10.0.0.1'])('refuses to bind to %s', async (host) => {
    await expect(startDevProvider({ host, clients: [CLIENT], quiet: true })).rejects.toThrow(/loopback/);
  });

  it('accepts the loopback names and addresses', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopbackHost(host)).toBe(true);
  });

  it('can listen on another loopback address', async () => {
    const dev = await startDevProvider({ host: '127.0.0.2', clients: [CLIENT], quiet: true });
    try {
      expect(dev.issuer).toBe(`http://127.0.0.2:${dev.port}`);
      expect((await fetch(`${dev.issuer}/.well-known/openid-configuration`)).status).toBe(200);
    } finally {
      await dev.close();
    }
  });
});

describe('users', () => {
  it('has alice (admin) and bob', () => {
    expect(users.alice).toEqual({ sub: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['admin'] });
    expect(users.bob).toEqual({ sub: 'bob', name: 'Bob Example', email: 'bob@example.com', groups: [] });
  });
});

describe('startDemoIfUnconfigured', () => {
  it('does nothing when a real provider is configured', async () => {
    expect(await startDemoIfUnconfigured({ OAUTH_ISSUER: 'https://login.example.com' }, 3000)).toBeUndefined();
    expect(await startDemoIfUnconfigured({ ISSUER_BASE_URL: 'https://login.example.com' }, 3000)).toBeUndefined();
    expect(
      await startDemoIfUnconfigured(
        { OAUTH_AUTHORIZATION_ENDPOINT: 'https://gh.example/authorize', OAUTH_TOKEN_ENDPOINT: 'https://gh.example/token' },
        3000,
      ),
    ).toBeUndefined();
  });

  it('starts a dev provider with the demo client otherwise', async () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {});
    const demo = await startDemoIfUnconfigured({ OAUTH_AUTHORIZATION_ENDPOINT: 'https://only-one.example/authorize' }, 3456);
    const printed = stderr.mock.calls.flat().join('\n');
    stderr.mockRestore();
    expect(demo).toBeDefined();
    if (!demo) return;
    try {
      expect(printed).toMatch(/DEVELOPMENT SETUP/);
      expect(printed).toContain(demo.provider.issuer);
      expect(printed).toMatch(/do not use in production/i);
      const { options } = demo;
      expect(options.issuer).toBe(demo.provider.issuer);
      expect(options.clientId).toBe('codegrant-demo');
      expect(options.baseUrl).toBe('http://localhost:3456');
      expect(options.clientSecret.length).toBeGreaterThanOrEqual(32);
      expect(options.cookieSecret.length).toBeGreaterThanOrEqual(32);

      const authorize = new URL(`${options.issuer}/auth`);
      authorize.search = new URLSearchParams({
        client_id: options.clientId,
        redirect_uri: 'http://localhost:3456/auth/callback',
        response_type: 'code',
        scope: 'openid profile',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      }).toString();
      const response = await fetch(authorize, { redirect: 'manual' });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toMatch(/^\/interaction\//);
    } finally {
      await demo.close();
    }
  });
});

describe('command line', () => {
  it('prints the issuer and credentials and stops on SIGTERM', async () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const child = spawn(process.execPath, [cli, '--port', '0', '--client-secret', 'cli-secret'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stdout = '';
      child.stdout.setEncoding('utf8');
      const issuer = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          stdout += chunk;
          const match = /OAUTH_ISSUER=(\S+)/.exec(stdout);
          if (match?.[1] && stdout.includes('OAUTH_CLIENT_SECRET=')) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${String(code)}`)));
      });
      expect(stdout).toContain('OAUTH_CLIENT_ID=codegrant-demo');
      expect(stdout).toContain('OAUTH_CLIENT_SECRET=cli-secret');
      expect((await fetch(`${issuer}/.well-known/openid-configuration`)).status).toBe(200);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
