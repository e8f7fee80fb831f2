/**
 * Every client authentication method against the real provider: client_secret_basic is the
 * suite's default; here client_secret_post and private_key_jwt (RFC 7523) sign in too.
 */
import { generateKeyPairSync } from 'node:crypto'
import { startDevProvider, type DevProvider } from '@codegrant/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgent, login } from './support/agent.js'
import { buildHandler, openStage, type Stage } from './support/apps.js'
import { captureLogs, SECRET_A } from './support/provider.js'

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: 'suite-key', alg: 'ES256', use: 'sig' }

let provider: DevProvider
const stages: Record<'post' | 'jwt', Stage> = {} as Record<'post' | 'jwt', Stage>

beforeAll(async () => {
  stages.post = await openStage()
  stages.jwt = await openStage()
  provider = await startDevProvider({
    quiet: true,
    clients: [
      { client_id: 'post-client', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post', redirect_uris: [`${stages.post.url}/auth/callback`] },
      {
        client_id: 'jwt-client',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [publicJwk] },
        redirect_uris: [`${stages.jwt.url}/auth/callback`],
      },
    ],
  })
})
afterAll(async () => {
  await Promise.all(Object.values(stages).map((stage) => stage.close()))
  await provider.close()
})

describe('client authentication', () => {
  it('signs in with client_secret_post', async () => {
    const stage = stages.post
    stage.mount(await buildHandler('express5', {
      issuer: provider.issuer, clientId: 'post-client', clientSecret: 'post-secret', clientAuthMethod: 'client_secret_post',
      baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs(),
    }, `${provider.issuer}/me`))
    const result = await login(createAgent(), stage.url, 'alice')
    expect(result.last.body).toBe('signed in as alice')
  })

  it('signs in with private_key_jwt from a PEM key', async () => {
    const stage = stages.jwt
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    stage.mount(await buildHandler('express5', {
      issuer: provider.issuer, clientId: 'jwt-client', clientAuthMethod: 'private_key_jwt', privateKey: pem,
      baseUrl: stage.url, cookieSecret: SECRET_A, logger: captureLogs(),
    }, `${provider.issuer}/me`))
    const result = await login(createAgent(), stage.url, 'bob')
    expect(result.last.body).toBe('signed in as bob')
    expect(provider.events.filter((e) => e.name === 'grant.success' && e.clientId === 'jwt-client')).toHaveLength(1)
  })
})
