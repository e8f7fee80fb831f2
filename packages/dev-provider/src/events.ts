import type { OidcKoaContext, OidcProvider } from './oidc-types.js';

export interface DevProviderEvent {
  /** oidc-provider's event name (e.g. 'grant.success'), or 'userinfo.success' / 'revocation.success' (see below). */
  name: string;
  /** For token endpoint events: the grant_type parameter. */
  grantType?: string;
  /** For error events: the OAuth error code (e.g. 'invalid_grant'). */
  error?: string;
  /** The client the request was made by or for, when known. */
  clientId?: string;
  /** For 'revocation.success': which kind of token was revoked (absent when the token was unknown). */
  tokenType?: 'access_token' | 'refresh_token';
  /** Date.now() when it happened. */
  at: number;
}

/**
 * The oidc-provider events recorded. Names are oidc-provider's own (see
 * lib/helpers/initialize_app.js and the emit calls in lib/). oidc-provider
 * emits no success event for userinfo and revocation; those two are recorded
 * by a middleware under the names 'userinfo.success' and 'revocation.success'.
 */
export const RECORDED_EVENTS = [
  'authorization.accepted',
  'authorization.success',
  'authorization.error',
  'interaction.started',
  'interaction.ended',
  'pushed_authorization_request.success',
  'pushed_authorization_request.error',
  'grant.success',
  'grant.error',
  'grant.revoked',
  'userinfo.error',
  'revocation.error',
  'end_session.success',
  'end_session.error',
  'end_session_confirm.error',
  'backchannel.success',
  'backchannel.error',
  'discovery.error',
  'jwks.error',
  'server_error',
] as const;

const SYNTHESIZED_ROUTES = new Set(['userinfo', 'revocation']);

export class EventLog {
  readonly events: DevProviderEvent[] = [];

  /** Subscribes to the provider; returns a function that unsubscribes. */
  attach(provider: OidcProvider): () => void {
    const listeners = RECORDED_EVENTS.map((name) => {
      const listener = (ctx: unknown, detail: unknown) => this.#record(name, ctx, detail);
      provider.on(name, listener);
      return () => provider.off(name, listener);
    });
    provider.use(async (ctx, next) => {
      await next();
      this.#recordSynthesized(ctx);
    });
    return () => listeners.forEach((off) => off());
  }

  count(name: string, grantType?: string): number {
    return this.events.filter((event) => event.name === name && (grantType === undefined || event.grantType === grantType))
      .length;
  }

  #record(name: string, ctx: unknown, detail: unknown): void {
    const event: DevProviderEvent = { name, at: Date.now(), ...requestFacts(ctx) };
    if (name === 'server_error' || name.endsWith('.error')) {
      event.error = errorCode(detail);
      if (name === 'server_error') console.error(`codegrant dev provider: server_error on ${routeOf(ctx) ?? 'a request'}:`, detail);
    }
    this.events.push(event);
  }

  #recordSynthesized(ctx: OidcKoaContext): void {
    const route = ctx.oidc?.route;
    if (route === undefined || !SYNTHESIZED_ROUTES.has(route) || ctx.status >= 400) return;
    const event: DevProviderEvent = { name: `${route}.success`, at: Date.now(), ...requestFacts(ctx) };
    if (route === 'revocation') {
      const revoked = revokedTokenType(ctx);
      if (revoked) event.tokenType = revoked;
    }
    this.events.push(event);
  }
}

/** grant_type and client id of the request behind an event; never token values. */
function requestFacts(ctx: unknown): Pick<DevProviderEvent, 'grantType' | 'clientId'> {
  const oidc = isKoaContext(ctx) ? ctx.oidc : undefined;
  if (!oidc) return {};
  const facts: Pick<DevProviderEvent, 'grantType' | 'clientId'> = {};
  const grantType = oidc.route === 'token' ? oidc.params?.grant_type : undefined;
  if (typeof grantType === 'string') facts.grantType = grantType;
  if (oidc.client) facts.clientId = oidc.client.clientId;
  return facts;
}

function revokedTokenType(ctx: OidcKoaContext): DevProviderEvent['tokenType'] {
  const entities = ctx.oidc?.entities ?? {};
  if (entities.RefreshToken) return 'refresh_token';
  if (entities.AccessToken || entities.ClientCredentials) return 'access_token';
  return undefined;
}

function routeOf(ctx: unknown): string | undefined {
  return isKoaContext(ctx) ? ctx.oidc?.route : undefined;
}

function errorCode(detail: unknown): string {
  if (detail && typeof detail === 'object' && 'error' in detail && typeof detail.error === 'string') return detail.error;
  return 'server_error';
}

function isKoaContext(value: unknown): value is OidcKoaContext {
  return typeof value === 'object' && value !== null && 'oidc' in value;
}
