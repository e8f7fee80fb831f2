/** The examples as a user starts them: a bad configuration stops them with every problem listed. */
import { describe, expect, it } from 'vitest'
import { runExample } from './support/example.js'

describe.each(['express', 'koa', 'fastify'])('examples/%s', (name) => {
  it('exits 1 listing every configuration problem, without a stack trace', async () => {
    const { code, output } = await runExample(name, { OAUTH_ISSUER: 'https://id.example.com', OAUTH_COOKIE_SECRET: 'short' })
    expect(code).toBe(1)
    expect(output).toContain('OAUTH_CLIENT_ID is required')
    expect(output).toContain('OAUTH_CLIENT_SECRET is required')
    expect(output).toContain('OAUTH_COOKIE_SECRET must be at least 32 characters (got 5)')
    expect(output).not.toMatch(/\n\s+at .+:\d+:\d+/)
  })
})
