/**
 * Property-based fuzzing (fast-check) of every input a browser or a provider controls, on every
 * adapter (the FRAMEWORKS matrix), against real HTTP servers:
 *
 * - `returnTo` at login (through the real dev provider) and at logout: the final Location is
 *   always same-origin;
 * - callback query strings, form_post bodies, Cookie headers, and token endpoint answers (at the
 *   code exchange and at refresh, from the hostile provider on loopback): never a 5xx from
 *   codegrant's own code (502/503/504 only for a provider failure), never a session without a
 *   valid exchange, never a secret, code or token in a response or a log line;
 * - whatever user the app's `onLogin` hook returns: a logout token ends exactly the sessions the
 *   provider's identity names, and the step-up guard never loops;
 * - and, over the whole file, no unhandled rejection and no uncaught exception.
 *
 * Run counts are bounded so that `pnpm test` stays fast; `FUZZ_SCALE=10 pnpm exec vitest run
 * test/fuzz.test.ts` runs ten times as many. On failure, fast-check's report (seed, path and the
 * shrunk counterexample) is the assertion message vitest prints; `FUZZ_SEED=<seed>` replays a run.
 */
import { randomUUID } from 'node:crypto'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import type { DevProvider } from '@codegrant/dev-provider'
import type { LoginHookResult, OAuthOptions } from '@codegrant/core'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { API, createAgent, HTML, login, type Agent } from './support/agent.js'
import { buildHandler, FRAMEWORKS, openStage, type Framework, type Stage } from './support/apps.js'
import { startHostileProvider, type Fault, type HostileProvider, type HostileSettings } from './support/hostile-provider.js'
import { appOptions, captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A, startProvider } from './support/provider.js'

const SCALE = Number(process.env.FUZZ_SCALE ?? 1)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const runs = (count: number) => Math.max(1, Math.round(count * SCALE))
/** fast-check parameters for one property: bounded runs, and shrinking bounded in time. */
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns: runs(numRuns), interruptAfterTimeLimit: 25_000 * SCALE, ...(SEED === undefined ? {} : { seed: SEED }) })
const TEST_TIMEOUT = 60_000 * SCALE

const SESSION = 'codegrant.session'
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
const STACK = /at .*\(.*:\d+:\d+\)|node_modules/
// OAUTH_HTTP_TIMEOUT of the apps fuzzed with the hostile provider: long enough for a loaded CI machine
const TIMEOUT = 1000

const isSessionCookie = (line: string) => line.startsWith(`${SESSION}=`) || line.startsWith(`${SESSION}.`)
const setsSession = (lines: string[]) => lines.some((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line))
const pairOf = (line: string): [string, string] => {
  const pair = line.split(';')[0]!
  const eq = pair.indexOf('=')
  return [pair.slice(0, eq), pair.slice(eq + 1)]
}

/** Percent-encodes every byte of the UTF-8 form except unreserved characters (lone surrogates become U+FFFD). */
const pct = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => (/[\w.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`)).join('')
/** What a header value can carry: the UTF-8 bytes as latin1, without the control characters (but tab) that no client sends. */
const headerSafe = (text: string) => Buffer.from(text, 'utf8').toString('latin1').replace(/[\0-\u0008\u000a-\u001f\u007f]/g, '')

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** Pieces of URLs that have opened redirects somewhere: slashes, backslashes, dot-segments, encodings, controls, look-alikes. */
const URL_PIECES = [
  '/', '//', '\\', '/\\', '\\/', '.', '..', './', '../', '/./', '/../', '/.//', '//.', '/%2e/', '/%2e%2e/', '%2e', '%2E',
  '%2f', '%2F', '%5c', '%5C', '%252f', '%252F', '%25', '%', '%%', '%zz', '%ff', '%c0%af', '%e3%80%82', '%ef%bc%8f',
  '%09', '%0a', '%0d', '%00', '%20', '\t', '\n', '\r', ' ', '\u0000', '\u0001', '\u001f', '\u007f', '\u00a0', '\u2028', '\u202e', '\ufeff',
  '\u3002', '\uff0f', '\uff3c', '\u2215', '\u2044', '\ufe68', 'é', '😀',
  '@', ':', '?', '#', '&', '=', ';', ',', '+', '~', '*',
  'evil.example', 'evil.example:443', '127.0.0.1', '[::1]', 'http:', 'https:', 'HTTPS://', 'javascript:', 'data:text/html,', 'file:',
  'a', 'me', 'x', 'auth', 'login',
]
const urlish = fc.array(fc.constantFrom(...URL_PIECES), { maxLength: 12 }).map((pieces) => pieces.join(''))

/** returnTo values as the app decodes them (sent fully percent-encoded). */
const decodedReturnTo = fc.oneof(
  { arbitrary: urlish, weight: 4 },
  { arbitrary: urlish.map((rest) => `/${rest}`), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((rest) => `/${rest}`), weight: 2 },
  { arbitrary: fc.tuple(fc.constantFrom('/', '/.//', '//', '/\\', '/%2f'), fc.integer({ min: 2000, max: 7000 })).map(([head, length]) => `${head}evil.example/${'a'.repeat(length)}`), weight: 1 },
)
/** A query value: fully encoded, or as raw URL text (invalid escapes, literal slashes, `#`...). */
const queryValue = (decoded: fc.Arbitrary<string>) =>
  fc.oneof(decoded.map(pct), urlish.map((raw) => raw.replace(/[\s\0-\u001f\u007f]/g, pct)))

/** Any JSON value a provider could put in an answer, including nested ones. */
const json = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 6 },
  {
    arbitrary: fc.integer({ min: 1, max: 300 }).map((depth) => {
      let value: unknown = []
      for (let i = 0; i < depth; i++) value = [value]
      return value
    }),
    weight: 1,
  },
)
/** Deeply nested JSON text, which the client's `JSON.parse` must survive. */
const deepJson = fc.integer({ min: 1000, max: 100_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth))

