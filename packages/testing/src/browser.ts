/**
 * The login driver: a scripted browser (fetch with `redirect: 'manual'` and a cookie jar) and a
 * login through the dev provider's own form with it. `idp.login()` drives it, and so do
 * codegrant's own suite and bench: one way to log a test user in.
 *
 * @example
 * const browser = createBrowser()
 * await signIn(browser, 'http://127.0.0.1:3000', 'alice')   // a running app, the dev provider behind it
 * const me = await browser.request('http://127.0.0.1:3000/me', { headers: API })
 */
import { parseSetCookie } from 'cookie'

/** One response as the scripted browser saw it. */
export interface Hop {
  url: string
  status: number
  headers: Headers
  setCookies: string[]
  body: string
}

/** What a request sends: the method (default GET), headers, and a form body. */
export interface BrowserRequest {
  method?: string
  headers?: Record<string, string>
  body?: string
}

/** How the browser reaches a URL: `fetch`'s shape (it always passes `redirect: 'manual'`). */
export type Transport = (url: string, init: RequestInit) => Promise<Response>

export interface BrowserOptions {
  /** Headers sent with every request unless the request sets them (its own `User-Agent`, say). */
  headers?: Record<string, string>
  /** How requests travel; default the global `fetch`. `idp.login()` routes the app's own URLs to an in-process app. */
  transport?: Transport
}

/** Browser-like `Accept` headers: an HTML page, or JSON as an API client asks. */
export const HTML = { accept: 'text/html,application/xhtml+xml' }
export const API = { accept: 'application/json' }

/**
 * A scripted user agent: every hop readable and its cookies open to tampering. The cookie jar is
 * keyed by host name (like a browser, cookies ignore the port).
 */
