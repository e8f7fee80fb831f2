/**
 * A real browser (Debian's Chromium through playwright-core) logs in and out of each example,
 * started exactly as a user starts it: `pnpm --dir examples/<name> start`, no configuration.
 */
import type { Browser } from 'playwright-core'
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

describe.each(['express', 'koa', 'fastify'])('examples/%s in Chromium', (name) => {
  let example: RunningExample
  beforeAll(async () => {
    example = await startExample(name)
  }, 60_000)
  afterAll(async () => {
    await example?.stop()
    // the app stopped cleanly on SIGTERM: its port is free again
    await expect(fetch(example.url)).rejects.toThrow()
  })

  it('logs alice in and drives the session inspector: claims, countdown, refresh, userinfo, /admin, log out', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const cspViolations: string[] = []
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text())
    })
    try {
      const home = await page.goto(example.url)
      const csp = home!.headers()['content-security-policy'] ?? ''
      expect(csp).toContain("default-src 'none'")
      expect(csp).not.toContain('unsafe-inline')
      await page.getByRole('link', { name: 'Log in' }).click()
      await page.waitForURL(/\/interaction\//)
      await page.getByLabel('Username').fill('alice')
      await page.getByLabel(/^Password/).fill('anything')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(`${example.url}/`)
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
      await page.waitForURL(`${example.url}/`)
      await expect.poll(() => page.getByRole('link', { name: 'Log in' }).count()).toBe(1)
      expect((await page.goto(`${example.url}/me`))!.url()).toContain('/interaction/')
      expect(cspViolations).toEqual([])
    } finally {
      await context.close()
    }
  })

  it('sends a signed-out browser from /me to the login page and back to /me; bob is refused /admin inline', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      await page.goto(`${example.url}/me`)
      await page.waitForURL(/\/interaction\//)
      // the dev provider's one-click sign-in for a test user
      await page.getByRole('button', { name: 'Sign in as bob' }).click()
      await page.waitForURL(`${example.url}/me`)
      expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ user: { sub: 'bob' } })
      expect((await page.goto(`${example.url}/admin`))!.status()).toBe(403)
      // the inspector shows bob's refusal inline
      await page.goto(example.url)
      await page.getByRole('button', { name: 'Call /admin' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('GET /admin → 403 Forbidden')
      expect(JSON.parse((await page.locator('#result-body').textContent())!)).toEqual({ error: 'forbidden' })
    } finally {
      await context.close()
    }
  })
})

describe('examples/express in Chromium with OAUTH_RESPONSE_MODE=form_post', () => {
  let example: RunningExample
  beforeAll(async () => {
    example = await startExample('express', { OAUTH_RESPONSE_MODE: 'form_post' })
  }, 60_000)
  afterAll(async () => {
    await example?.stop()
  })

  it('logs in when the provider POSTs the response back cross-site', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      await page.goto(`${example.url}/me`)
      await page.waitForURL(/\/interaction\//)
      await page.fill('#username', 'alice')
      await page.fill('#password', 'x')
      await page.click('#login')
      await page.waitForURL(`${example.url}/me`)
      expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ user: { sub: 'alice' } })
    } finally {
      await context.close()
    }
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
  let example: RunningExample
  beforeAll(async () => {
    example = await startExample(name, env)
  }, 60_000)
  afterAll(async () => {
    await example?.stop()
  })

  it('logs alice in with DPoP-bound tokens, refreshes them, calls /api/userinfo, and logs her out', async () => {
    expect(example.output()).toContain(env.OAUTH_PROFILE ? 'FAPI 2.0 (PAR, DPoP, private_key_jwt) mode' : 'DPoP mode')
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      await page.goto(example.url)
      await page.getByRole('link', { name: 'Log in' }).click()
      await page.waitForURL(/\/interaction\//)
      await page.getByLabel('Username').fill('alice')
      await page.getByLabel(/^Password/).fill('anything')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(`${example.url}/`)
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
      const cookies = await context.cookies()
      expect(cookies.filter((cookie) => cookie.name.startsWith('codegrant.session')).every((cookie) => cookie.httpOnly)).toBe(true)
      expect(JSON.stringify(cookies)).not.toMatch(/"(kty|crv|jwk|d)"/)

      await page.getByRole('button', { name: 'Log out' }).click()
      await page.waitForURL(`${example.url}/`)
      await expect.poll(() => page.getByRole('link', { name: 'Log in' }).count()).toBe(1)
      expect((await context.cookies()).filter((cookie) => cookie.name.startsWith('codegrant.session'))).toEqual([])
    } finally {
      await context.close()
    }
  })
})

describe('examples/express in Chromium with two providers (OAUTH_PROVIDERS=alpha,beta: a dev provider each)', () => {
  let example: RunningExample
  beforeAll(async () => {
    example = await startExample('express', { OAUTH_PROVIDERS: 'alpha,beta' })
  }, 60_000)
  afterAll(async () => {
    await example?.stop()
  })

  it('chooses a provider on the chooser page and logs in there; then the other one', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      const issuers = [...example.output().matchAll(/Started a dev provider for (\w+) at (http:\/\/\S+)/g)].map((match) => [match[1], match[2]])
      expect(issuers.map(([name]) => name)).toEqual(['alpha', 'beta'])
      for (const [name, issuer] of [issuers[1]!, issuers[0]!]) {
        await page.goto(example.url)
        await page.getByRole('link', { name: 'Log in' }).click()
        await page.waitForURL(`${example.url}/auth/login`)
        const choices = page.getByRole('navigation', { name: 'Sign-in providers' }).getByRole('link')
        expect(await choices.allTextContents()).toEqual(['Sign in with alpha', 'Sign in with beta'])
        await page.getByRole('link', { name: `Sign in with ${name}` }).click()
        await page.waitForURL((url) => url.href.startsWith(`${issuer}/interaction/`))
        await page.getByLabel('Username').fill('alice')
        await page.getByLabel(/^Password/).fill('anything')
        await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        await page.waitForURL(`${example.url}/`)
        await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(`Signed in as Alice Example with ${name}`)
        expect(await page.locator('#claims tr', { has: page.locator('th code:text-is("iss")') }).locator('td').textContent()).toBe(issuer)
        // log out (at the provider the session came from), back on the signed-out page
        await page.getByRole('button', { name: 'Log out' }).click()
        await page.waitForURL(`${example.url}/`)
        await expect.poll(() => page.getByRole('link', { name: 'Log in' }).count()).toBe(1)
      }
    } finally {
      await context.close()
    }
  })
})
