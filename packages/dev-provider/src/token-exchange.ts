import type { GrantHelpers, ProviderErrors } from './load-provider.js';
import type { OidcAccessToken, OidcClient, OidcDpopProof, OidcKoaContext, OidcModel, OidcProvider } from './oidc-types.js';
import { findByAudience, resourceServerInfo, type DevResource, type DevResources } from './resources.js';
import type { AddedUsers } from './users.js';

/** The grant type of OAuth 2.0 Token Exchange (RFC 8693 §2.1). */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** The only token type exchanged here, both ways: this provider's own access tokens (RFC 8693 §3). */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * Client metadata: the other clients whose users' access tokens this client may exchange
 * (e.g. a gateway in front of an app). A client may always exchange tokens issued to itself.
 */
export const SUBJECT_CLIENTS_METADATA = 'token_exchange_subject_clients';

const PARAMETERS = ['subject_token', 'subject_token_type', 'requested_token_type', 'resource', 'audience', 'scope', 'actor_token', 'actor_token_type'];

interface ExchangeContext {
  provider: OidcProvider;
  resources: DevResources;
  added: AddedUsers;
  errors: ProviderErrors;
  helpers: GrantHelpers;
}

/**
 * Registers RFC 8693 token exchange at the token endpoint, for development and tests: a client
 * allowed the grant trades an access token this provider issued to one of its users (the subject
 * token) for a JWT access token for one registered resource, with a subset of its scopes.
 * Everything else is refused with RFC 8693's errors (§2.2.2): a subject token that is unknown,
 * expired, another client's, or bound to a DPoP key the request does not prove → invalid_request;
 * an unknown resource or audience → invalid_target; a scope the resource does not define →
 * invalid_scope. No actor tokens, no refresh token.
 */
export function registerTokenExchange(context: ExchangeContext): void {
  context.provider.registerGrantType(TOKEN_EXCHANGE, (ctx) => exchangeToken(context, ctx), PARAMETERS);
}

/** oidc-provider's `extraClientMetadata` for SUBJECT_CLIENTS_METADATA. */
export function subjectClientsMetadata(errors: ProviderErrors): { properties: string[]; validator: (ctx: unknown, key: string, value: unknown) => void } {
  return {
    properties: [SUBJECT_CLIENTS_METADATA],
    validator: (_ctx: unknown, key: string, value: unknown) => {
      if (key !== SUBJECT_CLIENTS_METADATA || value === undefined) return;
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item)) {
        throw new errors.InvalidClientMetadata!(`${SUBJECT_CLIENTS_METADATA} must be an array of client ids`);
      }
    },
  };
}

async function exchangeToken(context: ExchangeContext, ctx: OidcKoaContext): Promise<void> {
  const { provider, errors, helpers } = context;
  const oidc = ctx.oidc!;
  const params = (oidc.params ?? {}) as Record<string, string | undefined>;
  const client = oidc.client!;
  checkTokenTypes(params, errors);
  const [indicator, resource] = targetOf(params, context);
  const proof = await helpers.validateDpop(provider, ctx);
  const subject = await subjectOf(params.subject_token!, client, proof, context);
  helpers.checkDpopRequired(provider, ctx, proof);
  const scope = grantedScope(params.scope, indicator, resource, subject.accountId!, context);

  const token: OidcAccessToken = new provider.AccessToken({
    accountId: subject.accountId,
    client,
    grantId: subject.grantId,
    gty: TOKEN_EXCHANGE,
    scope,
    sessionUid: subject.sessionUid,
    sid: subject.sid,
    expiresWithSession: subject.expiresWithSession,
  });
  token.resourceServer = new provider.ResourceServer(indicator, resourceServerInfo(indicator, resource));
  if (proof) {
    await helpers.checkDpopReplay(provider, ctx, proof, client.clientId);
    token.setThumbprint('jkt', proof.thumbprint);
  }
  oidc.entity('AccessToken', token);
  const value = await token.save();
  ctx.body = helpers.buildTokenResponse(provider, {
    accessToken: value,
    expiresIn: token.expiration,
    issuedTokenType: ACCESS_TOKEN_TYPE,
    scope,
    tokenType: token.tokenType,
  });
}

