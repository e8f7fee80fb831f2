import { describe, expect, it } from 'vitest'
import { createCodegrant } from '../../src/codegrant.js'
import { guard } from '../../src/guard.js'
import type { OAuthOptions } from '../../src/config/options.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { createSessionBackend } from '../../src/session/backend.js'
import { userClaims } from '../../src/session/claims.js'
import { createCookieCodec, type CookieCodec } from '../../src/session/cookie-codec.js'
import { parseCookies, type RequestCookies } from '../../src/session/cookie-jar.js'
import { createOpenedCache } from '../../src/session/opened-cache.js'
import type { SessionData } from '../../src/session/store.js'

const OLD = 'o'.repeat(32)
const NEW = 'n'.repeat(32)
const NAME = 'codegrant.session'
const T0 = 1_800_000_000

const options = (extra: OAuthOptions = {}): OAuthOptions => ({
  issuer: 'http://127.0.0.1:9',
  clientId: 'app',
  clientSecret: 'secret',
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: NEW,
  logger: { warn() {}, error() {} },
  ...extra,
})

function idToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`
}

function session(extra: Partial<SessionData> = {}): SessionData {
  return {
    sid: 'sid-1',
    iat: T0,
    uat: T0,
    exp: T0 + 3600,
    identity: { provider: 'default', iss: 'http://127.0.0.1:9', sub: 'alice' },
    tokens: { accessToken: 'at', tokenType: 'bearer', scope: 'openid', idToken: idToken({ iss: 'http://127.0.0.1:9', sub: 'alice', groups: ['admin'] }) },
    ...extra,
  }
}

/** The real codec, counting how often a cookie is actually decrypted. */
function countingCodec(secrets: string[]): CookieCodec & { opens: number } {
  const codec = createCookieCodec(secrets)
  const counting = {
    opens: 0,
    seal: codec.seal,
    open(name: string, sealed: string) {
      counting.opens++
      return codec.open(name, sealed)
    },
  }
  return counting
}

function cookieBackend(extra: OAuthOptions = {}, secrets = [NEW]) {
  const codec = countingCodec(secrets)
  const config = resolveConfig(options({ cookieSecret: secrets, ...extra }), {})
  return { codec, backend: createSessionBackend(config, codec, NAME) }
}

/** The request cookies a browser sends back after these `Set-Cookie` values. */
function jar(setCookies: string[]): RequestCookies {
  return parseCookies(setCookies.map((line) => line.split(';')[0]).join('; '))
}

function sealedCookie(data: SessionData, secrets = [NEW]): RequestCookies {
  return { [NAME]: createCookieCodec(secrets).seal(NAME, JSON.stringify(data)) }
}

describe('opened-session cache', () => {
  it('decrypts a cookie once and answers later requests from the cache', () => {
    const { codec, backend } = cookieBackend()
    const cookies = sealedCookie(session())
    const first = backend.read(cookies, T0 + 1)
    const second = backend.read({ ...cookies }, T0 + 2)
    expect(first).toMatchObject({ sid: 'sid-1' })
    expect(second).toBe(first)
    expect(codec.opens).toBe(1)
  })

  it('never answers a tampered cookie from the cache, wherever the change is', () => {
    const { codec, backend } = cookieBackend()
    const cookies = sealedCookie(session())
    const sealed = cookies[NAME]!
    expect(backend.read(cookies, T0)).toBeDefined()
    for (const at of [0, 5, 20, 37, 38, 39, 60, sealed.length - 2, sealed.length - 1]) {
      const flipped = sealed.slice(0, at) + (sealed[at] === 'A' ? 'B' : 'A') + sealed.slice(at + 1)
      expect(backend.read({ [NAME]: flipped }, T0), `change at ${at}`).toBeUndefined()
    }
    // characters Node's base64url decoder would skip, and a cut or extended value
    for (const variant of [`${sealed.slice(0, 50)}!${sealed.slice(50)}`, `${sealed.slice(0, 50)} ${sealed.slice(50)}`, `${sealed}A`, sealed.slice(0, -1), `${sealed}=`]) {
      expect(backend.read({ [NAME]: variant }, T0), variant.slice(40, 60)).toBeUndefined()
    }
    // every variant was a miss (decrypted, refused); the genuine cookie is still a hit
    expect(codec.opens).toBe(15)
    expect(backend.read(cookies, T0)).toBeDefined()
    expect(codec.opens).toBe(15)
  })

  it('compares a chunked session chunk by chunk: any changed, missing or extra chunk is a miss', () => {
    const { codec, backend } = cookieBackend()
    const sealed = createCookieCodec([NEW]).seal(NAME, JSON.stringify(session({ user: { sub: 'alice', bio: 'b'.repeat(9000) } })))
    const chunks = [sealed.slice(0, 4000), sealed.slice(4000, 8000), sealed.slice(8000)]
    const jarOf = (parts: string[]) => Object.fromEntries(parts.map((part, i) => [`${NAME}.${i}`, part]))
    expect(backend.read(jarOf(chunks), T0)).toMatchObject({ sid: 'sid-1' })
    expect(backend.read(jarOf([...chunks]), T0)).toMatchObject({ sid: 'sid-1' })
    expect(codec.opens).toBe(1)
    const flipped = chunks[1]!.slice(0, 100) + (chunks[1]![100] === 'A' ? 'B' : 'A') + chunks[1]!.slice(101)
    expect(backend.read(jarOf([chunks[0]!, flipped, chunks[2]!]), T0)).toBeUndefined()
    expect(backend.read(jarOf(chunks.slice(0, 2)), T0)).toBeUndefined()
    expect(backend.read(jarOf([...chunks, 'AAAA']), T0)).toBeUndefined()
    expect(codec.opens).toBe(4)
    expect(backend.read(jarOf(chunks), T0)).toMatchObject({ sid: 'sid-1' })
    expect(codec.opens).toBe(4)
  })

  it('checks the absolute and idle expiry on every hit', () => {
    const { codec, backend } = cookieBackend({ sessionIdleTimeout: 600 })
    const cookies = sealedCookie(session({ uat: T0, exp: T0 + 3600 }))
    expect(backend.read(cookies, T0 + 599)).toBeDefined()
    expect(backend.read(cookies, T0 + 600)).toBeUndefined() // idle
    const longIdle = cookieBackend({ sessionIdleTimeout: 86_400 })
    const aged = sealedCookie(session({ uat: T0, exp: T0 + 3600 }))
    expect(longIdle.backend.read(aged, T0 + 3599)).toBeDefined()
    expect(longIdle.backend.read(aged, T0 + 3600)).toBeUndefined() // absolute
    expect(codec.opens).toBe(1)
    expect(longIdle.codec.opens).toBe(1)
  })

  it('forgets the request cookie when the session is written again (renewal, refresh, rotation) or cleared (logout)', () => {
    const { codec, backend } = cookieBackend()
    const cookies = sealedCookie(session())
    backend.read(cookies, T0)
    const written = backend.write(cookies, session({ uat: T0 + 10 }), T0 + 10) as string[]
    backend.read(cookies, T0 + 10)
    expect(codec.opens).toBe(2) // the old value was decrypted again
    expect(backend.read(jar(written), T0 + 10)).toMatchObject({ uat: T0 + 10 })
    backend.read(jar(written), T0 + 11)
    expect(codec.opens).toBe(3)
    backend.clear(jar(written), undefined)
    backend.read(jar(written), T0 + 12)
    expect(codec.opens).toBe(4)
  })

  it('does not let a cookie sealed with a retired key in once the key list changes', () => {
    const now = Math.floor(Date.now() / 1000)
    const sealed = sealedCookie(session({ iat: now, uat: now, exp: now + 3600 }), [OLD])[NAME]
    const request = { method: 'GET', url: '/me', headers: { accept: 'application/json', cookie: `${NAME}=${sealed}` } }
    const decide = (codegrant: ReturnType<typeof createCodegrant>) => guard(codegrant.attach(request, () => {}, undefined))
    const rotating = createCodegrant(options({ cookieSecret: [NEW, OLD] }), {})
    expect(decide(rotating)).toBeUndefined()
    expect(decide(rotating)).toBeUndefined() // answered from the cache
    const retired = createCodegrant(options({ cookieSecret: [NEW] }), {})
    expect(decide(retired)).toMatchObject({ status: 401 })
    expect(decide(retired)).toMatchObject({ status: 401 })
  })

  it('is bounded by entries and by characters, oldest first; size 0 turns it off', () => {
    const { codec, backend } = cookieBackend({ sessionCacheSize: 2 })
    const a = sealedCookie(session({ sid: 'a' }))
    const b = sealedCookie(session({ sid: 'b' }))
    const c = sealedCookie(session({ sid: 'c' }))
    for (const cookies of [a, b, c, b, c]) backend.read(cookies, T0)
    expect(codec.opens).toBe(3)
    backend.read(a, T0) // evicted by c
    expect(codec.opens).toBe(4)

    const off = cookieBackend({ sessionCacheSize: 0 })
    off.backend.read(a, T0)
    off.backend.read(a, T0)
    expect(off.codec.opens).toBe(2)

    const cache = createOpenedCache<number>(100, 250)
    // each value a key of its own (the first characters differ, as a sealed value's random IV does)
    const value = (n: number) => `${String(n).padEnd(38, 'k')}${'v'.repeat(60)}`
    for (let n = 0; n < 5; n++) cache.set([value(n)], n)
    expect(cache.size).toBe(2) // 98 characters each, 250 at most
    expect(cache.get([value(4)])).toBe(4)
    expect(cache.get([value(0)])).toBeUndefined()
    cache.set(['x'.repeat(200), 'y'.repeat(100)], 9) // longer than the whole budget: not kept
    expect(cache.size).toBe(2)
  })

  it('answers only the exact value when two values share a lookup key (their first characters): a miss, never the other\'s', () => {
    const cache = createOpenedCache<string>(100, 100_000)
    // the same first 38 characters, so the same key whatever the key's length; the rest differs
    const prefix = 'I'.repeat(38)
    const alice = `${prefix}${'a'.repeat(1500)}`
    const bob = `${prefix}${'b'.repeat(1500)}`
    cache.set([alice], 'alice')
    expect(cache.get([alice])).toBe('alice')
    expect(cache.get([bob])).toBeUndefined()
    expect(cache.get([`${alice.slice(0, -1)}b`])).toBeUndefined()
    // the later value takes the key's place: alice misses (and would be decrypted again), bob is bob
    cache.set([bob], 'bob')
    expect(cache.get([bob])).toBe('bob')
    expect(cache.get([alice])).toBeUndefined()
    // deleting a value that only shares the key leaves the cached one
    cache.delete([alice])
    expect(cache.get([bob])).toBe('bob')
    expect(cache.size).toBe(1)
    // shorter than a key, and empty: looked up like any other
    cache.set(['abc'], 'short')
    expect(cache.get(['abc'])).toBe('short')
    expect(cache.get(['abd'])).toBeUndefined()
    expect(cache.get([''])).toBeUndefined()
  })

  it('shares one frozen session and one frozen set of claims between requests', () => {
    const { backend } = cookieBackend()
    const cookies = sealedCookie(session())
    const data = backend.read(cookies, T0) as SessionData
    expect(Object.isFrozen(data) && Object.isFrozen(data.tokens)).toBe(true)
    const claims = userClaims(data, true)
    expect(claims).toEqual({ iss: 'http://127.0.0.1:9', sub: 'alice', groups: ['admin'] })
    expect(userClaims(backend.read(cookies, T0) as SessionData, true)).toBe(claims)
    expect(Object.isFrozen(claims) && Object.isFrozen(claims.groups)).toBe(true)
  })

  it('keeps the memory store authoritative: a destroyed session is gone even though its cookie is cached', () => {
    const codec = countingCodec([NEW])
    const backend = createSessionBackend(resolveConfig(options({ sessionStore: 'memory' }), {}), codec, NAME)
    const data = session()
    const cookies = jar(backend.write({}, data, T0, true) as string[])
    expect(backend.read(cookies, T0)).toBe(data)
    expect(backend.read(cookies, T0)).toBe(data)
    expect(codec.opens).toBe(1)
    const other = jar(backend.write({}, session({ sid: 'sid-2' }), T0, true) as string[])
    backend.read(other, T0)
    backend.clear({}, data) // another request (or process restart of the record) ends it
    expect(backend.read(cookies, T0)).toBeUndefined()
  })
})
