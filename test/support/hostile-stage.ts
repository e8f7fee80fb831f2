/**
 * The fixture the suites against the hostile provider share (hostile, the threat suites under
 * threats/, userinfo-and-login-hook), registered inside a `describe.each(FRAMEWORKS)` block:
 * once per framework, an app stage on loopback and a hostile provider that registers its callback
 * (closed after the block); before each test the provider reset, fresh logs and a fresh cookie jar,
 * and (unless `mount: false`) the suite's app mounted with the default options; after each test
 * the real clock back, and no log line holding a code, token or secret the provider issued, or
 * the cookie secret.
 */
import type { OAuthOptions } from '@codegrant/core'
import { afterAll, afterEach, beforeAll, beforeEach, expect, vi } from 'vitest'
import { API, createAgent, type Agent, type Hop } from './agent.js'
import { buildHandler, openStage, type Framework, type Stage } from './apps.js'
import { startHostileProvider, type HostileProvider } from './hostile-provider.js'
import { appOptions, captureLogs, CLIENT_ID, CLIENT_SECRET, SECRET_A } from './provider.js'

export interface HostileStage {
  readonly stage: Stage
  readonly hostile: HostileProvider
  readonly logs: ReturnType<typeof captureLogs>
  readonly agent: Agent
  /** codegrant's options for the app: the hostile provider, the stage's URL, this test's logs, `httpTimeout`, then `extra`. */
  options(extra?: OAuthOptions): OAuthOptions
  /** Mounts the suite's app (support/apps.ts) for this framework with {@link options}. */
  mount(extra?: OAuthOptions): Promise<void>
  /** GET `path` on the app with this test's cookie jar (JSON by default). */
  get(path: string, headers?: Record<string, string>): Promise<Hop>
}

export function useHostileStage(framework: Framework, settings: { httpTimeout?: number; mount?: boolean } = {}): HostileStage {
  let stage: Stage
  let hostile: HostileProvider
  let logs: ReturnType<typeof captureLogs>
  let agent: Agent
  const timeout: OAuthOptions = settings.httpTimeout === undefined ? {} : { httpTimeout: settings.httpTimeout }
  const fixture: HostileStage = {
    get stage() { return stage },
    get hostile() { return hostile },
    get logs() { return logs },
    get agent() { return agent },
    options: (extra = {}) => appOptions(hostile, stage.url, logs, { ...timeout, ...extra }),
    mount: async (extra = {}) => stage.mount(await buildHandler(framework, fixture.options(extra), hostile.userinfoUrl)),
    get: (path, headers = API) => agent.request(`${stage.url}${path}`, { headers }),
  }

  beforeAll(async () => {
    stage = await openStage()
    hostile = await startHostileProvider({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${stage.url}/auth/callback`] })
  })
  afterAll(async () => {
    await stage?.close()
    await hostile?.close()
  })
  beforeEach(async () => {
    hostile.reset()
    logs = captureLogs()
    agent = createAgent()
    if (settings.mount !== false) await fixture.mount()
  })
  afterEach(() => {
    vi.useRealTimers()
    // what codegrant logged about the failures carries no secret, code or token either
    for (const line of logs.lines) {
      for (const secret of [...hostile.secrets(), SECRET_A]) expect(line).not.toContain(secret)
    }
  })
  return fixture
}
