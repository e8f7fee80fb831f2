/**
 * A real browser (Debian's Chromium through playwright-core) logs in and out of each example,
 * started exactly as a user starts it: `pnpm --dir examples/<name> start`, no configuration.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './support/chromium.js'
import { startExample, type RunningExample } from './support/example.js'

let browser: Browser
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
})

/**
 * The example started (with `env`) before the tests of the describe that calls this, and
 * stopped after them, with `stopped` run once it has stopped. Returns it, for the tests.
 */
function exampleFor(name: string, env: Record<string, string> = {}, stopped?: (example: RunningExample) => Promise<void>): () => RunningExample {
  let example: RunningExample | undefined
  beforeAll(async () => {
    example = await startExample(name, env)
  }, 60_000)
  afterAll(async () => {
    await example?.stop()
    if (example && stopped) await stopped(example)
  })
  return () => {
    if (!example) throw new Error(`examples/${name} did not start`)
    return example
  }
}

/** Runs `use` on a page of a browser context of its own (its own cookies), closed after. */
async function inPage(use: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext()
  try {
    await use(await context.newPage())
  } finally {
    await context.close()
  }
}

describe.each(['express', 'koa', 'fastify'])('examples/%s in Chromium', (name) => {
  // the app stops cleanly on SIGTERM: its port is free again
  const example = exampleFor(name, {}, async (stopped) => {
    await expect(fetch(stopped.url)).rejects.toThrow()
  })

  it('logs alice in and drives the session inspector: claims, countdown, refresh, userinfo, /admin, log out', async () => {
    await inPage(async (page) => {
      const cspViolations: string[] = []
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text())
      })
      const home = await page.goto(example().url)
      const csp = home!.headers()['content-security-policy'] ?? ''
      expect(csp).toContain("default-src 'none'")
      expect(csp).not.toContain('unsafe-inline')
      await page.getByRole('link', { name: 'Log in' }).click()
      await page.waitForURL(/\/interaction\//)
      await page.getByLabel('Username').fill('alice')
      await page.getByLabel(/^Password/).fill('anything')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(`${example().url}/`)
      const signedInAt = Math.floor(Date.now() / 1000)
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Signed in as Alice Example')

      // the claims, as a table
      const claim = (name: string) => page.locator('#claims tr', { has: page.locator(`th code:text-is("${name}")`) }).locator('td').textContent()
      expect(await claim('sub')).toBe('alice')
      expect(await claim('groups')).toBe('["admin"]')
      expect(await page.locator('#session-store').textContent()).toMatch(/^cookie/)
      expect(await page.locator('#token-type').textContent()).toBe('Bearer')
      expect(await page.locator('#token-scopes li').allTextContents()).toEqual(['openid', 'profile', 'email'])
      // tokens only as fingerprints: no JWT (the ID token) anywhere on the page
      const fingerprint = (await page.locator('#token-fingerprint').textContent())!
      expect(fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/)
      expect(await page.locator('#refresh-token').textContent()).toMatch(/^held \(sha256:[0-9a-f]{12}\)$/)
      expect(await page.content()).not.toMatch(/eyJ[\w-]+\.[\w-]+\./)
      // the session cookie is HttpOnly: the page's script cannot read it
      expect(await page.evaluate(() => document.cookie)).not.toContain('codegrant')

      // the countdown is live (the page's script runs under the CSP)
      const left = page.locator('#token-expiry-left')
      const shown = await left.textContent()
      expect(shown).toMatch(/^in \d+ min \d\d s$/)
      await expect.poll(() => left.textContent(), { timeout: 5000 }).not.toBe(shown)

      // refresh: new access token, new rotated refresh token, and a later expiry
      const expiry = async () => Number(await page.locator('#token-expiry').getAttribute('data-epoch'))
      const refreshTokenBefore = await page.locator('#refresh-token').textContent()
      const expiresBefore = await expiry()
      // a token issued in a later second expires in a later second
      await expect.poll(() => Math.floor(Date.now() / 1000)).toBeGreaterThan(signedInAt)
      await page.getByRole('button', { name: 'Refresh the tokens now' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('POST /demo/refresh → 200 OK: new tokens')
      expect(await expiry()).toBeGreaterThan(expiresBefore)
      expect(await page.locator('#token-fingerprint').textContent()).not.toBe(fingerprint)
      expect(await page.locator('#refresh-token').textContent()).not.toBe(refreshTokenBefore)
      expect(await page.locator('#result-body').textContent()).toContain(`${fingerprint} → `)
      // and the page, reloaded, shows what the session now holds
      const refreshed = await page.locator('#token-fingerprint').textContent()
      await page.reload()
      expect(await page.locator('#token-fingerprint').textContent()).toBe(refreshed)

      // userinfo and the guarded /admin, answered inline
      await page.getByRole('button', { name: 'Call /api/userinfo' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('GET /api/userinfo → 200 OK')
      expect(JSON.parse((await page.locator('#result-body').textContent())!)).toMatchObject({ sub: 'alice', groups: ['admin'] })
      await page.getByRole('button', { name: 'Call /admin' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('GET /admin → 200 OK')
      expect(JSON.parse((await page.locator('#result-body').textContent())!)).toEqual({ ok: true })

      // log out: here and at the provider, back on the signed-out page
      await page.getByRole('button', { name: 'Log out' }).click()
      await page.waitForURL(`${example().url}/`)
      await expect.poll(() => page.getByRole('link', { name: 'Log in' }).count()).toBe(1)
      expect((await page.goto(`${example().url}/me`))!.url()).toContain('/interaction/')
      expect(cspViolations).toEqual([])
    })
  })

  it('sends a signed-out browser from /me to the login page and back to /me; bob is refused /admin inline', async () => {
    await inPage(async (page) => {
      await page.goto(`${example().url}/me`)
      await page.waitForURL(/\/interaction\//)
      // the dev provider's one-click sign-in for a test user
      await page.getByRole('button', { name: 'Sign in as bob' }).click()
      await page.waitForURL(`${example().url}/me`)
      expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ user: { sub: 'bob' } })
      expect((await page.goto(`${example().url}/admin`))!.status()).toBe(403)
      // the inspector shows bob's refusal inline
      await page.goto(example().url)
      await page.getByRole('button', { name: 'Call /admin' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('GET /admin → 403 Forbidden')
      expect(JSON.parse((await page.locator('#result-body').textContent())!)).toEqual({ error: 'forbidden' })
    })
  })
})

describe('examples/express in Chromium with OAUTH_RESPONSE_MODE=form_post', () => {
  const example = exampleFor('express', { OAUTH_RESPONSE_MODE: 'form_post' })

  it('logs in when the provider POSTs the response back cross-site', async () => {
    await inPage(async (page) => {
      await page.goto(`${example().url}/me`)
      await page.waitForURL(/\/interaction\//)
      await page.fill('#username', 'alice')
      await page.fill('#password', 'x')
      await page.click('#login')
      await page.waitForURL(`${example().url}/me`)
      expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ user: { sub: 'alice' } })
    })
  })
})

/**
 * DPoP in a real browser, started as `OAUTH_PROFILE=fapi2 pnpm demo` starts it (the dev provider
 * as a FAPI 2.0 provider; PAR, DPoP and private_key_jwt with a key pair made for the run), and
 * as `OAUTH_DPOP=true` alone: the browser only ever sees the sealed session cookie.
 */
describe.each([
  ['express', { OAUTH_PROFILE: 'fapi2' }],
  ['koa', { OAUTH_PROFILE: 'fapi2' }],
  ['fastify', { OAUTH_DPOP: 'true' }],
] as [string, Record<string, string>][])('examples/%s in Chromium with %o', (name, env) => {
  const example = exampleFor(name, env)

  it('logs alice in with DPoP-bound tokens, refreshes them, calls /api/userinfo, and logs her out', async () => {
    expect(example().output()).toContain(env.OAUTH_PROFILE ? 'FAPI 2.0 (PAR, DPoP, private_key_jwt) mode' : 'DPoP mode')
    await inPage(async (page) => {
      await page.goto(example().url)
      await page.getByRole('link', { name: 'Log in' }).click()
      await page.waitForURL(/\/interaction\//)
      await page.getByLabel('Username').fill('alice')
      await page.getByLabel(/^Password/).fill('anything')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(`${example().url}/`)
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Signed in as Alice Example')
      expect(await page.locator('#token-type').textContent()).toBe('DPoP')

      // a refresh signed with the session's key, then the provider's userinfo, which accepts the
      // DPoP-bound token only with a proof of that key
      const fingerprint = await page.locator('#token-fingerprint').textContent()
      await page.getByRole('button', { name: 'Refresh the tokens now' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('POST /demo/refresh → 200 OK: new tokens')
      expect(await page.locator('#token-fingerprint').textContent()).not.toBe(fingerprint)
      await page.getByRole('button', { name: 'Call /api/userinfo' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('GET /api/userinfo → 200 OK')
      expect(JSON.parse((await page.locator('#result-body').textContent())!)).toMatchObject({ sub: 'alice' })

      // the key pair is nowhere the browser can see: not in the page, not in a readable cookie
      expect(await page.content()).not.toMatch(/"(kty|crv|jwk)"/)
      const cookies = await page.context().cookies()
      expect(cookies.filter((cookie) => cookie.name.startsWith('codegrant.session')).every((cookie) => cookie.httpOnly)).toBe(true)
      expect(JSON.stringify(cookies)).not.toMatch(/"(kty|crv|jwk|d)"/)

      await page.getByRole('button', { name: 'Log out' }).click()
      await page.waitForURL(`${example().url}/`)
      await expect.poll(() => page.getByRole('link', { name: 'Log in' }).count()).toBe(1)
      expect((await page.context().cookies()).filter((cookie) => cookie.name.startsWith('codegrant.session'))).toEqual([])
    })
  })
})

describe('examples/express in Chromium with two providers (OAUTH_PROVIDERS=alpha,beta: a dev provider each)', () => {
  const example = exampleFor('express', { OAUTH_PROVIDERS: 'alpha,beta' })

  it('chooses a provider on the chooser page and logs in there; then the other one', async () => {
    await inPage(async (page) => {
      const issuers = [...example().output().matchAll(/Started a dev provider for (\w+) at (http:\/\/\S+)/g)].map((match) => [match[1], match[2]])
      expect(issuers.map(([name]) => name)).toEqual(['alpha', 'beta'])
      for (const [name, issuer] of [issuers[1]!, issuers[0]!]) {
        await page.goto(example().url)
        await page.getByRole('link', { name: 'Log in' }).click()
        await page.waitForURL(`${example().url}/auth/login`)
        const choices = page.getByRole('navigation', { name: 'Sign-in providers' }).getByRole('link')
        expect(await choices.allTextContents()).toEqual(['Sign in with alpha', 'Sign in with beta'])
        await page.getByRole('link', { name: `Sign in with ${name}` }).click()
        await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`))
        await page.getByLabel('Username').fill('alice')
        await page.getByLabel(/^Password/).fill('anything')
        await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        await page.waitForURL(`${example().url}/`)
        await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(`Signed in as Alice Example with ${name}`)
        // the user's claims, from this issuer's sign-in (its interaction page above); the ID token's
        // protocol claims (iss, aud, …) are not the user's and are left out of the table
        const row = (claim: string) => page.locator('#claims tr', { has: page.locator(`th code:text-is("${claim}")`) })
        expect(await row('sub').locator('td').textContent()).toBe('alice')
        expect(await row('iss').count()).toBe(0)
        // log out (at the provider the session came from), back on the signed-out page
        await page.getByRole('button', { name: 'Log out' }).click()
        await page.waitForURL(`${example().url}/`)
        await expect.poll(() => page.getByRole('link', { name: 'Log in' }).count()).toBe(1)
      }
    })
  })
})
