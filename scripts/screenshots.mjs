#!/usr/bin/env node
// `pnpm screenshots [express|koa|fastify]`: the README's pictures, taken by the system Chromium
// (playwright-core, never a downloaded browser) from the running demo: the dev provider's login
// page, the session inspector and the single-page app (/spa), written to docs/images/. Run `pnpm build` first.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const FRAMEWORKS = ['express', 'koa', 'fastify']
const CHROMIUM = '/usr/bin/chromium'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'docs', 'images')
const framework = process.argv.slice(2).filter((arg) => arg !== '--')[0] ?? 'express'

if (!FRAMEWORKS.includes(framework)) fail(`usage: pnpm screenshots [${FRAMEWORKS.join('|')}]`)
if (!existsSync(join(root, 'examples', framework, 'dist', 'server.js'))) fail(`examples/${framework} is not built yet: run \`pnpm build\` first.`)
if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium).`)
// playwright-core is the test suite's dependency: resolve it from there
const { chromium } = createRequire(join(root, 'test', 'package.json'))('playwright-core')

const app = await startDemo(framework, await freePort())
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
try {
  mkdirSync(out, { recursive: true })
  const context = await browser.newContext({ viewport: { width: 1180, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light', locale: 'en-US' })
  const page = await context.newPage()
  await page.goto(app.url)
  await page.getByRole('link', { name: 'Log in' }).click()
  await page.waitForURL(/\/interaction\//)
  await page.fill('#username', 'alice')
  await page.fill('#password', 'any password')
  await shoot(page, 'login.png')
  await page.click('#login')
  await page.waitForURL(`${app.url}/`)
  await page.getByRole('button', { name: 'Call /api/userinfo' }).click()
  await page.locator('#result-title').filter({ hasText: '200' }).waitFor()
  await page.locator('#result-body').evaluate((element) => element.closest('.result').classList.remove('changed'))
  await shoot(page, 'inspector.png')
  // the single-page app, on the same session: an API called, events streamed
  await page.goto(`${app.url}/spa`)
  await page.getByRole('button', { name: 'Call the orders API' }).click()
  await page.locator('#result-title').filter({ hasText: '200' }).waitFor()
  await page.getByRole('button', { name: 'Stream events from orders' }).click()
  await page.locator('#result-title').filter({ hasText: 'events' }).waitFor()
  await shoot(page, 'spa.png')
  await context.close()
} finally {
  await browser.close()
  await app.stop()
}

async function shoot(page, name) {
  await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur())
  await page.screenshot({ path: join(out, name), fullPage: true, animations: 'disabled' })
  console.log(`wrote docs/images/${name}`)
}

function fail(message) {
  console.error(message)
  process.exit(1)
}

async function freePort() {
  const server = createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The example as `pnpm demo` runs it (no OAUTH_* set: the embedded dev provider), until it says where it listens. */
async function startDemo(name, port) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^OAUTH_|^(ISSUER_BASE_URL|BASE_URL|CLIENT_ID|CLIENT_SECRET|SECRET)$/.test(key)))
  const child = spawn(process.execPath, [join(root, 'examples', name, 'dist', 'server.js')], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const url = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match) resolve(match[1])
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`examples/${name} exited with ${code}:\n${output}`)))
  })
  return {
    url,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', resolve)
      child.kill('SIGTERM')
    }),
  }
}
