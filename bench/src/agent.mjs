// The bench's login: @codegrant/testing's login driver (`createBrowser`, `signIn`), the one the
// suite and users use, with a fresh browser each time (so no single sign-on shortcut), handing
// back the app's cookies.
import { createBrowser, signIn } from '@codegrant/testing'

/**
 * Logs `username` in through the dev provider's login form, starting at the app's login URL
 * (codegrant's `/auth/login`, or a peer's own), and returns the `Cookie` header value made of the
 * app's cookies whose names `pick` accepts (the provider's own cookies share the host 127.0.0.1,
 * and the bench sends only the app's).
 */
export async function loginCookie(loginUrl, username, pick) {
  const url = new URL(loginUrl)
  const browser = createBrowser()
  const login = await signIn(browser, url.origin, username, { loginPath: url.pathname })
  const picked = [...browser.cookies(loginUrl)].filter(([name]) => pick(name))
  if (picked.length === 0) {
    const trail = login.hops.map((hop) => `${hop.status} ${hop.url}`).join(' -> ')
    throw new Error(`login at ${loginUrl} set no session cookie; hops after the login form: ${trail}; last body: ${login.last.body.slice(0, 300)}`)
  }
  return picked.map(([k, v]) => `${k}=${v}`).join('; ')
}
