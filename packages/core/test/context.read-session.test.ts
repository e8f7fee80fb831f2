import { afterEach, describe, expect, it, vi } from 'vitest'
import { createCodegrant } from '../src/codegrant.js'
import type { OAuthOptions } from '../src/config/options.js'
import { resolveConfig } from '../src/config/resolve.js'
import { guard } from '../src/guard.js'
import type { CoreRequest } from '../src/http.js'
import { createSessionBackend } from '../src/session/backend.js'
import { memoryStore } from '../src/session/memory-store.js'
import { createCookieCodec } from '../src/session/cookie-codec.js'
import type { SessionData, SessionStore } from '../src/session/store.js'

// Reading a session (context.ts, readSession): the backend states its kind once, and a request
// reads its session once, whichever getters, guards and methods ask for it.

const SECRET = 's'.repeat(32)
const NAME = 'codegrant.session'
const T0 = 1_800_000_000
const SID = 'sid-1'

const options = (extra: OAuthOptions = {}): OAuthOptions => ({
  issuer: 'http://127.0.0.1:9',
  clientId: 'app',
  clientSecret: 'secret',
  baseUrl: 'http://127.0.0.1:3000',
  cookieSecret: SECRET,
  logger: { warn() {}, error() {} },
  ...extra,
})

const record: SessionData = { sid: SID, iat: T0, uat: T0, exp: T0 + 3600, identity: { provider: 'default', iss: 'http://127.0.0.1:9', sub: 'alice' }, user: { sub: 'alice' }, tokens: { accessToken: 'at', tokenType: 'bearer', scope: 'openid' } }

/** A custom store (the public `SessionStore` interface) that counts its reads. */
function countingStore() {
  const counted = { gets: 0 }
  const store: SessionStore = {
    get(sid) {
      counted.gets++
      return Promise.resolve(sid === SID ? record : undefined)
    },
    set() {},
    destroy() {},
  }
  return { store, counted }
}

describe('a session backend states what kind it is', () => {
  const backendOf = (extra: OAuthOptions) => createSessionBackend(resolveConfig(options(extra), {}), createCookieCodec([SECRET]), NAME)

  it('cookie: no store, no I/O; memory: a store without I/O or breaker; a store passed in: external, with I/O and its breaker', () => {
    const cookie = backendOf({})
    expect([cookie.kind, cookie.io, cookie.store, cookie.breaker]).toEqual(['cookie', false, undefined, undefined])
    const memory = backendOf({ sessionStore: 'memory' })
    expect([memory.kind, memory.io, memory.store !== undefined, memory.breaker]).toEqual(['memory', false, true, undefined])
    const { store } = countingStore()
    const external = backendOf({ sessionStore: store })
    expect([external.kind, external.io, external.opened === store, external.breaker !== undefined]).toEqual(['external', true, true, true])
  })

  it('memoryStore() passed in (for its maxSessions) is the memory store: that very store, no I/O, no breaker; a copy of it is an app\'s own store', () => {
    const given = memoryStore({ maxSessions: 5 })
    const memory = backendOf({ sessionStore: given })
    expect([memory.kind, memory.io, memory.opened === given, memory.breaker]).toEqual(['memory', false, true, undefined])
    // the record a login writes is in the store the app holds, and read back without a promise
    const written = memory.write({}, record, T0, true)
    expect(written).not.toBeInstanceOf(Promise)
    expect(given.get(SID)).toBe(record)
    const copy = backendOf({ sessionStore: { ...given } })
    expect([copy.kind, copy.io, copy.breaker !== undefined]).toEqual(['external', true, true])
  })
})

// A regression guard, not a new behaviour: a request read its session once before issue 19 item 4
// too; the test keeps the one read path (readSession) at one store read.
describe('one read of the session per request (a regression guard)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('an external store: attach reads the record once, and the getters, the guard and a second guard use that read', async () => {
    vi.useFakeTimers({ now: (T0 + 1) * 1000 })
    const { store, counted } = countingStore()
    const codegrant = createCodegrant(options({ sessionStore: store }), {})
    const request: CoreRequest = { method: 'GET', url: '/me', headers: { accept: 'application/json', cookie: `${NAME}=${createCookieCodec([SECRET]).seal(NAME, JSON.stringify(SID))}` } }
    const attached = codegrant.attach(request, () => {}, undefined)
    expect(attached).toBeInstanceOf(Promise)
    const state = await attached
    expect([state.isAuthenticated, state.user?.sub, state.tokens?.accessToken, state.session?.expiresAt]).toEqual([true, 'alice', 'at', T0 + 3600])
    expect(await guard(state)).toBeUndefined()
    expect(await guard(state, undefined, { scopes: ['openid'] })).toBeUndefined()
    expect(counted.gets).toBe(1)
  })
})
