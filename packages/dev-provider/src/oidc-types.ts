/**
 * oidc-provider ships no type declarations (and @types/oidc-provider is not a
 * dependency), so this file describes the part of its surface that the dev
 * provider uses and that tests are likely to reach for. It is deliberately
 * partial: anything not listed here is still there at run time.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type UnknownObject = Record<string, unknown>;

/** A client as oidc-provider models it (only the fields the dev provider reads). */
export interface OidcClient {
  clientId: string;
  applicationType?: string;
  clientAuthMethod?: string;
  redirectUris: string[];
  grantTypeAllowed(grantType: string): boolean;
  metadata(): UnknownObject;
}

export interface OidcGrant {
  jti?: string;
  accountId?: string;
  clientId?: string;
  addOIDCScope(scope: string | string[] | Set<string>): void;
  rejectOIDCScope(scope: string | string[] | Set<string>): void;
  addOIDCClaims(claims: string[] | Set<string>): void;
  addResourceScope(resource: string, scope: string | string[] | Set<string>): void;
  rejectResourceScope(resource: string, scope: string | string[] | Set<string>): void;
  readonly isExpired?: boolean;
  save(ttl?: number): Promise<string>;
}

export interface OidcGrantClass {
  new (properties: { accountId: string; clientId: string }): OidcGrant;
  find(id: string): Promise<OidcGrant | undefined>;
}

/** A stored artefact (token, code, session...) as returned by `Model.find`. */
export interface OidcModel extends UnknownObject {
  jti?: string;
  kind?: string;
  clientId?: string;
  accountId?: string;
  grantId?: string;
}

export interface OidcModelClass {
  find(id: string, options?: { ignoreExpiration?: boolean }): Promise<OidcModel | undefined>;
}

/** An access token being issued (oidc-provider's AccessToken model). */
export interface OidcAccessToken {
  scope?: string;
  resourceServer?: unknown;
  readonly expiration: number;
  readonly tokenType: string;
  setThumbprint(kind: 'jkt', thumbprint: string): void;
  /** Stores (opaque) or signs (JWT) the token; resolves to its value. */
  save(): Promise<string>;
}

export interface OidcAccessTokenClass extends OidcModelClass {
  new (properties: UnknownObject & { client: OidcClient }): OidcAccessToken;
}

/** A DPoP proof oidc-provider has validated. */
export interface OidcDpopProof {
  thumbprint: string;
  jti: string;
}

export interface OidcClientClass {
  find(id: string): Promise<OidcClient | undefined>;
}

export interface OidcInteraction {
  uid: string;
  exp?: number;
  prompt: { name: string; reasons: string[]; details: UnknownObject };
  params: UnknownObject;
  session?: { accountId: string; uid?: string };
  grantId?: string;
  returnTo?: string;
}

/** `ctx.oidc`, the per-request context oidc-provider puts on its Koa context. */
export interface OidcContext {
  readonly route?: string;
  readonly params?: UnknownObject;
  readonly client?: OidcClient;
  readonly account?: { accountId: string };
  /** The browser's session at the provider: its account, and per client it signed in to, that client's `sid`. */
  readonly session?: {
    accountId?: string;
    acr?: string;
    /** By client id: each client the session signed in to (oidc-provider's per-client records). */
    authorizations?: Record<string, unknown>;
    grantIdFor(clientId: string): string | undefined;
    sidFor(clientId: string): string | undefined;
  };
  readonly result?: { consent?: { grantId?: string }; login?: UnknownObject };
  readonly entities: Partial<Record<string, unknown>>;
  readonly requestParamOIDCScopes: Set<string>;
  readonly requestParamScopes: Set<string>;
  /** The resource servers of the request (RFC 8707), by indicator. */
  readonly resourceServers: Record<string, { readonly scopes: Set<string> }>;
  entity(name: string, value: unknown): void;
  readonly requestParamClaims: Set<string>;
  readonly provider: OidcProvider;
  urlFor(name: string, options?: UnknownObject): string;
}

/** The subset of a Koa context that the dev provider's callbacks touch. */
export interface OidcKoaContext {
  readonly oidc: OidcContext | undefined;
  status: number;
  body: unknown;
  type: string;
  readonly host: string;
  readonly method: string;
  readonly path: string;
  /** The request's connection: a `TLSSocket` on the mutual-TLS listener. */
  readonly socket: Socket;
  get(field: string): string;
  set(field: string, value: string): void;
  remove(field: string): void;
  /** Koa's per-request state. */
  readonly state: Record<string | symbol, unknown>;
  readonly response: { get(field: string): string };
}

export type OidcMiddleware = (ctx: OidcKoaContext, next: () => Promise<void>) => Promise<void>;

