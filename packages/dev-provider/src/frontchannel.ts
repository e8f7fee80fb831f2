/**
 * OpenID Connect Front-Channel Logout 1.0 for the dev provider (oidc-provider 9 has none): clients
 * register `frontchannel_logout_uri` (and `frontchannel_logout_session_required`), and a logout
 * at the provider renders each client's URI, with `iss` and `sid`, in an iframe before the
 * browser goes on to the post-logout redirect.
 */
import type { ProviderErrors } from './load-provider.js';
import type { OidcKoaContext, OidcMiddleware, OidcProvider, UnknownObject } from './oidc-types.js';
import { frontchannelPage } from './pages.js';

export const FRONTCHANNEL_LOGOUT_URI = 'frontchannel_logout_uri';
export const FRONTCHANNEL_LOGOUT_SESSION_REQUIRED = 'frontchannel_logout_session_required';

/** Discovery members (§3). */
export const FRONTCHANNEL_DISCOVERY = { frontchannel_logout_supported: true, frontchannel_logout_session_supported: true };

type ExtraMetadata = { properties: string[]; validator: (ctx: unknown, key: string, value: unknown, metadata?: UnknownObject) => void };

/** `extra` (oidc-provider's `extraClientMetadata`) with the front-channel logout members added and checked. */
export function withFrontchannelMetadata(extra: ExtraMetadata, errors: ProviderErrors): ExtraMetadata {
  return {
    properties: [...extra.properties, FRONTCHANNEL_LOGOUT_URI, FRONTCHANNEL_LOGOUT_SESSION_REQUIRED],
    validator: (ctx, key, value, metadata) => {
      extra.validator(ctx, key, value, metadata);
      if (value === undefined) return;
      if (key === FRONTCHANNEL_LOGOUT_URI && !(typeof value === 'string' && /^https?:$/.test(URL.parse(value)?.protocol ?? ''))) {
        throw new errors.InvalidClientMetadata!(`${FRONTCHANNEL_LOGOUT_URI} must be an http(s) URL`);
      }
      if (key === FRONTCHANNEL_LOGOUT_SESSION_REQUIRED && typeof value !== 'boolean') {
        throw new errors.InvalidClientMetadata!(`${FRONTCHANNEL_LOGOUT_SESSION_REQUIRED} must be a boolean`);
      }
    },
  };
}

/** Where the logout page's frames are kept between oidc-provider's event and the response. */
const FRAMES = Symbol('frontchannel frames');

/**
 * Serves front-channel logout on `provider`: at a confirmed logout (`end_session.success`, while
 * the session still names its clients), each of its clients' front-channel URIs; then the
 * provider's redirect becomes a page that frames them and goes on.
 */
export function serveFrontchannelLogout(provider: OidcProvider): OidcMiddleware {
  provider.on('end_session.success', (ctx: OidcKoaContext) => {
    ctx.state[FRAMES] = framesOf(ctx);
  });
  return async (ctx, next) => {
    await next();
    const pending = ctx.state[FRAMES] as Promise<string[]> | undefined;
    const frames = pending ? await pending : [];
    const location = ctx.response.get('location');
    if (frames.length === 0 || ctx.status !== 303 || !location) return;
    const page = frontchannelPage(frames, location);
    ctx.status = 200;
    ctx.remove('location');
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', page.csp);
    ctx.body = page.html;
  };
}

/** The front-channel logout URIs of the clients of the session being ended, with `iss` and `sid` where asked for. */
async function framesOf(ctx: OidcKoaContext): Promise<string[]> {
  const oidc = ctx.oidc!;
  const session = oidc.session;
  const frames: string[] = [];
  if (!session) return frames;
  for (const clientId of Object.keys(session.authorizations ?? {})) {
    const client = await oidc.provider.Client.find(clientId);
    const metadata = client?.metadata() as UnknownObject | undefined;
    const uri = metadata?.[FRONTCHANNEL_LOGOUT_URI];
    if (typeof uri !== 'string') continue;
    const url = new URL(uri);
    if (metadata?.[FRONTCHANNEL_LOGOUT_SESSION_REQUIRED] === true) {
      url.searchParams.set('iss', oidc.provider.issuer);
      url.searchParams.set('sid', session.sidFor(clientId) ?? '');
    }
    frames.push(url.href);
  }
  return frames;
}
