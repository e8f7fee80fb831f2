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

  it('logs alice in through the dev provider, shows her name, and logs her out', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      await page.goto(example.url)
      await page.getByRole('link', { name: /log in/i }).click()
      await page.waitForURL(/\/interaction\//)
      await page.fill('#username', 'alice')
      await page.fill('#password', 'anything')
      await page.click('#login')
      await page.waitForURL(`${example.url}/`)
      await expect.poll(() => page.textContent('body')).toContain('Alice Example')

      // the session cookie is HttpOnly: the page's script cannot read it
      expect(await page.evaluate(() => document.cookie)).not.toContain('codegrant')
      const me = await page.goto(`${example.url}/me`)
      expect(await me!.json()).toMatchObject({ user: { sub: 'alice', groups: ['admin'] } })
      expect((await page.goto(`${example.url}/admin`))!.status()).toBe(200)

      await page.goto(example.url)
      await page.getByRole('link', { name: /log ?out/i }).click()
      await page.waitForURL(`${example.url}/`)
      await expect.poll(() => page.textContent('body')).toMatch(/log in/i)
      expect((await page.goto(`${example.url}/me`))!.url()).toContain('/interaction/')
    } finally {
      await context.close()
    }
  })

  it('sends a signed-out browser from /me to the login page and back to /me', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      await page.goto(`${example.url}/me`)
      await page.waitForURL(/\/interaction\//)
      await page.fill('#username', 'bob')
      await page.fill('#password', 'x')
      await page.click('#login')
      await page.waitForURL(`${example.url}/me`)
      expect(JSON.parse((await page.textContent('body'))!)).toMatchObject({ user: { sub: 'bob' } })
      expect((await page.goto(`${example.url}/admin`))!.status()).toBe(403)
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