/** What an app's onLogin hook may answer: nothing, or a user (any members, `sid`, `auth_time`, `acr`, `iss` among them; a string `sub`) and perhaps data. */
const HOOK_MEMBERS = ['sid', 'sub', 'iss', 'aud', 'auth_time', 'acr', 'amr', 'exp', 'iat', 'name', 'groups', 'roles']
const hookAnswer: fc.Arbitrary<LoginHookResult> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 1 },
  {
    arbitrary: fc.record(
      {
        user: fc.tuple(fc.oneof(fc.constantFrom('alice', 'bob', 'account-42', ''), fc.string({ maxLength: 24 })), fc.dictionary(fc.constantFrom(...HOOK_MEMBERS), json, { maxKeys: 6 }))
          .map(([sub, members]) => ({ ...members, sub })),
        data: fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 2 }),
      },
      { requiredKeys: ['user'] },
    ),
    weight: 6,
  },
)

/** Faults that answer at once (the slow ones cost a timeout each: sampled rarely). */
const QUICK_FAULTS: Fault[] = ['reset', 'status-500', 'status-503', 'not-json', 'array', 'redirect', 'error-200', 'invalid_client', 'invalid_client-challenge', 'invalid_grant', 'huge']
const SLOW_FAULTS: Fault[] = ['hang', 'stall-body', 'trickle']
const fault = fc.oneof({ arbitrary: fc.constantFrom(...QUICK_FAULTS), weight: 40 }, { arbitrary: fc.constantFrom(...SLOW_FAULTS), weight: 1 })

const overrides = (names: string[]) =>
  fc.dictionary(fc.constantFrom(...names), fc.oneof(json, fc.constant(undefined)), { maxKeys: 3 }) as fc.Arbitrary<Record<string, unknown>>

const CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'nonce', 'azp', 'auth_time', 'at_hash', 'groups', 'name']
const TOKEN_MEMBERS = ['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'id_token', 'error', 'error_description', 'authorization_details']

/** How the provider's token endpoint (and what it leans on) answers: one fault, changed members, a changed ID token, or a verbatim body. */
const providerSettings: fc.Arbitrary<HostileSettings> = fc.record(
  {
    token: fault,
    tokenResponse: overrides(TOKEN_MEMBERS),
    idToken: fc.record(
      {
        alg: fc.constantFrom('RS256', 'ES256', 'HS256', 'none', 'wrong-key', 'unknown-kid'),
        claims: overrides(CLAIMS),
        header: overrides(['alg', 'kid', 'typ', 'crit', 'jku', 'b64']),
        raw: fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.array(fc.base64String({ maxLength: 40 }), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.'))),
      },
      { requiredKeys: [] },
    ),
    tokenRaw: fc.record({
      status: fc.constantFrom(200, 201, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503),
      contentType: fc.option(fc.constantFrom('application/json', 'application/json;charset=UTF-8', 'text/html', 'application/jwt', 'text/plain', ''), { nil: undefined }),
      body: fc.oneof(json.map((value) => JSON.stringify(value)), deepJson, fc.string({ unit: 'binary', maxLength: 200 }), fc.constant('{"access_token":'), fc.constant('')),
    }),
    jwks: fault,
    userinfo: fc.oneof(fault, overrides(['sub', 'name', 'email', 'groups'])),
  },
  { requiredKeys: [] },
).map((settings) => (settings.tokenRaw ? { tokenRaw: settings.tokenRaw } : settings))

const METADATA = ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'revocation_endpoint', 'end_session_endpoint', 'pushed_authorization_request_endpoint',
  'id_token_signing_alg_values_supported', 'authorization_response_iss_parameter_supported', 'code_challenge_methods_supported', 'token_endpoint_auth_methods_supported', 'response_types_supported']
const urlLike = fc.oneof(
  fc.constantFrom('https://idp.example/authorize', 'http://idp.example/authorize', 'http://127.0.0.1:1/x', 'javascript:alert(1)', 'data:text/html,x', '//evil.example', '/relative', 'https://', 'file:///etc/passwd', 'HTTPS://EVIL.EXAMPLE/%2F..'),
  urlish,
)
/** A discovery document with some members replaced by anything (a URL or not), or removed. */
const metadataOverrides = fc.dictionary(fc.constantFrom(...METADATA), fc.oneof(urlLike, json, fc.constant(undefined)), { minKeys: 1, maxKeys: 4 }) as fc.Arbitrary<Record<string, unknown>>

const isJsonEqual = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/**
 * True when these provider answers can only be refused: a provider fault, a verbatim body, a
 * forged or unsigned ID token, or a required member or claim missing or wrong. (Other changes may
 * or may not be acceptable; the property then only asks for a sane status.)
 */
function mustRefuse(settings: HostileSettings, issuer: string, refresh: boolean): boolean {
  if (settings.token || settings.tokenRaw) return true
  const response = settings.tokenResponse ?? {}
  if ('access_token' in response && (typeof response.access_token !== 'string' || response.access_token === '')) return true
  if ('token_type' in response && !(typeof response.token_type === 'string' && /^bearer$/i.test(response.token_type))) return true
  // a replaced ID token is garbage; a missing one is refused at login and fine at refresh (and
  // then how the provider would have made one does not matter)
  if ('id_token' in response) {
    if (response.id_token !== undefined || !refresh) return true
    return false
  }
  const idToken = settings.idToken ?? {}
  if (idToken.raw !== undefined) return true
  if (idToken.alg !== undefined && idToken.alg !== 'RS256') return true
  const header = idToken.header ?? {}
  if ('alg' in header || ('crit' in header && header.crit !== undefined)) return true
  if ('kid' in header && header.kid !== undefined && header.kid !== 'rs-1') return true
  const claims = idToken.claims ?? {}
  if ('sub' in claims && claims.sub !== 'alice') return true
  if ('iss' in claims && claims.iss !== issuer) return true
  if ('aud' in claims && !isJsonEqual(claims.aud, CLIENT_ID) && !isJsonEqual(claims.aud, [CLIENT_ID])) return true
  if (!refresh && 'nonce' in claims) return true // a nonce no login sent, or none at all
  const userinfo = settings.userinfo
  if (!refresh && userinfo !== undefined && (typeof userinfo === 'string' || ('sub' in userinfo && userinfo.sub !== 'alice'))) return true
  for (const time of ['exp', 'iat']) if (time in claims && typeof claims[time] !== 'number') return true
  return false
}

// ---------------------------------------------------------------------------------------------
// What must hold of every response, and of the whole file
// ---------------------------------------------------------------------------------------------

/** Unhandled rejections and uncaught exceptions anywhere in this process while the file runs. */
const escaped: string[] = []
const record = (kind: string) => (reason: unknown) => void escaped.push(`${kind}: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`)
const onRejection = record('unhandledRejection')
const onException = record('uncaughtException')

beforeAll(() => {
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
})
afterAll(() => {
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
  expect(escaped).toEqual([])
})

interface Seen {
  status: number
  headers: Headers
  setCookies: string[]
  body: string
}

async function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Seen> {
  const response = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body, redirect: 'manual' })
  return { status: response.status, headers: response.headers, setCookies: response.headers.getSetCookie(), body: await response.text() }
}

/**
 * Neither a stack trace nor any of `secrets` in the headers, body or the log. One exception,
 * by design: the ID token as `id_token_hint` in the redirect to the provider's end-session
 * endpoint (OpenID Connect RP-Initiated Logout 1.0 §2).
 */
