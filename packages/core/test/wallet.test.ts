import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../src/config/resolve.js'
import { isCodegrantError } from '../src/errors.js'
import { apiUrl, createWallet } from '../src/wallet.js'

const config = resolveConfig({ logger: { warn: () => {}, error: () => {} } }, {
  OAUTH_ISSUER: 'https://id.example.com',
  OAUTH_CLIENT_ID: 'app',
  OAUTH_CLIENT_SECRET: 's3cret',
  OAUTH_BASE_URL: 'https://app.example.com',
  OAUTH_COOKIE_SECRET: 'x'.repeat(32),
  OAUTH_APIS: 'orders,v2,mcp,profile,legacy',
  OAUTH_ORDERS_URL: 'https://api.example.com/orders',
  OAUTH_ORDERS_RESOURCE: 'https://api.example.com/orders',
  OAUTH_V2_URL: 'https://api.example.com/orders/v2/',
  OAUTH_V2_RESOURCE: 'https://api.example.com/orders/v2',
  OAUTH_MCP_URL: 'https://mcp.example.com/mcp',
  OAUTH_MCP_RESOURCE: 'https://mcp.example.com/mcp',
  OAUTH_PROFILE_URL: 'https://profile.example.com',
  OAUTH_LEGACY_URL: 'https://legacy.example.com',
  OAUTH_LEGACY_AUDIENCE: 'legacy',
  OAUTH_LEGACY_TOKEN: 'login',
})
const api = (name: string) => config.apis.find((candidate) => candidate.name === name)!

describe('apiUrl: paths under an API\'s base URL', () => {
  it.each([
    ['/', 'https://api.example.com/orders/'],
    ['', 'https://api.example.com/orders/'],
    ['/items', 'https://api.example.com/orders/items'],
    ['items/1?expand=lines#x', 'https://api.example.com/orders/items/1?expand=lines#x'],
    ['/items:batch', 'https://api.example.com/orders/items:batch'],
    ['/items/..x/a.b', 'https://api.example.com/orders/items/..x/a.b'],
    ['/search?q=../../admin', 'https://api.example.com/orders/search?q=../../admin'],
  ])('joins %j', (path, expected) => {
    expect(apiUrl(api('orders'), path).href).toBe(expected)
  })

  it.each(['..', '../admin', '/items/../../admin', '%2e%2e/admin', '.%2E/admin', 'a/%2e%2e/%2E%2E/admin', 'a%2fb', 'a%5cb', '..\\admin', '.\\..\\admin', '//evil.example/x', 'https://evil.example/x', 'javascript:alert(1)', '%E0%A4%A'])('refuses %j, which would leave it or is no path', (path) => {
    let error: unknown
    try {
      apiUrl(api('orders'), path)
    } catch (caught) {
      error = caught
    }
    expect(isCodegrantError(error, 'codegrant/origin_not_allowed')).toBe(true)
  })
})

describe('the wallet: which API a URL belongs to, and names', () => {
  const wallet = createWallet(config, undefined, () => 60)

  it('picks the API with the longest base URL that holds the URL; its base without the final slash is its own', () => {
    expect(wallet.apiFor(new URL('https://api.example.com/orders/items'))?.name).toBe('orders')
    expect(wallet.apiFor(new URL('https://api.example.com/orders/v2/items'))?.name).toBe('v2')
    expect(wallet.apiFor(new URL('https://api.example.com/orders'))?.name).toBe('orders')
    expect(wallet.apiFor(new URL('https://mcp.example.com/mcp'))?.name).toBe('mcp')
  })

  it("leaves other URLs, other origins and login-token APIs that name their resource to the session's own token; a login-token API that names none may say what it needs (RFC 9728)", () => {
    expect(wallet.apiFor(new URL('https://api.example.com/ordersx'))).toBeUndefined()
    expect(wallet.apiFor(new URL('http://api.example.com/orders/items'))).toBeUndefined()
    expect(wallet.apiFor(new URL('https://legacy.example.com/me'))).toBeUndefined()
    expect(wallet.apiFor(new URL('https://profile.example.com/me'))?.name).toBe('profile')
  })

  it('an unknown name is a TypeError naming the configured APIs', () => {
    expect(() => wallet.api('payroll')).toThrow(/no API named "payroll" \(OAUTH_APIS lists orders, v2, mcp, profile, legacy\)/)
  })
})
