import { createPrivateKey, randomBytes, sign, type JsonWebKey } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { buildConfiguration, type DevClient } from './configuration.js';
import { EventLog, type DevProviderEvent } from './events.js';
import { handleInteraction, interactionUid } from './interactions.js';
import { generateSigningKeys, randomSecret } from './keys.js';
import { interactionPolicy } from './acr.js';
import { loadGrantHelpers, loadInteractionPolicy, loadKeyInstaller, loadProviderClass, loadProviderErrors } from './load-provider.js';
import { assertLoopbackHost, urlHost } from './loopback.js';
import { MemoryStore } from './memory-adapter.js';
import { startMtlsSide, type DevMtls, type MtlsSide } from './mtls.js';
import type { CertificateAndKey } from './certificates.js';
import { checkResource, type DevResource, type DevResources } from './resources.js';
import { registerTokenExchange } from './token-exchange.js';
import { framed, warnOnce } from './notices.js';
import { FRONTCHANNEL_DISCOVERY, serveFrontchannelLogout } from './frontchannel.js';
import type { OidcKoaContext, OidcMiddleware, OidcProvider } from './oidc-types.js';
import { users, type AddedUser, type AddedUsers, type ClaimOverrides } from './users.js';

export interface DevProviderOptions {
  /** 0 or undefined: a free port. */
  port?: number;
  /** Default '127.0.0.1'. Anything but 127.0.0.0/8, ::1 or 'localhost' throws. */
  host?: string;
  /** grant_types default to ['authorization_code', 'refresh_token'], response_types to ['code']. */
  clients: DevClient[];
  /** Seconds, default 3600. */
  accessTokenTtl?: number;
  /** Seconds, default 3600. */
  idTokenTtl?: number;
  /** More claim names released with the `profile` scope, for users' own claims (e.g. `roles`). */
  profileClaims?: string[];
  /** Suppresses the banner and the development-only warning (tests). */
  quiet?: boolean;
  /**
   * Accept a `private_key_jwt` client assertion only when its `aud` is this one string: the
   * `issuer`, or the URL of the `endpoint` it is sent to. Default: whatever oidc-provider accepts
   * (either, or an array holding one).
   */
  clientAssertionAudience?: 'issuer' | 'endpoint';
  /**
   * Act as a FAPI 2.0 provider (oidc-provider's `fapi` feature, profile '2.0'): PKCE required,
   * the issuer as client assertion audience, `iss` in authorization responses, ES256 ID tokens.
   * Per client, register `require_pushed_authorization_requests`, `dpop_bound_access_tokens`
   * and `token_endpoint_auth_method: 'private_key_jwt'` to force PAR, DPoP and signed assertions.
   */
  fapi2?: boolean;
  /** Require DPoP nonces (RFC 9449 §8) at the token endpoint and at userinfo. */
  dpopNonce?: boolean;
  /** Default true; false: a provider without DPoP, whose tokens are always Bearer. */
  dpop?: boolean;
  /**
   * The APIs (resource servers, RFC 8707) it issues JWT access tokens for, by resource indicator,
   * e.g. `{ 'http://127.0.0.1:4001': { scope: 'orders:read orders:write' } }`. A client that names
   * one at login (`resource`) can get a token for it at the code exchange, with a refresh token
   * (RFC 8707 §2.2) or by token exchange (RFC 8693); a client that names none gets the opaque
   * userinfo token as before. APIs whose port is known only once they listen: `addResource`.
   */
  resources?: Record<string, DevResource>;
  /**
   * Changes to the discovery document (a member set to `undefined` is removed): for testing
   * clients against providers that advertise less, e.g. no `authorization_response_iss_parameter_supported`.
   */
  discovery?: Record<string, unknown>;
  /**
   * Mutual TLS (RFC 8705): a second listener, HTTPS on the same host with a certificate of a CA
   * made for this run (`mtls.ca`), asking clients for their certificate; the discovery document
   * names its token, PAR, revocation, userinfo and introspection endpoints as
   * `mtls_endpoint_aliases`. Clients may register `tls_client_auth` (with
   * `tls_client_auth_subject_dn`, a certificate from `mtls.issueClientCertificate`),
   * `self_signed_tls_client_auth` (the certificate in `jwks` `x5c`) and
   * `tls_client_certificate_bound_access_tokens`. `{ ca }`: this CA instead of one made here (for
   * clients whose certificates it signed before the provider starts). Needs the openssl binary.
   */
  mtls?: boolean | { ca: CertificateAndKey };
}

