/**
 * OpenID Connect Front-Channel Logout 1.0: the provider renders `GET /auth/frontchannel-logout?iss=…&sid=…`
 * in an iframe of its logout page, and the sessions of that provider session end: in a
 * server-side store every session filed under its `sid` (the index back-channel logout keeps),
 * and the browser's own session when its provider identity is that `iss` and `sid` (the only
 * way to end a cookie session from the front channel).
 */
import { cookiesOf, sessionOf, type Context } from '../context.js'
import { methodNotAllowed, queryOf, type CoreResponse } from '../http.js'
import { identityOf } from '../session/identity.js'
import { sessionsOfSid } from './backchannel-logout.js'

/**
 * @returns 200 when the parameters name a provider of the app (whether or not a session was
 *   ended: the provider's page shows nothing of it), 400 otherwise; always `Cache-Control:
 *   no-store` (§2) and a frame policy that lets only that provider frame the page.
 * @throws {CodegrantError} `codegrant/store_unavailable` (503) when the store cannot be read.
 */
export async function frontchannelLogout(context: Context): Promise<CoreResponse> {
  const { config, providers, backend, sessionIndex } = context.engine
  const { request } = context
  // a GET only: a HEAD must not end anything
  if (request.method !== 'GET') return methodNotAllowed('GET')
  const query = queryOf(request)
  const [iss, ...moreIss] = query.getAll('iss')
  const [sid, ...moreSid] = query.getAll('sid')
  const runtime = moreIss.length === 0 ? providers.list.find((candidate) => candidate.settings.issuer !== undefined && candidate.settings.issuer === iss) : undefined
  // §3: with `frontchannel_logout_session_required` both come, and nothing else identifies the session
  if (!runtime || iss === undefined || !sid || moreSid.length > 0) {
    config.logger.warn('front-channel logout refused: it must name one issuer of the app (iss) and one session (sid)')
    return framedPage(400, undefined, [])
  }
  if (context.unavailable) throw context.unavailable
  const ended = sessionIndex ? await sessionsOfSid(sessionIndex, iss, sid) : []
  await Promise.all(ended.map((id) => sessionIndex!.destroy(id)))
  const session = sessionOf(context)
  const identity = session && identityOf(session)
  let cookies: string[] = []
  if (session && identity?.iss === iss && identity.sid === sid) {
    const cleared = backend.clear(cookiesOf(context), session)
    cookies = cleared instanceof Promise ? await cleared : cleared
    context.session = undefined
  }
  config.logger.debug(`front-channel logout: ${ended.length} session(s) ended by sid${cookies.length > 0 ? ', and this browser\'s' : ''}`)
  return framedPage(200, new URL(iss).origin, cookies)
}

/** An empty page that only `frameAncestor` (the provider's origin) may frame; none when unknown. */
function framedPage(status: number, frameAncestor: string | undefined, cookies: string[]): CoreResponse {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; frame-ancestors ${frameAncestor ?? "'none'"}; base-uri 'none'`,
      'referrer-policy': 'no-referrer',
    },
    cookies,
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body>${status === 200 ? 'Signed out.' : 'Not a front-channel logout of this app.'}</body></html>`,
  }
}
