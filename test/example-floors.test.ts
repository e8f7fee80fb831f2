/**
 * The examples bench's floors (bench/src/example-floors.mjs) have each example's exact routes: the
 * same list, in the same order, as the example built with the demo's options (the BFF on, two
 * APIs, the post-logout redirect URI), so a route added to an example cannot leave its floor behind.
 */
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module of the bench, without types
import { floors, routeList } from '../bench/src/example-floors.mjs'

const base = 'http://localhost:3000'
/** The options the one-provider demo gives the app (examples/kit run.ts, dev-provider demo.ts), on a loopback issuer. */
const demoOptions = {
  issuer: 'http://127.0.0.1:9/',
  clientId: 'codegrant-demo',
  clientSecret: 'demo-client-secret-0123456789abcdef',
  baseUrl: base,
  cookieSecret: 'demo-cookie-secret-0123456789abcdef-0123',
  postLogoutRedirectUri: `${base}/auth/logout/done`,
  bff: true,
  apis: { orders: { url: 'http://127.0.0.1:1', resource: 'http://127.0.0.1:1' }, billing: { url: 'http://127.0.0.1:2', audience: 'demo-billing' } },
  logger: { warn() {}, error() {} },
}

describe.each(['fastify', 'express', 'koa'])('bench floor of examples/%s', (framework) => {
  it('has the example\'s routes, methods and handler counts in the example\'s order', async () => {
    const { createApp } = (await import(`../examples/${framework}/dist/app.js`)) as { createApp(options: object): unknown }
    const example = await createApp(demoOptions)
    const floor = await floors[framework]({ sub: 'alice' })
    const [exampleRoutes, floorRoutes] = [await routeList(framework, example), await routeList(framework, floor)]
    expect(exampleRoutes.length).toBeGreaterThan(8)
    expect(floorRoutes).toEqual(exampleRoutes)
  })
})
