/**
 * Token endpoints that do not answer as RFC 6749 §5 says (GitHub), brought back to it before
 * oauth4webapi reads the answer, so that its own checks and error handling apply unchanged:
 * an error sent with HTTP 200 becomes the 400 it is (oauth4webapi then raises its
 * `ResponseBodyError`), provider-specific error codes are named by the RFC's, a comma-separated
 * `scope` becomes space-separated, and a form-encoded answer becomes JSON.
 */
import * as oauth from 'oauth4webapi'
import type { TokenQuirks } from '../config/presets.js'
import type { FetchOptions } from './http.js'
import { isRecord } from '../json.js'

/** `http` with the token endpoint's answers conformed; `http` itself when there is nothing to do. */
export function withTokenQuirks(http: FetchOptions, quirks: TokenQuirks): FetchOptions {
  if (!quirks.errorsWithStatus200 && !quirks.errorAliases && !quirks.commaScope && !quirks.formEncoded) return http
  const send = http[oauth.customFetch]
  return {
    ...http,
    [oauth.customFetch]: async (url, init) => {
      const response = await send(url, init)
      // a token request is a POST whose form names a grant (PAR and revocation forms do not)
      return init.body instanceof URLSearchParams && init.body.has('grant_type') ? conform(response, quirks) : response
    },
  }
}

async function conform(response: Response, quirks: TokenQuirks): Promise<Response> {
  const type = response.headers.get('content-type') ?? ''
  const form = /^application\/x-www-form-urlencoded/i.test(type)
  if (!form && !/^application\/json/i.test(type)) return response
  if (form && !quirks.formEncoded) return response
  // the answer is already in memory (provider/http.ts reads it whole, capped)
  const text = await response.text()
  let body: Record<string, unknown>
  try {
    const parsed: unknown = form ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text)
    if (!isRecord(parsed)) return rebuild(response, response.status, text)
    body = parsed
  } catch {
    return rebuild(response, response.status, text)
  }
  let status = response.status
  if (typeof body.error === 'string') {
    if (quirks.errorsWithStatus200 && status === 200 && body.access_token === undefined) status = 400
    const alias = quirks.errorAliases?.[body.error]
    if (alias) body = { ...body, error: alias, error_description: `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` }
  }
  if (quirks.commaScope && typeof body.scope === 'string') body = { ...body, scope: body.scope.split(/[\s,]+/).filter(Boolean).join(' ') }
  return rebuild(response, status, JSON.stringify(body), true)
}

function rebuild(response: Response, status: number, body: string, json = false): Response {
  const headers = new Headers(response.headers)
  if (json) {
    headers.set('content-type', 'application/json')
    headers.delete('content-length')
  }
  return new Response(body, { status, statusText: status === response.status ? response.statusText : '', headers })
}
