/**
 * Type tests (checked by vitest's typecheck with tsc): the request shape resolves to the same
 * type in every adapter, and the guard's options are typed.
 */
import type { OAuthRequestState, RequireAuthOptions, SessionTimes, TokenSet, UserClaims } from '@codegrant/core'
import * as cgExpress from '@codegrant/express'
import * as cgFastify from '@codegrant/fastify'
import * as cgKoa from '@codegrant/koa'
import type { Request } from 'express'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Context, ParameterizedContext } from 'koa'
import { describe, expectTypeOf, it } from 'vitest'

describe('request shape', () => {
  it('is the same OAuthRequestState on req, ctx.state and request', () => {
    expectTypeOf<Request['oauth']>().toEqualTypeOf<OAuthRequestState>()
    expectTypeOf<Context['state']['oauth']>().toEqualTypeOf<OAuthRequestState>()
    expectTypeOf<ParameterizedContext<cgKoa.OAuthState>['state']['oauth']>().toEqualTypeOf<OAuthRequestState>()
    expectTypeOf<FastifyRequest['oauth']>().toEqualTypeOf<OAuthRequestState>()
  })

  it('exposes the documented members', () => {
    expectTypeOf<OAuthRequestState['isAuthenticated']>().toEqualTypeOf<boolean>()
    expectTypeOf<OAuthRequestState['provider']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<Request['oauth']['provider']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<Context['state']['oauth']['provider']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<FastifyRequest['oauth']['provider']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<OAuthRequestState['user']>().toEqualTypeOf<Readonly<UserClaims> | undefined>()
    expectTypeOf<OAuthRequestState['tokens']>().toEqualTypeOf<Readonly<TokenSet> | undefined>()
    expectTypeOf<OAuthRequestState['accessToken']>().returns.toEqualTypeOf<Promise<string>>()
    expectTypeOf<OAuthRequestState['fetch']>().returns.toEqualTypeOf<Promise<Response>>()
    expectTypeOf<OAuthRequestState['refresh']>().returns.toEqualTypeOf<Promise<Readonly<TokenSet>>>()
    expectTypeOf<OAuthRequestState['session']>().toEqualTypeOf<Readonly<SessionTimes> | undefined>()
  })

  it("calls an API of OAUTH_APIS by name in every adapter: fetch(api, path, init?) and accessToken(api)", () => {
    const calls = (oauth: OAuthRequestState) => [oauth.fetch('orders', '/items', { method: 'POST' }), oauth.fetch('orders', '/items'), oauth.fetch(new URL('https://api.example.com/'))] as const
    expectTypeOf(calls).returns.toEqualTypeOf<readonly [Promise<Response>, Promise<Response>, Promise<Response>]>()
    expectTypeOf((req: Request) => req.oauth.accessToken('orders')).returns.toEqualTypeOf<Promise<string>>()
    expectTypeOf((ctx: Context) => ctx.state.oauth.fetch('billing', '/')).returns.toEqualTypeOf<Promise<Response>>()
    expectTypeOf((request: FastifyRequest) => request.oauth.accessToken('billing')).returns.toEqualTypeOf<Promise<string>>()
    // a URL object is no API name
    // @ts-expect-error fetch(api, path) takes the API's name
    expectTypeOf((oauth: OAuthRequestState) => oauth.fetch(new URL('https://api.example.com/'), '/items'))
  })
})

// an app's own claims, by declaration merging
declare module '@codegrant/core' {
  interface UserClaims {
    roles?: string[]
  }
}

describe('user claims', () => {
  it('types the standard OpenID Connect claims and merges the app\'s own', () => {
    type User = NonNullable<Request['oauth']['user']>
    expectTypeOf<User['sub']>().toEqualTypeOf<string>()
    expectTypeOf<User['name']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<User['email_verified']>().toEqualTypeOf<boolean | undefined>()
    expectTypeOf<User['roles']>().toEqualTypeOf<string[] | undefined>()
    expectTypeOf<User['anything_else']>().toEqualTypeOf<unknown>()
    expectTypeOf<OAuthRequestState['userinfo']>().returns.toEqualTypeOf<Promise<Readonly<UserClaims>>>()
    expectTypeOf<OAuthRequestState['data']>().toEqualTypeOf<Readonly<Record<string, unknown>> | undefined>()
  })
})

describe('requireAuth', () => {
  it('takes the same typed options in every adapter', () => {
    expectTypeOf(cgExpress.requireAuth).parameter(0).toEqualTypeOf<RequireAuthOptions | undefined>()
    expectTypeOf(cgKoa.requireAuth).parameter(0).toEqualTypeOf<RequireAuthOptions | undefined>()
    expectTypeOf(cgFastify.requireAuth).parameter(0).toEqualTypeOf<RequireAuthOptions | undefined>()
    expectTypeOf<FastifyInstance['requireAuth']>().toEqualTypeOf<typeof cgFastify.requireAuth>()
  })

  it('rejects options that are not options', () => {
    // @ts-expect-error scopes is a list
    cgExpress.requireAuth({ scopes: 'admin' })
    // @ts-expect-error no such option
    cgKoa.requireAuth({ role: 'admin' })
    cgFastify.requireAuth({ claims: (user) => Array.isArray(user.groups) })
  })
})
