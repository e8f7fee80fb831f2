import { parseSetCookie } from 'cookie'

/** One response as a scripted browser saw it. */
export interface Hop {
  url: string
  status: number
  headers: Headers
  setCookies: string[]
  body: string
}

/**
 * A scripted user agent: fetch with `redirect: 'manual'` and a cookie jar keyed by host name
 * (like a browser, cookies ignore the port), so a test can read and tamper with every hop.
 * `defaults`: headers it sends with every request (its own `User-Agent`), unless a request sets them.
 */
export function createAgent(defaults: Record<string, string> = {}) {
  const jar = new Map<string, Map<string, string>>()
  const cookiesFor = (host: string) => {
    let cookies = jar.get(host)
    if (!cookies) jar.set(host, (cookies = new Map()))
    return cookies
  }

  async function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Hop> {
    const target = new URL(url)
    const cookies = cookiesFor(target.hostname)
    const headers = new Headers({ ...defaults, ...init.headers })
    if (cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded')
    const response = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual' })
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
  async function follow(url: string, init: Parameters<typeof request>[1] = {}, stop?: (next: string) => boolean): Promise<{ last: Hop; hops: Hop[]; stoppedAt?: string }> {
    const hops: Hop[] = []
    let hop = await request(url, init)
    hops.push(hop)
    for (let i = 0; i < 20 && hop.status >= 300 && hop.status < 400; i++) {
      const next = new URL(hop.headers.get('location')!, hop.url).href
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

export type Agent = ReturnType<typeof createAgent>

export const HTML = { accept: 'text/html,application/xhtml+xml' }
export const API = { accept: 'application/json' }

/**
 * Logs `username` in through the dev provider's own login form. With `stopAtCallback`, stops
 * before delivering the provider's redirect to the app's callback and returns its URL. With
 * `provider`, starts at that provider's login route (`/auth/login/<provider>`).
 */
export async function login(agent: Agent, appUrl: string, username: string, options: { returnTo?: string; stopAtCallback?: boolean; provider?: string } = {}) {
  const start = `${appUrl}/auth/login${options.provider === undefined ? '' : `/${options.provider}`}${options.returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(options.returnTo)}`}`
  const isCallback = (url: string) => url.startsWith(`${appUrl}/auth/callback`)
  const toForm = await agent.follow(start, { headers: HTML }, options.stopAtCallback ? isCallback : undefined)
  if (toForm.stoppedAt) {
    // the provider still had a session (single sign-on): no login form this time
    return { ...toForm, authorizeUrl: toForm.hops[1]?.url, callbackUrl: toForm.stoppedAt, callback: undefined }
  }
  const form = toForm.last
  if (form.status !== 200 || !form.url.includes('/interaction/')) throw new Error(`expected the provider's login form, got ${form.status} at ${form.url}: ${form.body.slice(0, 300)}`)
  const submitted = await agent.follow(form.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() }, options.stopAtCallback ? isCallback : undefined)
  const callbackHop = submitted.hops.find((hop) => isCallback(hop.url))
  return { ...submitted, authorizeUrl: toForm.hops[1]?.url, callbackUrl: submitted.stoppedAt ?? callbackHop?.url, callback: callbackHop }
}

/** The first form of a page: its action (absolute) and what it submits when `button` is pressed. */
export function formOf(hop: Hop, button?: string): { action: string; fields: URLSearchParams } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(hop.body)
  if (!form) throw new Error(`no form at ${hop.url}`)
  const fields = new URLSearchParams()
  for (const input of form[2]!.matchAll(/<(input|button)[^>]*name="([^"]*)"[^>]*value="([^"]*)"[^>]*>/gi)) {
    if (input[1]!.toLowerCase() === 'button' && input[2] !== button) continue
    fields.append(input[2]!, input[3]!.replace(/&amp;/g, '&'))
  }
  return { action: new URL(form[1]!.replace(/&amp;/g, '&'), hop.url).href, fields }
}
