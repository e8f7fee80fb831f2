import { describe, expect, it } from 'vitest'
import { createCodegrant } from '../../src/codegrant.js'
import type { OAuthOptions } from '../../src/config/options.js'
import type { Route } from '../../src/routes/provider-routes.js'

const options = (extra: OAuthOptions = {}): OAuthOptions => ({
  issuer: 'http://127.0.0.1:9',
  clientId: 'app',
  clientSecret: 'secret',
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: 'n'.repeat(32),
  logger: { warn() {}, error() {} },
  ...extra,
})

/** A matched route as one word (`login`, `callback:corp`), to compare many at once. */
const label = (route: Route | undefined) => route && (route.provider === undefined ? route.kind : `${route.kind}:${route.provider}`)

describe('route matching (per request, before anything else)', () => {
  it('finds the default routes with or without a query, and nothing else', () => {
    const { match: find } = createCodegrant(options(), {})
    const match = (url: string) => label(find(url))
    expect(['/auth/login', '/auth/callback?code=c&state=s', '/auth/logout?x=1'].map(match)).toEqual(['login', 'callback', 'logout'])
    expect(['/', '/me', '/auth', '/auth/', '/auth/loginx', '/x/auth/login', '/auth/login/', '/AUTH/LOGIN', '?/auth/login'].map(match)).toEqual(Array(9).fill(undefined))
  })

  it('finds configured routes that share no prefix but "/"', () => {
    const { match: find } = createCodegrant(options({ routes: { login: '/signin', callback: '/oauth/cb', logout: '/bye' } }), {})
    const match = (url: string) => label(find(url))
    expect(['/signin?returnTo=%2F', '/oauth/cb', '/bye'].map(match)).toEqual(['login', 'callback', 'logout'])
    expect(['/auth/login', '/sign', '/oauth', '/me'].map(match)).toEqual([undefined, undefined, undefined, undefined])
  })
})

describe('route matching with several providers', () => {
  it('finds each provider\'s login and callback (and the design\'s spelling), the chooser, and nothing for an unknown name', () => {
    const { match: find, served } = createCodegrant({ ...options(), issuer: undefined, clientId: undefined, clientSecret: undefined, providers: { github: { issuer: 'http://127.0.0.1:9', clientId: 'gh', clientSecret: 's' }, corp: { issuer: 'http://127.0.0.2:9', clientId: 'c', clientSecret: 's' } } }, {})
    const match = (url: string) => label(find(url))
    expect(['/auth/login', '/auth/login/github?returnTo=%2F', '/auth/github/login', '/auth/callback/corp?code=c', '/auth/corp/callback', '/auth/logout'].map(match)).toEqual(['login', 'login:github', 'login:github', 'callback:corp', 'callback:corp', 'logout'])
    expect(['/auth/callback', '/auth/login/gitlab', '/auth/callback/', '/auth/login/github/x'].map(match)).toEqual(Array(4).fill(undefined))
    expect(served.map(({ path }) => path)).toEqual(['/auth/login', '/auth/login/github', '/auth/github/login', '/auth/callback/github', '/auth/github/callback', '/auth/login/corp', '/auth/corp/login', '/auth/callback/corp', '/auth/corp/callback', '/auth/logout', '/auth/logout/done'])
  })
})

describe('routes are plain data', () => {
  it('{ kind, provider }: frozen, and one object per provider and kind, whatever path of it matched', () => {
    const { match, served } = createCodegrant({ ...options(), issuer: undefined, clientId: undefined, clientSecret: undefined, providers: { github: { issuer: 'http://127.0.0.1:9', clientId: 'gh', clientSecret: 's' }, corp: { issuer: 'http://127.0.0.2:9', clientId: 'c', clientSecret: 's' } } }, {})
    expect(match('/auth/login/github')).toEqual({ kind: 'login', provider: 'github' })
    expect(match('/auth/corp/callback?code=c')).toEqual({ kind: 'callback', provider: 'corp' })
    expect(match('/auth/logout')).toEqual({ kind: 'logout' })
    expect(match('/auth/github/login')).toBe(match('/auth/login/github'))
    expect(served.every(({ route }) => Object.isFrozen(route))).toBe(true)
  })
})
