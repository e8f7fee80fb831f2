import type { IncomingHttpHeaders } from 'node:http'
import { isCodegrantError, type OAuthOptions, type OAuthRequestState } from '@codegrant/core'
import { isProviderConfigured, users } from '@codegrant/dev-provider'
import { INSPECTOR_SCRIPT } from './client.js'
import { htmlPage, renderPage, type DemoUser } from './page.js'
import { inspectorView, storeName } from './view.js'
import { apiNames } from '../userinfo.js'

export { fingerprint, type InspectorView } from './view.js'

/** A response for the app to send as it is. */
export interface KitAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

export interface Inspector {
  /**
   * `GET /`: the session inspector. HTML for browsers (a "Log in" link when signed out); the
   * same data as JSON for clients that ask for `application/json` and not HTML.
   */
  home(oauth: OAuthRequestState, headers: IncomingHttpHeaders): KitAnswer
  /**
   * `POST /demo/refresh` (an example-only route): refreshes the tokens now with
   * `oauth.refresh()` and answers the inspector's data as JSON. Same-origin requests only.
   */
  refresh(oauth: OAuthRequestState, headers: IncomingHttpHeaders): Promise<KitAnswer>
  /**
   * `GET /demo/sessions` (an example-only route): the signed-in user's sessions
   * (`oauth.sessions.list()`) as JSON; with cookie sessions, codegrant's error saying why not.
   */
  sessions(oauth: OAuthRequestState): Promise<KitAnswer>
  /**
   * `POST /demo/sessions/end-others` (an example-only route): ends the user's other sessions
   * (`oauth.sessions.endAll({ except: 'current' })`) and answers how many. Same-origin requests only.
   */
  endOtherSessions(oauth: OAuthRequestState, headers: IncomingHttpHeaders): Promise<KitAnswer>
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

/**
 * The examples' home page, the same in every framework. `options` are the app's codegrant
 * options (they name the session store); with no provider configured, the page names the dev
 * provider's users.
 */
export function inspector(framework: string, options?: OAuthOptions, env: NodeJS.ProcessEnv = process.env): Inspector {
  const store = storeName(options, env)
  const apis = apiNames(options, env)
  const demoUsers: DemoUser[] | undefined = isProviderConfigured(env) ? undefined : Object.values(users).map(({ sub, groups }) => ({ sub, groups }))
  return {
    home(oauth, headers) {
      const view = { ...inspectorView(framework, store, oauth), ...(apis.length && oauth.isAuthenticated ? { apis } : {}) }
      if (wantsJson(headers)) return json(200, view)
      return htmlPage((nonce) => renderPage(view, nonce, INSPECTOR_SCRIPT, demoUsers))
    },
    async refresh(oauth, headers) {
      if (isCrossSite(headers)) return json(403, { error: 'cross_site_request' })
      return answer(async () => {
        await oauth.refresh()
        return inspectorView(framework, store, oauth)
      })
    },
    sessions: (oauth) => answer(() => oauth.sessions.list()),
    async endOtherSessions(oauth, headers) {
      if (isCrossSite(headers)) return json(403, { error: 'cross_site_request' })
      return answer(async () => ({ ended: await oauth.sessions.endAll({ except: 'current' }) }))
    },
  }
}

/** `run`'s result as JSON; codegrant's errors as their status, code and message. */
async function answer(run: () => Promise<unknown>): Promise<KitAnswer> {
  try {
    return json(200, await run())
  } catch (error) {
    if (isCodegrantError(error)) return json(error.status, { error: error.code.replace('codegrant/', ''), code: error.code, message: error.message })
    throw error
  }
}

function json(status: number, body: unknown): KitAnswer {
  return { status, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) }
}

function first(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? ''
}

function wantsJson(headers: IncomingHttpHeaders): boolean {
  const accept = first(headers.accept).toLowerCase()
  return accept.includes('application/json') && !accept.includes('text/html')
}

/** A POST another site made the browser send: refused (the route spends a refresh grant). */
function isCrossSite(headers: IncomingHttpHeaders): boolean {
  const site = first(headers['sec-fetch-site'])
  if (site && site !== 'same-origin') return true
  const origin = first(headers.origin)
  if (!origin) return false
  return origin === 'null' || URL.parse(origin)?.host !== first(headers.host)
}