/** An oidc-provider `Provider` instance (a Koa application, hence an EventEmitter). */
export interface OidcProvider extends EventEmitter {
  readonly issuer: string;
  proxy: boolean;
  callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  use(middleware: OidcMiddleware): this;
  urlFor(name: string, options?: UnknownObject): string;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<OidcInteraction>;
  interactionResult(
    req: IncomingMessage,
    res: ServerResponse,
    result: UnknownObject,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<string>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: UnknownObject,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  readonly Client: OidcClientClass;
  readonly Grant: OidcGrantClass;
  readonly AccessToken: OidcAccessTokenClass;
  readonly ResourceServer: new (identifier: string, info: UnknownObject) => unknown;
  /** Adds an extension grant type at the token endpoint; `parameters` are the ones it reads. */
  registerGrantType(name: string, handler: (ctx: OidcKoaContext) => Promise<void>, parameters?: Iterable<string>, allowedDuplicates?: Iterable<string>): void;
  readonly RefreshToken: OidcModelClass;
  readonly AuthorizationCode: OidcModelClass;
  readonly Session: OidcModelClass;
  readonly Interaction: OidcModelClass;
}

/** What `findAccount` returns. */
export interface OidcAccount {
  accountId: string;
  claims(use: string, scope: string): Promise<UnknownObject> | UnknownObject;
}

/** The storage adapter contract (see oidc-provider's memory adapter). */
export interface OidcAdapter {
  upsert(id: string, payload: UnknownObject, expiresIn?: number): Promise<void>;
  find(id: string): Promise<UnknownObject | undefined>;
  findByUid(uid: string): Promise<UnknownObject | undefined>;
  findByUserCode(userCode: string): Promise<UnknownObject | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** oidc-provider's `interactionPolicy` export (only what the dev provider uses). */
export interface OidcInteractionPolicyModule {
  base(): { get(name: string): { checks: { add(check: unknown): void } } | undefined } & unknown[];
  Check: {
    new (reason: string, description: string, check: (ctx: OidcKoaContext) => unknown): unknown;
    readonly REQUEST_PROMPT: unknown;
    readonly NO_NEED_TO_PROMPT: unknown;
  };
}

/**
 * The configuration handed to `new Provider(issuer, configuration)`. Only the
 * keys the dev provider sets are typed; oidc-provider validates the rest.
 */
export interface OidcConfiguration {
  adapter: (modelName: string) => OidcAdapter;
  clients: UnknownObject[];
  /** The client authentication methods it accepts (token, PAR, revocation, introspection). */
  clientAuthMethods: string[];
  clientDefaults: UnknownObject;
  jwks: { keys: UnknownObject[] };
  cookies: { keys: string[]; long: UnknownObject; short: UnknownObject };
  claims: Record<string, string[]>;
  scopes: string[];
  responseTypes: string[];
  conformIdTokenClaims: boolean;
  clockTolerance: number;
  findAccount(ctx: OidcKoaContext, sub: string): Promise<OidcAccount | undefined>;
  loadExistingGrant(ctx: OidcKoaContext): Promise<OidcGrant | undefined>;
  extraClientMetadata: UnknownObject;
  issueRefreshToken(ctx: OidcKoaContext, client: OidcClient): Promise<boolean>;
  rotateRefreshToken: boolean;
  pkce: { required(ctx: OidcKoaContext, client: OidcClient): boolean };
  /** Seconds, or a function of the token being issued (oidc-provider calls it with the context, the token and the client). */
  ttl: Record<string, number | ((ctx: OidcKoaContext, token: { accountId?: string; resourceServer?: { accessTokenTTL?: number } }, client?: OidcClient) => number)>;
  features: Record<string, UnknownObject>;
  clientBasedCORS(ctx: OidcKoaContext, origin: string, client: OidcClient): boolean;
  renderError(ctx: OidcKoaContext, out: Record<string, string>, error: unknown): Promise<void>;
  /** oidc-provider's outgoing requests (back-channel logout). */
  fetch(url: string | URL, options: RequestInit & { dispatcher?: unknown }): Promise<Response>;
  acrValues: string[];
  /** Claims added to every token issued (RFC 9068 §2.2.1 `auth_time`, `acr` for JWT access tokens). */
  extraTokenClaims: (ctx: OidcKoaContext, token: OidcModel) => Promise<UnknownObject | undefined>;
  interactions: { policy: unknown; url(ctx: OidcKoaContext, interaction: { uid: string }): string };
}

/**
 * What token exchange uses of oidc-provider's grant helpers (lib/helpers/grants.js), spelled out
 * here so that the published declarations do not name that module, which has no types of its own.
 */
export interface GrantHelpers {
  validateDpop(provider: OidcProvider, ctx: OidcKoaContext): Promise<OidcDpopProof | undefined>
  checkDpopReplay(provider: OidcProvider, ctx: OidcKoaContext, proof: OidcDpopProof, clientId: string): Promise<void>
  checkDpopRequired(provider: OidcProvider, ctx: OidcKoaContext, proof: OidcDpopProof | undefined): void
  buildTokenResponse(provider: OidcProvider, response: { accessToken: string; expiresIn: number; issuedTokenType?: string; scope?: string; tokenType: string }): Record<string, unknown>
}
