/** The examples as a user starts them: `pnpm --dir examples/<name> start` and the environment only. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API, createAgent, login } from './support/agent.js'
import { runExample, startExample, type RunningExample } from './support/example.js'

describe.each(['express', 'koa', 'fastify'])('examples/%s', (name) => {
  it('exits 1 listing every configuration problem, without a stack trace', async () => {
    const { code, output } = await runExample(name, { OAUTH_ISSUER: 'https://id.example.com', OAUTH_COOKIE_SECRET: 'short' })
    expect(code).toBe(1)
    expect(output).toContain('OAUTH_CLIENT_ID is required')
    expect(output).toContain('OAUTH_CLIENT_SECRET is required')
    expect(output).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters (got 5)')
    expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/)
  })

  describe('with no configuration (the demo)', () => {
    let example: RunningExample
    beforeAll(async () => {
      example = await startExample(name)
    }, 60_000)
    afterAll(async () => {
      await example?.stop()
    })

    it('says loudly that it is a development setup', () => {
      expect(example.output()).toContain('DEVELOPMENT SETUP')
    })

    it('serves the table of routes for alice and bob', async () => {
      const alice = createAgent()
      expect((await alice.request(`${example.url}/me`, { headers: API })).status).toBe(401)
      await login(alice, example.url, 'alice')
      const me = await alice.request(`${example.url}/me`, { headers: API })
      expect(JSON.parse(me.body)).toMatchObject({ user: { sub: 'alice', groups: ['admin'] } })
      const info = await alice.request(`${example.url}/api/userinfo`, { headers: API })
      expect([info.status, JSON.parse(info.body)]).toEqual([200, expect.objectContaining({ sub: 'alice', groups: ['admin'] })])
      expect((await alice.request(`${example.url}/admin`, { headers: API })).body).toBe('{"ok":true}')

      const bob = createAgent()
      await login(bob, example.url, 'bob')
      expect((await bob.request(`${example.url}/admin`, { headers: API })).status).toBe(403)
    })
  })
})
