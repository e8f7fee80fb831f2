/**
 * A login driven through the core itself (no framework: presets involve no adapter behaviour):
 * the login route, the provider's authorization endpoint over real HTTP (it redirects straight
 * back, no login page), the callback route, with the cookies a browser would carry.
 */
import type { UserClaims } from '@codegrant/core'
import type { Codegrant, CoreResponse } from '@codegrant/core/adapter'

/** The app's base URL in these tests: nothing listens there, the core is called directly. */
export const CORE_BASE = 'http://127.0.0.1:3999'

export type Jar = Map<string, string>

export function keep(jar: Jar, response: CoreResponse): Jar {
  for (const line of response.cookies) {
    const [pair] = line.split(';')
    const at = pair!.indexOf('=')
    const name = pair!.slice(0, at)
    if (/Max-Age=0/i.test(line)) jar.delete(name)
    else jar.set(name, pair!.slice(at + 1))
  }
  return jar
}

export async function call(codegrant: Codegrant, route: 'login' | 'callback' | 'logout', url: string, jar: Jar = new Map()): Promise<CoreResponse> {
  const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
  const request = { method: 'GET', url, headers: { host: new URL(CORE_BASE).host, accept: 'application/json', 'sec-fetch-site': 'same-origin', ...(cookie ? { cookie } : {}) } }
  return codegrant.handle({ kind: route }, request, await codegrant.attach(request, () => {}, undefined))
}

/** Logs in; returns the callback's answer and the browser's cookies after it. */
export async function coreLogin(codegrant: Codegrant): Promise<{ callback: CoreResponse; jar: Jar; authorize: URL }> {
  const jar: Jar = new Map()
  const login = await call(codegrant, 'login', '/auth/login')
  if (login.status !== 302) throw new Error(`login answered ${login.status}: ${login.body}`)
  keep(jar, login)
  const authorize = new URL(login.headers.location!)
  const answer = await fetch(authorize, { redirect: 'manual' })
  const back = answer.headers.get('location')
  if (answer.status !== 302 || !back) throw new Error(`the authorization endpoint answered ${answer.status}: ${await answer.text()}`)
  const url = new URL(back)
  const callback = await call(codegrant, 'callback', `${url.pathname}${url.search}`, jar)
  keep(jar, callback)
  return { callback, jar, authorize }
}

/** The request state of a request carrying `jar`'s cookies; cookies it sets (a refresh) go back into `jar`. */
export async function stateOf(codegrant: Codegrant, jar: Jar) {
  const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
  return codegrant.attach({ method: 'GET', url: '/', headers: { host: new URL(CORE_BASE).host, cookie } }, (cookies: string[]) => void keep(jar, { status: 200, headers: {}, cookies }), undefined)
}

export async function userOf(codegrant: Codegrant, jar: Jar): Promise<Readonly<UserClaims> | undefined> {
  return (await stateOf(codegrant, jar)).user
}

/** The JSON error code of an error response. */
export function codeOf(response: CoreResponse): string | undefined {
  return (JSON.parse(response.body ?? '{}') as { code?: string }).code
}
