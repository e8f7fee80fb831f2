import { afterEach, describe, expect, it, vi } from 'vitest'
import { createCodegrant } from '../src/codegrant.js'
import { guard } from '../src/guard.js'
import type { OAuthOptions } from '../src/config/options.js'
import type { CoreRequest } from '../src/http.js'
import { createCookieCodec } from '../src/session/cookie-codec.js'
import type { SessionData } from '../src/session/store.js'

// The per-connection memo (context.ts, behind readSession): a keep-alive connection that sends the very same
// Cookie header again is not parsed and opened again. With the opened-session cache off, every
// opening decrypts and parses anew and so yields a new session object: whether two requests got
// the same `user` object shows whether the second was answered from the memo.

const SECRET = 's'.repeat(32)
const NAME = 'codegrant.session'
const T0 = 1_800_000_000

const options: OAuthOptions = {
  issuer: 'http://127.0.0.1:9',
  clientId: 'app',
  clientSecret: 'secret',
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: SECRET,
  sessionCacheSize: 0,
  sessionIdleTimeout: 600,
  logger: { warn() {}, error() {} },
}

function idToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`
}

function sealed(extra: Partial<SessionData> = {}): string {
  const data: SessionData = { sid: 'sid-1', iat: T0, uat: T0, exp: T0 + 3600, identity: { provider: 'default', iss: 'http://127.0.0.1:9', sub: 'alice' }, tokens: { accessToken: 'at', tokenType: 'bearer', scope: 'openid', idToken: idToken({ iss: 'http://127.0.0.1:9', sub: 'alice' }) }, ...extra }
  return createCookieCodec([SECRET]).seal(NAME, JSON.stringify(data))
}

const request = (cookie: string | undefined, connection?: object): CoreRequest => ({
  method: 'GET',
  url: '/me',
  headers: { accept: 'application/json', ...(cookie === undefined ? {} : { cookie }) },
  ...(connection ? { connection } : {}),
})

describe('per-connection memo of the session cookie', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  const setUp = () => {
    vi.useFakeTimers({ now: (T0 + 1) * 1000 })
    const codegrant = createCodegrant(options, {})
    const userOf = (cookie: string | undefined, connection?: object) => codegrant.attach(request(cookie, connection), () => {}, undefined).user
    return { codegrant, userOf }
  }

  it('opens the same Cookie header once per connection, and every other header anew', () => {
    const { userOf } = setUp()
    const header = `${NAME}=${sealed()}`
    const socket = {}
    const first = userOf(header, socket)
    expect(first).toMatchObject({ sub: 'alice' })
    expect(userOf(header, socket)).toBe(first)
    // without a connection, or on another one, or with any other header: opened again
    expect(userOf(header)).not.toBe(first)
    expect(userOf(header, {})).not.toBe(first)
    const withOther = userOf(`a=1; ${header}`, socket)
    expect(withOther).toMatchObject({ sub: 'alice' })
    expect(withOther).not.toBe(first)
  })

  it('never answers a changed cookie from the memo: tampered, cut or foreign is signed out', () => {
    const { userOf } = setUp()
    const value = sealed()
    const socket = {}
    expect(userOf(`${NAME}=${value}`, socket)).toMatchObject({ sub: 'alice' })
    const flipped = value.slice(0, 40) + (value[40] === 'A' ? 'B' : 'A') + value.slice(41)
    for (const header of [`${NAME}=${flipped}`, `${NAME}=${value.slice(0, -1)}`, `${NAME}=${createCookieCodec(['x'.repeat(32)]).seal(NAME, '{}')}`, '']) {
      expect(userOf(header, socket), header.slice(0, 60)).toBeUndefined()
    }
    // and the genuine one again: opened, signed in
    expect(userOf(`${NAME}=${value}`, socket)).toMatchObject({ sub: 'alice' })
  })

  it('still checks the idle and absolute expiry on every request it answers', () => {
    const { codegrant, userOf } = setUp()
    // opened at T0 + 1, answered from the memo at `hitAt` (same object), expired at `endAt`
    const liveThenEnded = (header: string, hitAt: number, endAt: number) => {
      const socket = {}
      vi.setSystemTime((T0 + 1) * 1000)
      const first = userOf(header, socket)
      expect(first).toMatchObject({ sub: 'alice' })
      vi.setSystemTime(hitAt * 1000)
      expect(userOf(header, socket)).toBe(first)
      vi.setSystemTime(endAt * 1000)
      expect(userOf(header, socket)).toBeUndefined()
      expect(guard(codegrant.attach(request(header, socket), () => {}, undefined))).toMatchObject({ status: 401 })
    }
    // idle: 600 s (renewed after 30 s of use: no request here gets that far while the session lives)
    liveThenEnded(`${NAME}=${sealed({ uat: T0 })}`, T0 + 25, T0 + 600)
    // absolute
    liveThenEnded(`${NAME}=${sealed({ uat: T0, exp: T0 + 20 })}`, T0 + 19, T0 + 20)
  })

  it('is dropped when this process writes or ends a session (a renewal, a refresh, a logout)', () => {
    const { codegrant, userOf } = setUp()
    const header = `${NAME}=${sealed()}`
    const socket = {}
    const first = userOf(header, socket)
    expect(userOf(header, socket)).toBe(first)
    // another request renews its own (older) session: this process wrote a session
    vi.setSystemTime((T0 + 100) * 1000)
    const cookies: string[] = []
    const stale = codegrant.attach(request(`${NAME}=${sealed({ sid: 'sid-2', uat: T0 - 200 })}`), (set) => cookies.push(...set), undefined)
    expect(guard(stale)).toBeUndefined()
    expect(cookies.length).toBeGreaterThan(0)
    const after = userOf(header, socket)
    expect(after).toMatchObject({ sub: 'alice' })
    expect(after).not.toBe(first)
  })
})
