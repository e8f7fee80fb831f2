/**
 * Assembling codegrant's engine once, at start-up, from the resolved configuration: the cookie
 * codec, the session backend, the providers, the session records ("ended before", Shared
 * Signals), back-channel logout, the token wallet, and the sessions control plane over them.
 */
import type { OAuthConfig } from './config/resolved.js'
import { now } from './clock.js'
import type { Engine } from './context.js'
import { createDiagnostics } from './diagnostics.js'
import { createExchangeOnce } from './flow/exchange-once.js'
import { logoutStateCookie } from './flow/logout-state.js'
import { transactionCookies } from './flow/transaction.js'
import { createProviderRuntimes } from './providers.js'
import { createBackchannelLogout } from './routes/backchannel-logout.js'
import { createSharedSignals } from './routes/shared-signals.js'
import { createSessionBackend, remaining, type SessionBackend } from './session/backend.js'
import { createCookieCodec } from './session/cookie-codec.js'
import { canRecord, createSessionRecords, type SessionRecords } from './session/ended.js'
import { identityOf, tokensIssuedAt } from './session/identity.js'
import { isCoordinating, type SessionData, type SessionStore } from './session/store.js'
import { createSessionControl, type SessionControl } from './sessions.js'
import { createWallet } from './wallet.js'
import { loadUndici } from './provider/mtls.js'

/** The engine every request works with, and the sessions control plane over it. */
export function createEngine(config: OAuthConfig): { engine: Engine; sessions: SessionControl } {
  const codec = createCookieCodec(config.cookieSecrets)
  const prefix = config.secure ? '__Host-' : ''
  const backend = createSessionBackend(config, codec, `${prefix}codegrant.session`)
  const providers = createProviderRuntimes(config, backend.store, (fresh) => remaining(fresh, now(), config))
  const records = sessionRecords(config, backend, (session) => providers.of(session)?.name)
  // cookie sessions' "ended before" records (with a server-side store, sessions are destroyed)
  const ended = backend.kind === 'cookie' ? records : undefined
  // back-channel logout's and Shared Signals' store: the server-side one, or the records' Redis (their one-time `jti`s)
  const signalStore = backend.store ?? records?.store
  const engine: Engine = {
    config,
    backend,
    transactions: transactionCookies(config, codec, prefix),
    logoutStates: logoutStateCookie(config, codec, prefix),
    providers,
    exchangeOnce: createExchangeOnce(backend.store),
    backchannel: config.backchannelLogout && signalStore && isCoordinating(signalStore)
      ? { store: signalStore, handle: createBackchannelLogout(config, providers.list, signalStore, ended) }
      : undefined,
    records,
    sharedSignals: undefined,
    sessionIndex: (config.backchannelLogout || config.frontchannelLogout) && backend.store && isCoordinating(backend.store) ? backend.store : undefined,
    // re-issue the session cookie at most every 1/20 of the idle timeout (a day: every 72 minutes)
    renewAfter: Math.max(1, Math.floor(config.sessionIdleTimeout / 20)),
    diagnostics: createDiagnostics(config),
    connections: new WeakMap(),
    wallet: createWallet(config, backend.store, (fresh) => remaining(fresh, now(), config)),
  }
  // the BFF's proxy sends with the undici package: loaded now (it takes from tens to hundreds of
  // ms), not in the first proxied request's time-out; a failure is met again at that request
  if (config.bff && config.apis.length > 0) loadUndici().catch(() => undefined)
  const sessions = createSessionControl(engine)
  engine.sharedSignals = sharedSignals(config, engine, signalStore, sessions)
  return { engine, sessions }
}

/**
 * `POST /auth/ssf` with `OAUTH_SSF`: what each Shared Signals event does to the user's sessions.
 * `end`: with a server-side store, their records destroyed (`sessions.endAll`); with cookie
 * sessions, an "ended before" record. The others: a record each session is checked against.
 */
function sharedSignals(config: OAuthConfig, engine: Engine, store: SessionStore | undefined, sessions: SessionControl): Engine['sharedSignals'] {
  const { records, backend } = engine
  if (!config.providers.some((provider) => provider.ssf) || !store || !isCoordinating(store) || !records) return undefined
  return createSharedSignals(config, engine.providers.list, store, async (action, provider, sub) => {
    if (action === 'reauthenticate') await records.reauthenticate(provider, sub)
    else if (action === 'refresh') await records.refreshClaims(provider, sub)
    else if (backend.kind === 'cookie') await records.endUser(provider, sub)
    else await sessions.endAll(sub, { provider })
  })
}

/**
 * The session records (see `session/ended.ts`): cookie sessions' "ended before" records with
 * `OAUTH_REDIS_URL`, and with `OAUTH_SSF` Shared Signals' (in the server-side store, or that
 * Redis). Keyed by the session's provider (by name) and its identity's `sub` and `sid`.
 */
function sessionRecords(config: OAuthConfig, backend: SessionBackend, providerOf: (session: SessionData) => string | undefined): SessionRecords | undefined {
  const store = backend.kind === 'cookie' ? backend.records : backend.store
  const uses = { ends: backend.kind === 'cookie', signals: config.providers.some((provider) => provider.ssf) }
  if (!canRecord(store) || !(uses.ends || uses.signals)) return undefined
  return createSessionRecords(store, config.sessionMaxAge, uses, (session) => {
    const identity = identityOf(session)
    const provider = identity?.provider ?? providerOf(session)
    return identity && provider !== undefined ? { provider, sub: identity.sub, sid: identity.sid, authTime: identity.auth_time, claimsTime: uses.signals ? tokensIssuedAt(session) : undefined } : undefined
  })
}
