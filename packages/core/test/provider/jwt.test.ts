/**
 * The logout token's signature check (provider/jwt.ts) for the algorithms the dev provider does
 * not sign with, against a JWKS served on loopback: key selection, weak keys, rotation, outages.
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { resolveConfig } from '../../src/config/resolve.js'
import { isCodegrantError } from '../../src/errors.js'
import { fetchOptions } from '../../src/provider/http.js'
import { createJwksKeeper, JWKS_REFETCH_WINDOW_MS } from '../../src/provider/jwks.js'
import { createJwtVerifier } from '../../src/provider/jwt.js'
import type { Provider } from '../../src/provider/metadata.js'

interface Signer { alg: string; kid: string; key: KeyObject; jwk: Record<string, unknown> }

function signer(alg: string, type: 'rsa' | 'ec' | 'ed25519', options: Record<string, unknown> = {}): Signer {
  const { privateKey, publicKey } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number })
  const kid = randomUUID()
  return { alg, kid, key: privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig' } }
}

function jws(by: Signer, claims: Record<string, unknown> = { sub: 'alice' }, alg = by.alg): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${encode({ alg, kid: by.kid, typ: 'logout+jwt' })}.${encode(claims)}`
  const hash = by.alg === 'EdDSA' ? null : `sha${by.alg.slice(2)}`
  const options = by.alg.startsWith('PS') ? { key: by.key, padding: 6, saltLength: Number(by.alg.slice(2)) / 8 } : { key: by.key, dsaEncoding: 'ieee-p1363' as const }
  return `${input}.${sign(hash, Buffer.from(input), options).toString('base64url')}`
}

describe('logout token signatures', () => {
  const signers = {
    ps256: signer('PS256', 'rsa', { modulusLength: 2048 }),
    es256: signer('ES256', 'ec', { namedCurve: 'P-256' }),
    es384: signer('ES384', 'ec', { namedCurve: 'P-384' }),
    eddsa: signer('EdDSA', 'ed25519'),
    weak: signer('RS256', 'rsa', { modulusLength: 1024 }),
  }
  let keys = Object.values(signers).map((one) => one.jwk)
  let failing = false
  let fetches = 0
  let server: Server
  /** The provider as a new app sees it: its keys not fetched yet. */
  let provider: () => () => Promise<Pick<Provider, 'as' | 'http' | 'jwks'>>
  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++
      res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const config = resolveConfig({ logger: { warn: () => {}, error: () => {} } }, {
      OAUTH_ISSUER: issuer, OAUTH_CLIENT_ID: 'app', OAUTH_CLIENT_SECRET: 's', OAUTH_BASE_URL: 'http://127.0.0.1:1', OAUTH_COOKIE_SECRET: 'x'.repeat(32),
    })
    const http = fetchOptions(config.providers[0]!, config.httpTimeout)
    provider = () => {
      const resolved: Pick<Provider, 'as' | 'http' | 'jwks'> = { as: { issuer, jwks_uri: `${issuer}/jwks` }, http, jwks: createJwksKeeper() }
      return async () => resolved
    }
  })
  afterEach(() => {
    vi.useRealTimers()
    failing = false
  })
  afterAll(() => new Promise((resolve) => server.close(resolve)))

  const code = (pending: Promise<unknown>) => pending.then(() => 'verified', (error: unknown) => (isCodegrantError(error) ? error.code : String(error)))

  it('verifies PS256, ES256, ES384 and EdDSA with the key its kid names, and only with the pinned algorithm', async () => {
    const verify = createJwtVerifier(provider())
    for (const one of [signers.ps256, signers.es256, signers.es384, signers.eddsa]) {
      expect((await verify(jws(one), one.alg)).claims).toEqual({ sub: 'alice' })
    }
    expect(await code(verify(jws(signers.es256), 'PS256'))).toBe('codegrant/logout_token_invalid')
    expect(await code(verify(jws(signers.es256, { sub: 'alice' }, 'ES384'), 'ES384'))).toBe('codegrant/logout_token_invalid')
    expect(await code(verify(jws(signers.ps256), 'HS256'))).toBe('codegrant/logout_token_invalid')
    expect(fetches).toBeGreaterThan(0)
  })

  it('refuses RSA keys shorter than 2048 bits', async () => {
    expect(await code(createJwtVerifier(provider())(jws(signers.weak), 'RS256'))).toBe('codegrant/logout_token_invalid')
  })

  it('refetches the keys at once for an unknown kid, so a rotated key verifies; at most once per window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const verify = createJwtVerifier(provider())
    await verify(jws(signers.es256), 'ES256')
    const rotated = signer('ES256', 'ec', { namedCurve: 'P-256' })
    keys = [...keys, rotated.jwk]
    const before = fetches
    expect(await code(verify(jws(rotated), 'ES256'))).toBe('verified')
    expect(fetches).toBe(before + 1)
    // a forged kid within the window: refused, the keys not fetched again
    const stranger = signer('ES256', 'ec', { namedCurve: 'P-256' })
    expect(await code(verify(jws(stranger), 'ES256'))).toBe('codegrant/logout_token_invalid')
    expect(fetches).toBe(before + 1)
    vi.setSystemTime(Date.now() + JWKS_REFETCH_WINDOW_MS)
    expect(await code(verify(jws(stranger), 'ES256'))).toBe('codegrant/logout_token_invalid')
    expect(fetches).toBe(before + 2)
  })

  it('answers provider_unavailable when the keys cannot be fetched', async () => {
    failing = true
    expect(await code(createJwtVerifier(provider())(jws(signers.es256), 'ES256'))).toBe('codegrant/provider_unavailable')
  })
})
