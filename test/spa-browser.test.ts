/**
 * The examples' single-page app (`/spa`, issue 21) in a real browser (Debian's Chromium through
 * playwright-core), each example started as a user starts the demo: `pnpm --dir examples/<name>
 * start`, no configuration (Express 5, Koa 3, Fastify 5). One browser session per framework goes
 * the whole loop: log in through the dev provider's pages, the session's JSON and countdown, both
 * demo APIs through the backend-for-frontend (server-sent events arriving one by one), log out of
 * the app with a fetch, back in silently in a popup, log out at the provider too, after which a
 * silent login is refused. All under the page's CSP, and no token ever visible to its script.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './support/chromium.js'
import { startExample, type RunningExample } from './support/example.js'

/** A JWT (header.payload.): what an access or ID token of the dev provider looks like. */
const JWT = /eyJ[\w-]+\.[\w-]+\./

let browser: Browser
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
})

describe.each(['express', 'koa', 'fastify'])('examples/%s: the single-page app in Chromium', (name) => {
  let example: RunningExample | undefined
  beforeAll(async () => {
    example = await startExample(name)
  }, 60_000)
  afterAll(async () => {
    await example?.stop()
  })

  it('logs in, shows /bff/session and its countdown, calls both APIs (SSE as it streams), logs out, silently back in, out at the provider, silently refused', async () => {
    const url = example!.url
    const context = await browser.newContext()
    try {
      // what the pages' own CSP reports (every page, the popup too), and what their scripts throw
      await context.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) => console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`))
      })
      const problems: string[] = []
      const watch = (page: Page) => {
        page.on('console', (message) => {
          if (/Content Security Policy|CSP violation|Refused to/i.test(message.text())) problems.push(message.text())
        })
        page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`))
      }
      context.on('page', watch)
      const page = await context.newPage()
      // every answer the SPA's script can read (its fetches), read in full
      const readable: Promise<string>[] = []
      page.on('response', (response) => {
        if (response.request().resourceType() === 'fetch') readable.push(response.text().catch(() => ''))
      })

      const spa = await page.goto(`${url}/spa`)
      const csp = spa!.headers()['content-security-policy'] ?? ''
      expect(csp).toContain("default-src 'none'")
      expect(csp).toMatch(/script-src 'nonce-[\w+/=]+';/)
      expect(csp).not.toContain('unsafe')
      const status = page.locator('#status')
      await expect.poll(() => status.textContent()).toBe('Not signed in')
      // signed out: the login link, no logout buttons (and the other way round once signed in)
      const shown = async () => ({
        login: await page.locator('#login').isVisible(),
        logout: await page.locator('#logout').isVisible(),
        everywhere: await page.locator('#logout-everywhere').isVisible(),
      })
      expect(await shown()).toEqual({ login: true, logout: false, everywhere: false })
      const session = async () => JSON.parse((await page.locator('#session-json').textContent())!) as { isAuthenticated: boolean; user: { sub: string } | null; session: { idleExpiresAt: number } | null }

      // log in through the provider's pages, back on /spa
      await page.getByRole('link', { name: 'Log in' }).click()
      await page.waitForURL(/\/interaction\//)
      await page.getByLabel('Username').fill('alice')
      await page.getByLabel(/^Password/).fill('anything')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(`${url}/spa`)
      await expect.poll(() => status.textContent()).toBe('Signed in as Alice Example')
      expect((await session()).user?.sub).toBe('alice')
      expect(await shown()).toEqual({ login: false, logout: true, everywhere: true })
      // from here on the page is never reloaded: this mark would be gone
      await page.evaluate(() => Object.assign(window, { stillThisPage: true }))
      const samePage = () => page.evaluate(() => (window as unknown as { stillThisPage?: boolean }).stillThisPage === true)

      // the countdown, to the idle end (a day), ticking from the session's own times
      expect(await page.locator('#session-left').textContent()).toMatch(/^in 23 h 59 min \(idle end\)$|^in 1 d 0 h \(idle end\)$/)
      expect((await session()).session!.idleExpiresAt).toBeGreaterThan(Date.now() / 1000 + 23 * 3600)

      // both demo APIs, each with its own token (the API answers what it saw: the user, its audience)
      for (const api of ['orders', 'billing']) {
        await page.getByRole('button', { name: `Call the ${api} API` }).click()
        await expect.poll(() => page.locator('#result-title').textContent()).toBe(`GET /bff/${api}/ → 200`)
        expect(JSON.parse((await page.locator('#result-body').textContent())!)).toMatchObject({ api, sub: 'alice' })
      }

      // server-sent events through the proxy: the first is shown while the API has yet to send the last
      await page.getByRole('button', { name: 'Stream events from orders' }).click()
      await page.waitForFunction(() => document.querySelectorAll('#events li').length >= 1, undefined, { polling: 20, timeout: 10_000 })
      expect(await page.locator('#events li').count()).toBeLessThan(3)
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('GET /bff/orders/events → 200: 3 events')
      expect(await page.locator('#events li').allTextContents()).toEqual([1, 2, 3].map((n) => expect.stringMatching(new RegExp(`^tick: .*"sub":"alice","n":${n},"of":3`))))

      // log out of the app with a fetch: signed out, on the same page
      await page.getByRole('button', { name: 'Log out', exact: true }).click()
      await expect.poll(() => status.textContent()).toBe('Not signed in')
      expect((await session()).isAuthenticated).toBe(false)
      expect(await samePage()).toBe(true)

      // silent login in a popup: the provider still knows alice, no form, signed in again, same page
      const popup = page.waitForEvent('popup')
      await page.getByRole('button', { name: 'Silent login' }).click()
      await popup
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('Silent login: signed in')
      await expect.poll(() => status.textContent()).toBe('Signed in as Alice Example')
      expect(await samePage()).toBe(true)
      await expect.poll(async () => (await popup).isClosed()).toBe(true)

      // log out here and at the provider: the form's navigation goes through the provider, back to /spa
      await page.getByRole('button', { name: 'Log out here and at the provider' }).click()
      await page.waitForURL(`${url}/spa`)
      await expect.poll(() => status.textContent()).toBe('Not signed in')

      // now the provider asks for the user: the popup answers login_required, nothing changes
      await page.getByRole('button', { name: 'Silent login' }).click()
      await expect.poll(() => page.locator('#result-title').textContent()).toBe('Silent login: not signed in (login_required)')
      expect((await session()).isAuthenticated).toBe(false)

      // no token in the page, in a cookie its script can read, or in any answer its script read
      expect(await page.content()).not.toMatch(JWT)
      expect(await page.evaluate(() => document.cookie)).not.toContain('codegrant')
      const bodies = await Promise.all(readable)
      expect(bodies.length).toBeGreaterThan(5)
      for (const body of bodies) expect(body).not.toMatch(JWT)
      expect(problems).toEqual([])
    } finally {
      await context.close()
    }
  })
})