export interface DevProvider {
  /** e.g. 'http://127.0.0.1:53123' (no trailing slash). */
  readonly issuer: string;
  readonly port: number;
  /** With the `mtls` option: the mutual-TLS listener's origin, its CA, client certificates. */
  readonly mtls: DevMtls | undefined;
  /** The oidc-provider instance. */
  readonly provider: OidcProvider;
  /** Append-only log of oidc-provider events (see RECORDED_EVENTS); never holds token values. */
  readonly events: readonly DevProviderEvent[];
  /** How many events of that name (and grant type, when given) were recorded, e.g. count('grant.success', 'refresh_token'). */
  count(name: string, grantType?: string): number;
  /**
   * Claims that override (or add to) a test user's own from now on, e.g. 300 `groups`; `{}`
   * restores the user's own claims. `session_expiry` (seconds since the epoch, OpenID IPSIE SL1:
   * when the RP's session must end) goes into the ID tokens issued from then on.
   */
  setExtraClaims(accountId: string, claims: Record<string, unknown>): void;
  /**
   * Adds (or replaces) a user who can sign in on this provider only: any `sub`, with its own
   * claims, granted scopes (`scopes`: only these of the requested ones) and access token lifetime.
   */
  addUser(user: AddedUser): void;
  /**
   * Registers (or replaces) an API from now on, as the `resources` option does: for APIs that
   * start after the provider, on a port known only then. Throws a TypeError for an invalid one.
   */
  addResource(indicator: string, resource: DevResource): void;
  /** Revokes every grant (and so every token) of an account, as an admin would; returns how many. */
  revokeGrants(accountId: string): number;
  /**
   * Runs `middleware` (Koa-style) around every oidc-provider request from now on, e.g. to hold a
   * token response while a test acts; returns a function that removes it. For tests.
   */
  intercept(middleware: Interceptor): () => void;
  /**
   * Signs `claims` with this provider's own key (RS256, or ES256 with `header.alg`), `typ`
   * `logout+jwt` unless given: for tests that need a token the provider could have signed with
   * chosen claims, e.g. a logout token carrying a `nonce`. For tests.
   */
  signJwt(claims: Record<string, unknown>, header?: { alg?: 'RS256' | 'ES256'; typ?: string }): string;
  /**
   * Rotates the signing keys now, as a provider does (OpenID Connect Core §10.1.1): new keys (new
   * `kid`s) sign from now on and the JWKS publishes only them. Sessions and grants stay. Returns
   * the new keys' `kid`s.
   */
  rotateKeys(): Promise<string[]>;
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

export type Interceptor = (ctx: OidcKoaContext, next: () => Promise<void>) => Promise<void>;

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_TTL = 3600;

interface Settings {
  port: number;
  host: string;
  accessTokenTtl: number;
  idTokenTtl: number;
}

/** Starts an OpenID Provider on loopback, for development and tests only. */
export async function startDevProvider(options: DevProviderOptions): Promise<DevProvider> {
  const settings = checkOptions(options);
  const resources: DevResources = new Map(Object.entries(options.resources ?? {}).map(([indicator, resource]) => [indicator, checkResource(indicator, resource)]));
  if (!options.quiet) warnOnce();
  const [Provider, errors, initialKeys, policies, grantHelpers, installKeys] = await Promise.all([
    loadProviderClass(),
    loadProviderErrors(),
    generateSigningKeys(),
    loadInteractionPolicy(),
    loadGrantHelpers(),
    loadKeyInstaller(),
  ]);
  let jwks = initialKeys;
  const server = createServer();
  await listen(server, settings.port, settings.host);
  let tls: MtlsSide | undefined;
  try {
    if (options.mtls) tls = await startMtlsSide(settings.host, options.mtls === true ? undefined : options.mtls.ca);
    const port = (server.address() as AddressInfo).port;
    const issuer = `http://${urlHost(settings.host)}:${port}`;
    const store = new MemoryStore();
    const overrides: ClaimOverrides = new Map();
    const added: AddedUsers = new Map();
    const configuration = buildConfiguration({
      ...settings,
      clients: options.clients,
      jwks,
      cookieKeys: [randomSecret()],
      store,
      overrides,
      added,
      resources,
      ...(options.profileClaims ? { profileClaims: options.profileClaims } : {}),
      errors,
      policy: interactionPolicy(policies),
      ...(options.clientAssertionAudience ? { clientAssertionAudience: options.clientAssertionAudience } : {}),
      ...(options.fapi2 ? { fapi2: true } : {}),
      ...(options.dpopNonce ? { dpopNonceSecret: randomBytes(32) } : {}),
      ...(options.dpop === false ? { dpop: false } : {}),
      ...(tls ? { mtls: tls.feature } : {}),
    });
    const provider = new Provider(issuer, configuration);
    registerTokenExchange({ provider, resources, added, errors, helpers: grantHelpers });
    const log = new EventLog();
    const detach = log.attach(provider);
    provider.use(serveFrontchannelLogout(provider));
    if (tls) provider.use(tls.aliases);
    provider.use(rewriteDiscovery({ ...FRONTCHANNEL_DISCOVERY, ...options.discovery }));
    const interceptors = new Set<Interceptor>();
    provider.use(async (ctx, next) => {
      const chain = [...interceptors];
      const run = async (index: number): Promise<void> => (index < chain.length ? chain[index]!(ctx, () => run(index + 1)) : next());
      await run(0);
    });
    const listener = requestListener(provider, added);
    server.on('request', listener);
    tls?.server.on('request', listener);
    if (!options.quiet) console.error(banner(issuer, options.clients));
    return {
      issuer,
      port,
      mtls: tls?.mtls,
      provider,
      events: log.events,
      count: (name, grantType) => log.count(name, grantType),
      setExtraClaims: (accountId, claims) => void overrides.set(accountId, { ...claims }),
      addUser: (user) => void added.set(user.sub, { ...user, groups: [...user.groups] }),
      addResource: (indicator, resource) => void resources.set(indicator, checkResource(indicator, resource)),
      revokeGrants: (accountId) => store.revokeAccount(accountId),
      signJwt: (claims, header) => signJwt(jwks.keys, claims, header),
      rotateKeys: async () => {
        const next = await generateSigningKeys();
        installKeys(provider, next);
        jwks = next;
        return next.keys.map((key) => String(key.kid));
      },
      intercept: (middleware) => {
        interceptors.add(middleware);
        return () => void interceptors.delete(middleware);
      },
      close: once(async () => {
        await Promise.all([closeServer(server), tls && closeServer(tls.server)]);
        detach();
        store.clear();
      }),
    };
  } catch (error) {
    await Promise.all([closeServer(server), tls && closeServer(tls.server)]);
    throw error;
  }
}

function signJwt(keys: Record<string, unknown>[], claims: Record<string, unknown>, header: { alg?: 'RS256' | 'ES256'; typ?: string } = {}): string {
  const alg = header.alg ?? 'RS256';
  const jwk = keys.find((key) => key.alg === alg)!;
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg, kid: jwk.kid, typ: header.typ ?? 'logout+jwt' })}.${encode(claims)}`;
  const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

function rewriteDiscovery(changes: Record<string, unknown>): OidcMiddleware {
  return async (ctx, next) => {
    await next();
    if (ctx.path !== '/.well-known/openid-configuration' || typeof ctx.body !== 'object' || ctx.body === null) return;
    const body = ctx.body as Record<string, unknown>;
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) delete body[name];
      else body[name] = value;
    }
  };
}

function checkOptions(options: DevProviderOptions): Settings {
  if (!options || !Array.isArray(options.clients)) {
    throw new TypeError('codegrant dev provider: options.clients must be an array of client metadata');
  }
  const host = options.host ?? DEFAULT_HOST;
  assertLoopbackHost(host);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`codegrant dev provider: port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  return {
    host,
    port,
    accessTokenTtl: checkTtl('accessTokenTtl', options.accessTokenTtl),
    idTokenTtl: checkTtl('idTokenTtl', options.idTokenTtl),
  };
}

function checkTtl(name: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_TTL;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`codegrant dev provider: ${name} must be a whole number of seconds >= 1, got ${String(value)}`);
  }
  return value;
}

/** Our login page for /interaction/:uid, oidc-provider for everything else. */
function requestListener(provider: OidcProvider, added: AddedUsers): RequestListener {
  const callback = provider.callback();
  return (req, res) => {
    const uid = interactionUid(req.url);
    if (uid === undefined) {
      void callback(req, res);
    } else {
      void handleInteraction(provider, req, res, uid, added);
    }
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes promptly: idle keep-alive connections (a browser's, fetch's) would otherwise hold close() open. */
function closeServer(server: Server | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}

function banner(issuer: string, clients: DevClient[]): string {
  const userList = Object.values(users)
    .map((user) => (user.groups.length ? `${user.sub} (${user.groups.join(', ')})` : user.sub))
    .join(', ');
  const clientList = clients.map((client) => client.client_id).join(', ') || '(none)';
  return framed([
    `codegrant dev provider listening at ${issuer}`,
    `users: ${userList}; any password`,
    `clients: ${clientList}`,
  ]);
}