export function createBrowser(options: BrowserOptions = {}) {
  const transport = options.transport ?? fetch
  const jar = new Map<string, Map<string, string>>()
  const cookiesFor = (host: string) => {
    let cookies = jar.get(host)
    if (!cookies) jar.set(host, (cookies = new Map()))
    return cookies
  }

  async function request(url: string, init: BrowserRequest = {}): Promise<Hop> {
    const cookies = cookiesFor(new URL(url).hostname)
    const headers = new Headers({ ...options.headers, ...init.headers })
    if (cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded')
    const response = await transport(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual' })
    const setCookies = response.headers.getSetCookie()
    for (const line of setCookies) {
      const cookie = parseSetCookie(line)
      const expired = cookie.maxAge !== undefined ? cookie.maxAge <= 0 : cookie.expires !== undefined && cookie.expires.getTime() <= Date.now()
      if (expired) cookies.delete(cookie.name)
      else cookies.set(cookie.name, cookie.value ?? '')
    }
    return { url, status: response.status, headers: response.headers, setCookies, body: await response.text() }
  }

  /** Follows redirects from `url` until a non-redirect, or until `stop(url)` says so. */
  async function follow(url: string, init: BrowserRequest = {}, stop?: (next: string) => boolean): Promise<{ last: Hop; hops: Hop[]; stoppedAt?: string }> {
    const hops: Hop[] = []
    let hop = await request(url, init)
    hops.push(hop)
    for (let i = 0; i < 20 && hop.status >= 300 && hop.status < 400; i++) {
      const next = new URL(hop.headers.get('location') ?? '', hop.url).href
      if (stop?.(next)) return { last: hop, hops, stoppedAt: next }
      hop = await request(next, { headers: init.headers })
      hops.push(hop)
    }
    return { last: hop, hops }
  }

  return {
    request,
    follow,
    cookies: (url: string) => cookiesFor(new URL(url).hostname),
    setCookie: (url: string, name: string, value: string) => void cookiesFor(new URL(url).hostname).set(name, value),
    deleteCookie: (url: string, name: string) => void cookiesFor(new URL(url).hostname).delete(name),
  }
}

export type Browser = ReturnType<typeof createBrowser>

export interface SignInOptions {
  /** The page to land on after the login (`?returnTo=`). */
  returnTo?: string
  /** Start at this provider's login route (`/auth/login/<provider>`), for an app with several. */
  provider?: string
  /** Stop before the provider's redirect reaches the app's callback, and give its URL (`callbackUrl`). */
  stopAtCallback?: boolean
  /** The app's login route, default `/auth/login`. */
  loginPath?: string
  /** The app's callback route, default `/auth/callback`. */
  callbackPath?: string
  /** When given, the login route must redirect to this issuer: otherwise a message that says what to configure. */
  issuer?: string
}

/** Every hop of a login, the authorization request's URL, and the callback's (and its answer, unless stopped before it). */
export interface SignInResult {
  last: Hop
  hops: Hop[]
  stoppedAt?: string
  authorizeUrl: string | undefined
  callbackUrl: string | undefined
  callback: Hop | undefined
}

/**
 * Logs `username` into the app at `appUrl` through the dev provider's own login form: the app's
 * login route, the provider's pages, the app's callback — the authorization code flow as a
 * browser goes through it. When the provider still has a session for the browser (single
 * sign-on), there is no form and the login goes straight on.
 *
 * @see [OpenID Connect Core 1.0 §3.1 — Authorization Code Flow](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
 */
export async function signIn(browser: Browser, appUrl: string, username: string, options: SignInOptions = {}): Promise<SignInResult> {
  const loginPath = `${options.loginPath ?? '/auth/login'}${options.provider === undefined ? '' : `/${options.provider}`}`
  const start = `${appUrl}${loginPath}${options.returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(options.returnTo)}`}`
  const callbackAt = `${appUrl}${options.callbackPath ?? '/auth/callback'}`
  const isCallback = (url: string) => url.startsWith(callbackAt)
  const stop = options.stopAtCallback ? isCallback : undefined
  const toForm = await browser.follow(start, { headers: HTML }, stop)
  const first = toForm.hops[0]
  if (options.issuer !== undefined && first && !(first.status === 302 && first.headers.get('location')?.startsWith(options.issuer))) {
    const location = first.headers.get('location')
    throw new Error(`@codegrant/testing: GET ${loginPath} answered ${first.status}${location ? ` to ${location}` : ''}, not a redirect to the test provider ${options.issuer}. Is the app configured with the test provider's options (idp.options or idp.env)? ${first.body.slice(0, 300)}`)
  }
  if (toForm.stoppedAt) {
    // the provider still had a session (single sign-on): no login form this time
    return { ...toForm, authorizeUrl: toForm.hops[1]?.url, callbackUrl: toForm.stoppedAt, callback: undefined }
  }
  const form = toForm.last
  if (form.status !== 200 || !form.url.includes('/interaction/')) {
    throw new Error(`@codegrant/testing: expected the provider's login form, got ${form.status} at ${form.url}: ${form.body.slice(0, 300)}`)
  }
  const submitted = await browser.follow(form.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() }, stop)
  const callbackHop = submitted.hops.find((hop) => isCallback(hop.url))
  return { ...submitted, authorizeUrl: toForm.hops[1]?.url, callbackUrl: submitted.stoppedAt ?? callbackHop?.url, callback: callbackHop }
}

/** The first form of a page: its action (absolute) and what it submits when `button` is pressed. */
export function formOf(hop: Hop, button?: string): { action: string; fields: URLSearchParams } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(hop.body)
  if (!form) throw new Error(`no form at ${hop.url}`)
  const fields = new URLSearchParams()
  for (const input of (form[2] ?? '').matchAll(/<(input|button)[^>]*name="([^"]*)"[^>]*value="([^"]*)"[^>]*>/gi)) {
    const [, tag = '', name = '', value = ''] = input
    if (tag.toLowerCase() === 'button' && name !== button) continue
    fields.append(name, value.replace(/&amp;/g, '&'))
  }
  return { action: new URL((form[1] ?? '').replace(/&amp;/g, '&'), hop.url).href, fields }
}
