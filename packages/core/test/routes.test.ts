import { describe, expect, it } from 'vitest'
import { createCodegrant } from '../src/codegrant.js'
import type { OAuthOptions } from '../src/config.js'

const options = (extra: OAuthOptions = {}): OAuthOptions => ({
  issuer: 'http://127.0.0.1:9',
  clientId: 'app',
  clientSecret: 'secret',
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: 'n'.repeat(32),
  logger: { warn() {}, error() {} },
  ...extra,
})

describe('route matching (per request, before anything else)', () => {
  it('finds the default routes with or without a query, and nothing else', () => {
    const { match } = createCodegrant(options(), {})
    expect(['/auth/login', '/auth/callback?code=c&state=s', '/auth/logout?x=1'].map(match)).toEqual(['login', 'callback', 'logout'])
    expect(['/', '/me', '/auth', '/auth/', '/auth/loginx', '/x/auth/login', '/auth/login/', '/AUTH/LOGIN', '?/auth/login'].map(match)).toEqual(Array(9).fill(undefined))
  })

  it('finds configured routes that share no prefix but "/"', () => {
    const { match } = createCodegrant(options({ routes: { login: '/signin', callback: '/oauth/cb', logout: '/bye' } }), {})
    expect(['/signin?returnTo=%2F', '/oauth/cb', '/bye'].map(match)).toEqual(['login', 'callback', 'logout'])
    expect(['/auth/login', '/sign', '/oauth', '/me'].map(match)).toEqual([undefined, undefined, undefined, undefined])
  })
})