function expectNothingEchoed(seen: Seen, secrets: string[], logLines: string[], endSession?: string) {
  let text = seen.body
  seen.headers.forEach((value, name) => {
    if (name === 'location' && endSession !== undefined && value.startsWith(`${endSession}?`)) {
      const url = new URL(value)
      url.searchParams.delete('id_token_hint')
      value = url.href
    }
    text += `\n${name}: ${value}`
  })
  if (STACK.test(text)) throw new Error(`a stack trace or code path in the response: ${text.slice(0, 300)}`)
  for (const secret of secrets) {
    if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 6)}…) in the response`)
    for (const line of logLines) if (line.includes(secret)) throw new Error(`a secret (${secret.slice(0, 6)}…) in a log line: ${line.slice(0, 200)}`)
  }
}

function expectStatus(seen: Seen, allowed: (status: number) => boolean, what: string) {
  if (!allowed(seen.status)) throw new Error(`${what}: HTTP ${seen.status} ${seen.body.slice(0, 300)}`)
}

const isClientError = (status: number) => status >= 400 && status < 500
/** A 4xx, or a 504 when a code exchange that had to be tried (a real state) met a slow provider. */
const isRefused = (status: number) => isClientError(status) || status === 504

// ---------------------------------------------------------------------------------------------
// The properties, once per framework
// ---------------------------------------------------------------------------------------------

describe.each(FRAMEWORKS)('%s', (framework: Framework) => {
  let stage: Stage
  let dev: DevProvider
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>

  const secrets = () => [CLIENT_SECRET, SECRET_A, ...hostile.secrets()]
  const mountHostile = async (extra: OAuthOptions = {}) => {
    const options = appOptions(hostile, stage.url, logs, { httpTimeout: TIMEOUT, ...extra })
    stage.mount(await buildHandler(framework, options, hostile.userinfoUrl))
  }
  /** A login through the hostile provider (no login page); the session cookies it set. */
  const hostileLogin = async (agent: Agent = createAgent()) => {
    const started = await agent.follow(`${stage.url}/auth/login`, { headers: HTML }, (url) => url.startsWith(`${stage.url}/auth/callback`))
    if (!started.stoppedAt) throw new Error(`the login did not reach the callback: ${started.last.status}`)
    const callback = await agent.request(started.stoppedAt, { headers: { accept: 'application/json' } })
    return { callback, cookies: callback.setCookies.filter((line) => isSessionCookie(line) && !/Max-Age=0/i.test(line)).map(pairOf) }
  }
  /** A login that must succeed (setting up a case); its session as a Cookie header. */
  const signedIn = async () => {
    const { callback, cookies } = await hostileLogin()
    if (cookies.length === 0) throw new Error(`the set-up login failed: HTTP ${callback.status} ${callback.body.slice(0, 300)}`)
    return cookies.map(([name, value]) => `${name}=${value}`).join('; ')
  }
  /** A started login's transaction cookie and state (the provider is not visited). */
  const startTransaction = async () => {
    const started = await send(`${stage.url}/auth/login`, { headers: HTML })
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!
    const cookie = started.setCookies.map(pairOf).find(([name]) => name.endsWith(`.tx.${state}`))!
    return { state, cookie }
  }

  beforeAll(async () => {
    stage = await openStage()
    // its client wants sid in ID tokens (and logout tokens): back-channel logout is fuzzed with the hook's output
    dev = await startProvider(stage.url, { backchannel: true })
    hostile = await startHostileProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${stage.url}/auth/callback`] })
  })
  afterAll(async () => {
    await stage.close()
    await hostile.close()
    await dev.close()
  })
  beforeEach(() => {
    hostile.reset()
    logs = captureLogs()
  })
  afterEach(() => {
    vi.useRealTimers()
    expect(escaped).toEqual([])
  })

  describe('fuzz', () => {
    it('returnTo: after login and after logout the final Location is same-origin', async () => {
      const sameOrigin = (seen: Seen, what: string) => {
        const location = seen.headers.get('location')
        if (seen.status !== 302 || location === null) throw new Error(`${what}: HTTP ${seen.status} without a redirect`)
        let origin: string | undefined
        try {
          origin = new URL(location, stage.url).origin
        } catch {
          throw new Error(`${what} redirects to something no browser can follow: Location ${JSON.stringify(location)}`)
        }
        if (origin !== stage.url) throw new Error(`${what} leaves the app: Location ${JSON.stringify(location)}`)
      }

      // logins through the real dev provider, which keeps alice signed in (single sign-on)
      stage.mount(await buildHandler(framework, appOptions(dev, stage.url, logs), `${dev.issuer}/me`))
      const agent = createAgent()
      await login(agent, stage.url, 'alice')
      const isCallback = (url: string) => url.startsWith(`${stage.url}/auth/callback`)
      await fc.assert(
        fc.asyncProperty(queryValue(decodedReturnTo), async (returnTo) => {
          const started = await agent.follow(`${stage.url}/auth/login?returnTo=${returnTo}`, { headers: HTML }, isCallback)
          if (!started.stoppedAt) throw new Error(`the login did not come back: HTTP ${started.last.status} at ${started.last.url}`)
          sameOrigin(await agent.request(started.stoppedAt, { headers: HTML }), 'the callback')
        }),
        params(25),
      )

      // logouts where the provider has no end_session_endpoint: the app's own redirect decides
      hostile.set({ metadata: { end_session_endpoint: undefined } })
      await mountHostile()
      const { cookies } = await hostileLogin()
      const cookie = cookies.map(([name, value]) => `${name}=${value}`).join('; ')
      await fc.assert(
        fc.asyncProperty(queryValue(decodedReturnTo), fc.boolean(), fc.boolean(), async (returnTo, signedIn, post) => {
          const headers: Record<string, string> = { ...HTML, ...(signedIn ? { cookie } : {}) }
          const url = `${stage.url}/auth/logout?returnTo=${returnTo}`
          const seen = post
            ? await send(url, { method: 'POST', headers: { ...headers, origin: stage.url, 'content-type': 'application/x-www-form-urlencoded' }, body: '' })
            : await send(url, { headers: { ...headers, 'sec-fetch-site': 'same-origin' } })
          sameOrigin(seen, 'the logout')
        }),
        params(100),
      )
    }, TEST_TIMEOUT)

    it('callback query: 4xx, no session, nothing echoed', async () => {
      await mountHostile()
      const transactions = [await startTransaction(), await startTransaction(), await startTransaction()]
      const cookie = transactions.map(({ cookie: [name, value] }) => `${name}=${value}`).join('; ')
      const key = fc.oneof(
        { arbitrary: fc.constantFrom('state', 'code', 'iss', 'error', 'error_description', 'error_uri', 'id_token', 'token', 'access_token', 'response', 'session_state', 'state[]', 'state[x]', 'returnTo', '__proto__', 'constructor'), weight: 5 },
        { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map(pct), weight: 1 },
      )
      const value = fc.oneof(
        { arbitrary: fc.constantFrom(...transactions.map(({ state }) => state), hostile.issuer, '<script>alert(1)</script>', 'access_denied').map(pct), weight: 3 },
        { arbitrary: queryValue(fc.string({ unit: 'binary', maxLength: 60 })), weight: 3 },
        { arbitrary: fc.integer({ min: 4000, max: 14_000 }).map((length) => 'A'.repeat(length)), weight: 1 },
      )
      const query = fc.array(fc.tuple(key, value), { maxLength: 8 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'))
      await fc.assert(
        fc.asyncProperty(query, fc.boolean(), fc.boolean(), async (search, withCookies, html) => {
          const seen = await send(`${stage.url}/auth/callback?${search}`, { headers: { accept: html ? 'text/html' : 'application/json', ...(withCookies ? { cookie } : {}) } })
          expectStatus(seen, isRefused, 'a forged callback')
          if (setsSession(seen.setCookies)) throw new Error('a forged callback started a session')
          expectNothingEchoed(seen, secrets(), logs.lines)
        }),
        params(120),
      )
    }, TEST_TIMEOUT)

    it('form_post callback body: 4xx or 413, no session, nothing echoed', async () => {
      await mountHostile({ responseMode: 'form_post' })
      const transactions = [await startTransaction(), await startTransaction()]
      const cookie = transactions.map(({ cookie: [name, value] }) => `${name}=${value}`).join('; ')
      const field = fc.tuple(
        fc.oneof(fc.constantFrom('state', 'code', 'iss', 'error', 'id_token', 'response', 'state[]'), fc.string({ unit: 'binary', maxLength: 10 }).map(pct)),
        fc.oneof(fc.constantFrom(...transactions.map(({ state }) => state), hostile.issuer).map(pct), queryValue(fc.string({ unit: 'binary', maxLength: 60 }))),
      )
      const form = fc.array(field, { maxLength: 8 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'))
      const body = fc.oneof(
        { arbitrary: form, weight: 6 },
        { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)), weight: 1 },
        { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 1 },
        { arbitrary: fc.integer({ min: 60 * 1024, max: 200 * 1024 }).map((length) => `state=${'x'.repeat(length)}`), weight: 1 },
      )
      const contentType = fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', undefined)
      await fc.assert(
        fc.asyncProperty(body, contentType, fc.boolean(), async (text, type, withCookies) => {
          const headers: Record<string, string> = { accept: 'application/json', ...(type ? { 'content-type': type } : {}), ...(withCookies ? { cookie } : {}) }
          const seen = await send(`${stage.url}/auth/callback`, { method: 'POST', headers, body: text })
          expectStatus(seen, isRefused, 'a forged form_post callback')
          if (setsSession(seen.setCookies)) throw new Error('a forged form_post callback started a session')
          expectNothingEchoed(seen, secrets(), logs.lines)
        }),
        params(80),
      )
    }, TEST_TIMEOUT)

    it('Cookie header: never 5xx, a session only from what codegrant issued, nothing echoed', async () => {
      await mountHostile()
      const small = (await hostileLogin()).cookies
      // a session too large for one cookie: chunks codegrant.session.0, .1, ...
      hostile.set({ idToken: { claims: { groups: Array.from({ length: 300 }, (_, i) => `group-${i}`) } } })
      const large = (await hostileLogin()).cookies
      hostile.reset()
      expect(small).toHaveLength(1)
      expect(large.length).toBeGreaterThan(1)
      const transaction = await startTransaction()
      const issued = [small, large]
      const valid = [...small, ...large, transaction.cookie]

      const tamper = ([name, value]: [string, string]) =>
        fc.oneof(
          fc.nat(value.length - 1).map((at) => [name, value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1)] as [string, string]),
          fc.nat(value.length - 1).map((at) => [name, value.slice(0, at)] as [string, string]),
          fc.string({ maxLength: 8 }).map((extra) => [name, value + extra] as [string, string]),
        )
      const name = fc.oneof(
        fc.constantFrom(SESSION, `${SESSION}.0`, `${SESSION}.1`, `${SESSION}.2`, `${SESSION}.31`, `${SESSION}.32`, `${SESSION}.99`, `${SESSION}.-1`, `${SESSION}.01`, `${SESSION}.`, `__Host-${SESSION}`,
          'codegrant.tx.', `codegrant.tx.${transaction.state}`, 'codegrant.tx.a b', 'codegrant.tx.é', 'codegrant.tx.x;y', 'a b', '$Version', '__proto__', 'constructor', 'hasOwnProperty'),
        fc.string({ unit: 'binary', maxLength: 16 }),
      )
      const value = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.base64String({ maxLength: 200 }),
        fc.constantFrom('""', '"quoted"', '%zz', '%00', '=', ';'),
        fc.integer({ min: 1000, max: 6000 }).map((length) => 'x'.repeat(length)),
      )
      const piece = fc.oneof(
        { arbitrary: fc.constantFrom(...valid), weight: 4 },
        { arbitrary: fc.constantFrom(...valid).chain(tamper), weight: 2 },
        { arbitrary: fc.tuple(name, value), weight: 3 },
      )
      const header = fc.oneof(
        { arbitrary: fc.tuple(fc.array(piece, { maxLength: 12 }), fc.constantFrom('; ', ';', ', ', ' ;  ')).map(([pieces, separator]) => pieces.map(([n, v]) => `${n}=${v}`).join(separator)), weight: 6 },
        { arbitrary: fc.shuffledSubarray(large, { minLength: 1 }).map((pieces) => pieces.map(([n, v]) => `${n}=${v}`).join('; ')), weight: 2 },
        { arbitrary: fc.string({ unit: 'binary', maxLength: 300 }), weight: 1 },
      )
      const path = fc.constantFrom('/', '/me', '/admin', '/api/token', '/auth/login', '/auth/logout', `/auth/callback?state=${transaction.state}&code=x&iss=${pct(hostile.issuer)}`, '/auth/callback?state=a%20b&code=x', '/auth/callback?state=%C3%A9&code=x')
      /** Did the request carry, whole, one of the sessions codegrant issued? */
      const carriesIssued = (cookie: string) => issued.some((pieces) => pieces.every(([, v]) => cookie.includes(v)))

      await fc.assert(
        fc.asyncProperty(header, path, fc.boolean(), async (raw, target, html) => {
          const cookie = headerSafe(raw)
          const seen = await send(`${stage.url}${target}`, { headers: { cookie, accept: html ? 'text/html' : 'application/json', 'sec-fetch-site': 'same-origin' } })
          expectStatus(seen, (status) => status < 500 || status === 504, `Cookie ${JSON.stringify(cookie.slice(0, 200))} on ${target}`)
          const signedIn = (target === '/' && seen.body.startsWith('signed in as')) || (['/me', '/admin', '/api/token'].includes(target) && seen.status === 200)
          if (signedIn && !carriesIssued(cookie)) throw new Error(`signed in by a Cookie header codegrant never issued: ${JSON.stringify(cookie.slice(0, 300))}`)
          if (target === '/me' && seen.status === 200 && JSON.parse(seen.body).user.sub !== hostile.sub) throw new Error('signed in as someone else')
          expectNothingEchoed(seen, secrets(), logs.lines, `${hostile.issuer}/end-session`)
        }),
        params(150),
      )
    }, TEST_TIMEOUT)

    it('discovery documents: login goes to an https (or loopback) authorization endpoint or answers 502/503/504, never 500', async () => {
      await fc.assert(
        fc.asyncProperty(metadataOverrides, async (metadata) => {
          hostile.reset()
          hostile.set({ metadata })
          await mountHostile() // a fresh app: no cached metadata
          const started = await send(`${stage.url}/auth/login`, { headers: { accept: 'application/json' } })
          expectStatus(started, (status) => [302, 502, 503, 504].includes(status), 'a login')
          if (started.status === 302) {
            const location = new URL(started.headers.get('location')!)
            const loopback = location.hostname === '127.0.0.1' || location.hostname === 'localhost' || location.hostname === '[::1]'
            if (!(location.protocol === 'https:' || (location.protocol === 'http:' && loopback))) throw new Error(`a login sent to ${location.href}`)
          }
          expectNothingEchoed(started, secrets(), logs.lines)
          const out = await send(`${stage.url}/auth/logout`, { headers: { accept: 'text/html', 'sec-fetch-site': 'same-origin' } })
          expectStatus(out, (status) => status === 302, 'a logout')
          const target = new URL(out.headers.get('location')!, stage.url)
          if (target.origin !== stage.url && target.protocol !== 'https:' && !(target.protocol === 'http:' && target.hostname === '127.0.0.1')) throw new Error(`a logout sent to ${target.href}`)
        }),
        params(30),
      )
    }, TEST_TIMEOUT)

    it('token endpoint answers at login: 400/502/504 or a valid session, never 500, nothing echoed', async () => {
      await mountHostile({ fetchUserinfo: true })
      // the control: a well-behaved provider signs in (so the property is not vacuous)
      expect(setsSession((await hostileLogin()).callback.setCookies)).toBe(true)
      await fc.assert(
        fc.asyncProperty(providerSettings, async (settings) => {
          hostile.reset()
          hostile.set(settings)
          const { callback } = await hostileLogin()
          expectStatus(callback, (status) => [302, 400, 502, 503, 504].includes(status), 'the callback')
          const session = setsSession(callback.setCookies)
          if (session !== (callback.status === 302)) throw new Error(`HTTP ${callback.status} ${session ? 'with' : 'without'} a session`)
          if (session && mustRefuse(settings, hostile.issuer, false)) throw new Error('a session from a token response that must be refused')
          expectNothingEchoed(callback, secrets(), logs.lines)
        }),
        params(40),
      )
    }, TEST_TIMEOUT)

    it('token endpoint answers at refresh: 200, 401 session_ended or 502/504, never 500, nothing echoed', async () => {
      await mountHostile()
      vi.useFakeTimers({ toFake: ['Date'] })
      // the control: a well-behaved provider refreshes
      hostile.set({ tokenResponse: { expires_in: 2 } })
      const control = await signedIn()
      vi.setSystemTime(Date.now() + 10_000)
      hostile.reset()
      expect((await send(`${stage.url}/api/token`, { headers: { cookie: control, accept: 'application/json' } })).status).toBe(200)
      await fc.assert(
        fc.asyncProperty(providerSettings, async (settings) => {
          hostile.reset()
          hostile.set({ tokenResponse: { expires_in: 2 } })
          const cookie = await signedIn()
          vi.setSystemTime(Date.now() + 10_000) // the access token is now due
          hostile.reset()
          hostile.set(settings)
          const seen = await send(`${stage.url}/api/token`, { headers: { cookie, accept: 'application/json' } })
          expectStatus(seen, (status) => [200, 401, 502, 504].includes(status), 'a refresh')
          const refreshed = setsSession(seen.setCookies)
          if (seen.status === 200 && !refreshed) throw new Error('a refresh answered 200 without re-issuing the session')
          if (seen.status === 200 && mustRefuse(settings, hostile.issuer, true)) throw new Error('a refresh accepted a token response that must be refused')
          if (seen.status === 401) {
            expect(JSON.parse(seen.body)).toEqual({ error: 'codegrant/session_ended' })
            if (!seen.setCookies.some((line) => isSessionCookie(line) && /Max-Age=0/i.test(line))) throw new Error('an ended session was not cleared')
          }
          if (seen.status >= 500 && refreshed) throw new Error('a failed refresh re-issued the session')
          expectNothingEchoed(seen, secrets(), logs.lines)
        }),
        params(40),
      )
    }, TEST_TIMEOUT)
  })

  describe('fuzz: the app\'s onLogin hook', () => {
    it('whatever user the hook returns, a logout token ends exactly the sessions of the provider\'s sid or sub, and the step-up guard never loops', async () => {
      let answer: LoginHookResult = undefined
      let providerSid: string | undefined
      const onLogin: OAuthOptions['onLogin'] = ({ tokens }) => {
        providerSid = (JSON.parse(Buffer.from(tokens.idToken!.split('.')[1]!, 'base64url').toString('utf8')) as { sid?: string }).sid
        return answer
      }
      stage.mount(await buildHandler(framework, appOptions(dev, stage.url, logs, { sessionStore: 'memory', backchannelLogout: true, onLogin }), `${dev.issuer}/me`))
      const agent = createAgent()
      const get = (path: string, headers: Record<string, string> = API) => agent.request(`${stage.url}${path}`, { headers })
      const logoutToken = (names: { sid?: unknown; sub?: unknown }) =>
        dev.signJwt({ iss: dev.issuer, aud: CLIENT_ID, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), events: { [BACKCHANNEL_EVENT]: {} }, ...names })
      const sendToken = (token: string) => agent.request(`${stage.url}/auth/backchannel-logout`, { method: 'POST', headers: API, body: new URLSearchParams({ logout_token: token }).toString() })
      await fc.assert(
        fc.asyncProperty(hookAnswer, fc.boolean(), async (hooked, bySid) => {
          answer = hooked
          // the provider keeps alice signed in (single sign-on): its form only the first time
          const started = await agent.follow(`${stage.url}/auth/login`, { headers: HTML })
          const landed = started.last.url.includes('/interaction/')
            ? await agent.follow(started.last.url, { method: 'POST', headers: HTML, body: new URLSearchParams({ username: 'alice', password: 'x' }).toString() })
            : started
          if (landed.last.status !== 200) throw new Error(`the login failed: HTTP ${landed.last.status} ${landed.last.body.slice(0, 200)}`)
          // the step-up guard: through at once, or after one login (at most one code exchange), never a loop
          const exchanges = dev.count('grant.success', 'authorization_code')
          const page = await agent.follow(`${stage.url}/recent`, { headers: HTML })
          if (page.last.status !== 200 || page.last.url !== `${stage.url}/recent`) throw new Error(`the maxAge guard did not let alice in: HTTP ${page.last.status} at ${page.last.url} after ${page.hops.length} hops`)
          if (dev.count('grant.success', 'authorization_code') > exchanges + 1) throw new Error('the maxAge guard logged in more than once')
          if ((await agent.follow(`${stage.url}/recent`, { headers: HTML })).hops.length !== 1) throw new Error('the maxAge guard asked again right after a login')
          // tokens that name what the app's user says (but the provider's identity does not) end nothing
          const user: Record<string, unknown> = (hooked && hooked.user) || {}
          const foreign = [
            ...(typeof user.sid === 'string' && user.sid !== '' && user.sid !== providerSid ? [{ sid: user.sid }] : []),
            ...(typeof user.sub === 'string' && user.sub !== '' && user.sub !== 'alice' ? [{ sub: user.sub }] : []),
          ]
          for (const names of foreign) {
            const response = await sendToken(logoutToken(names))
            if (response.status !== 200 || (await get('/me')).status !== 200) throw new Error(`a logout token for ${JSON.stringify(names)} (not the provider's) answered ${response.status} and ended the session`)
          }
          // the provider's own sid or sub ends it
          const response = await sendToken(logoutToken(bySid ? { sid: providerSid } : { sub: 'alice' }))
          const after = (await get('/me')).status
          if (response.status !== 200 || after !== 401) throw new Error(`a logout token by the provider's ${bySid ? 'sid' : 'sub'} answered ${response.status}, and /me ${after} after it`)
        }),
        params(15),
      )
    }, TEST_TIMEOUT)
  })

  describe('found by fuzzing', () => {
    /** One keep-alive connection for every request: what a browser or a proxy reuses. */
    const postOnOneConnection = async (bodies: string[]) => {
      const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 })
      try {
        const answers: (number | string)[] = []
        for (const body of bodies) {
          answers.push(
            await new Promise<number | string>((resolve) => {
              const req = httpRequest(`${stage.url}/auth/callback`, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } }, (res) => {
                res.resume()
                res.on('end', () => resolve(res.statusCode ?? 0))
              })
              req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
              req.end(body)
            }),
          )
        }
        return answers
      } finally {
        agent.destroy()
      }
    }

    it.each(['null', '1', 'true', '"state"', '[]', '[["state","x"]]'])('a form_post callback whose JSON body is %s: 400, not 500', async (body) => {
      await mountHostile({ responseMode: 'form_post' })
      const { cookie: [name, value] } = await startTransaction()
      const seen = await send(`${stage.url}/auth/callback`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', cookie: `${name}=${value}` }, body })
      expect([seen.status, setsSession(seen.setCookies)]).toEqual([400, false])
      expect(escaped).toEqual([])
    })

    it('a form_post body over the limit is answered, and the connection keeps serving', async () => {
      await mountHostile({ responseMode: 'form_post' })
      const [tooLarge, next] = await postOnOneConnection([`state=${'x'.repeat(200 * 1024)}`, 'state=x'])
      expect(typeof tooLarge === 'number' && isClientError(tooLarge), `the oversized body: ${tooLarge}`).toBe(true)
      expect(next).toBe(400)
    })
  })
})