function checkTokenTypes(params: Record<string, string | undefined>, errors: ProviderErrors): void {
  const { InvalidRequest } = errors;
  if (!params.subject_token) throw new InvalidRequest!('missing required parameter subject_token');
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    throw new InvalidRequest!(`subject_token_type must be ${ACCESS_TOKEN_TYPE}: only this provider's access tokens are exchanged`);
  }
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    throw new InvalidRequest!('actor tokens (delegation) are not supported');
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new InvalidRequest!(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
}

/** The one registered resource named by `resource` and/or `audience`. */
function targetOf(params: Record<string, string | undefined>, { resources, errors }: ExchangeContext): [string, DevResource] {
  const { InvalidRequest, InvalidTarget } = errors;
  if (params.resource === undefined && params.audience === undefined) {
    throw new InvalidRequest!('name the API the token is for: resource or audience');
  }
  const byResource = params.resource === undefined ? undefined : resources.get(params.resource);
  if (params.resource !== undefined && !byResource) throw new InvalidTarget!(`this provider knows no resource "${params.resource}"`);
  const byAudience = params.audience === undefined ? undefined : findByAudience(resources, params.audience);
  if (params.audience !== undefined && !byAudience) throw new InvalidTarget!(`this provider knows no audience "${params.audience}"`);
  if (byAudience && params.resource !== undefined && byAudience[0] !== params.resource) {
    throw new InvalidTarget!('resource and audience name different APIs');
  }
  return byAudience ?? [params.resource!, byResource!];
}

/**
 * The subject token's stored model, when it is a live access token of this provider, issued to
 * this client (or to one it may exchange for), whose grant still stands and whose DPoP key, if
 * bound, signed this request's proof: a bound token must not become an unbound one.
 */
async function subjectOf(value: string, client: OidcClient, proof: OidcDpopProof | undefined, { provider, errors }: ExchangeContext): Promise<OidcModel> {
  const { InvalidRequest } = errors;
  const subject = await provider.AccessToken.find(value);
  if (!subject?.accountId) throw new InvalidRequest!('subject_token is not an active access token of this provider');
  const allowed = client.metadata()[SUBJECT_CLIENTS_METADATA];
  if (subject.clientId !== client.clientId && !(Array.isArray(allowed) && allowed.includes(subject.clientId))) {
    throw new InvalidRequest!('subject_token was issued to another client, and this client may not exchange its tokens');
  }
  const grant = subject.grantId ? await provider.Grant.find(subject.grantId) : undefined;
  if (!grant || grant.isExpired) throw new InvalidRequest!("subject_token's grant has ended");
  if (subject.jkt !== undefined && subject.jkt !== proof?.thumbprint) {
    throw new InvalidRequest!('subject_token is DPoP-bound: the DPoP proof must be signed with its key');
  }
  return subject;
}

/**
 * The requested scope (default: all the resource defines), which must be the resource's; an added
 * user with `scopes` is granted only those of them, as at login.
 */
function grantedScope(requested: string | undefined, indicator: string, resource: DevResource, accountId: string, { added, errors }: ExchangeContext): string {
  const offered = resource.scope.split(' ');
  const asked = requested === undefined ? offered : requested.split(' ').filter(Boolean);
  const unknown = asked.filter((scope) => !offered.includes(scope));
  if (unknown.length) {
    throw new errors.InvalidScope!(`"${indicator}" does not define the scope ${unknown.join(' ')}`, unknown.join(' '));
  }
  const allowed = added.get(accountId)?.scopes;
  const granted = allowed ? asked.filter((scope) => allowed.includes(scope)) : asked;
  if (!granted.length) throw new errors.InvalidScope!(`none of the requested scopes is granted to this user`, asked.join(' '));
  return granted.join(' ');
}
