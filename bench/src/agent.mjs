// A scripted browser, as in test/support/agent.ts (which is TypeScript, and the bench runs
// plain node without a TypeScript loader): fetch with `redirect: 'manual'` and a cookie jar
// keyed by host name. Only what the bench needs: follow redirects, submit the dev provider's
// login form, and hand back the cookies the app set.
import { parseSetCookie } from 'cookie'

export function createAgent() {
  const jar = new Map()
  const cookiesFor = (host) => {
    let cookies = jar.get(host)
    if (!cookies) jar.set(host, (cookies = new Map()))
    return cookies
  }

  async function request(url, init = {}) {
    const cookies = cookiesFor(new URL(url).hostname)
    const headers = new Headers(init.headers)
    if (cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    if (init.body !== undefined) headers.set('content-type', 'application/x-www-form-urlencoded')
    const response = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(line)
      const expired = cookie.maxAge !== undefined ? cookie.maxAge <= 0 : cookie.expires !== undefined && cookie.expires.getTime() <= Date.now()
      if (expired) cookies.delete(cookie.name)
      else cookies.set(cookie.name, cookie.value ?? '')
    }
    return { url, status: response.status, headers: response.headers, body: await response.text() }
  }

  async function follow(url, init = {}) {
    const hops = [await request(url, init)]
    for (let i = 0; i < 20; i++) {
      const hop = hops.at(-1)
      if (hop.status < 300 || hop.status >= 400) break
      hops.push(await request(new URL(hop.headers.get('location'), hop.url).href, { headers: init.headers }))
    }
    return hops
  }

  return { request, follow, cookies: (url) => cookiesFor(new URL(url).hostname) }
}

const HTML = { accept: 'text/html,application/xhtml+xml' }

/**
 * Logs `username` in through the dev provider's login form, starting at the app's login URL,
 * with a fresh agent (so no single sign-on shortcut), and returns the `Cookie` header value
 * made of the app's cookies whose names `pick` accepts (the provider's own cookies share the
 * host 127.0.0.1 but a browser would not matter here: the bench sends only the app's).
 */
export async function loginCookie(loginUrl, username, pick) {
  const agent = createAgent()
  const toForm = await agent.follow(loginUrl, { headers: HTML })
  const form = toForm.at(-1)
  if (form.status !== 200 || !form.url.includes('/interaction/')) {
    throw new Error(`expected the dev provider's login form from ${loginUrl}, got ${form.status} at ${form.url}: ${form.body.slice(0, 300)}`)
  }
  const submitted = await agent.follow(form.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username, password: 'x' }).toString() })
  const picked = [...agent.cookies(loginUrl)].filter(([name]) => pick(name))
  if (picked.length === 0) {
    const trail = [...toForm, ...submitted].map((hop) => `${hop.status} ${hop.url}`).join(' -> ')
    throw new Error(`login at ${loginUrl} set no session cookie; hops: ${trail}; last body: ${submitted.at(-1).body.slice(0, 300)}`)
  }
  return picked.map(([k, v]) => `${k}=${v}`).join('; ')
}
