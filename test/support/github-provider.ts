/**
 * A loopback provider shaped like GitHub's OAuth apps and REST API (as GitHub documents them):
 *
 * - `GET /login/oauth/authorize` redirects back with `code` and `state` (no `iss`);
 * - `POST /login/oauth/access_token` answers form-encoded unless the request accepts
 *   `application/json`, and answers errors with HTTP 200 and an `error` member
 *   (`bad_verification_code`, `incorrect_client_credentials`); `scope` is comma-separated;
 *   there is no ID token;
 * - `GET /api/user` and `GET /api/user/emails` want the token, a `User-Agent` (403 without,
 *   like GitHub) and answer JSON; the email list needs the `user:email` (or `user`) scope
 *   (404 without, like GitHub).
 *
 * The preset's endpoints are pointed here by the test; it records what each request carried.
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { closeServer, readBody, merge } from './hostile-provider.js'

export interface GitHubSettings {
  /** Members of `/user` to replace (undefined deletes). */
  user?: Record<string, unknown>
  /** The whole `/user/emails` answer. */
  emails?: unknown
  /** The scope granted, comma-separated as GitHub writes it (default: the scope asked for). */
  grantedScope?: string
  /** The token endpoint answers this error with HTTP 200, as GitHub does. */
  tokenError?: string
  /** Ignore `Accept`: always answer form-encoded (a proxy that drops the header). */
  alwaysForm?: boolean
  /** `/user` answers this status instead. */
  userStatus?: number
}

export interface GitHubRequest {
  path: string
  accept: string | undefined
  userAgent: string | undefined
  authorization: string | undefined
  form?: URLSearchParams
}

export interface GitHubProvider {
  readonly url: string
  readonly endpoints: { authorizationEndpoint: string; tokenEndpoint: string; userinfoEndpoint: string }
  readonly clientId: string
  readonly clientSecret: string
  set(settings: GitHubSettings): void
  reset(): void
  requests(path?: string): GitHubRequest[]
  /** Every code and token issued, and the client secret. */
  secrets(): string[]
  close(): Promise<void>
}

/** `GET /user` of GitHub's REST API docs (trimmed): a user without a display name. */
export const GITHUB_USER = {
  login: 'octocat',
  id: 583231,
  node_id: 'MDQ6VXNlcjU4MzIzMQ==',
  avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4',
  html_url: 'https://github.com/octocat',
  type: 'User',
  site_admin: false,
  name: null,
  company: '@github',
  blog: 'https://github.blog',
  email: null,
}

/** `GET /user/emails`: the primary verified address is the second. */
export const GITHUB_EMAILS = [
  { email: 'octocat@users.noreply.github.com', primary: false, verified: true, visibility: null },
  { email: 'octocat@github.com', primary: true, verified: true, visibility: 'private' },
  { email: 'old@example.com', primary: false, verified: false, visibility: null },
]

export async function startGitHubProvider(options: { redirectUri: string; clientId?: string; clientSecret?: string }): Promise<GitHubProvider> {
  const clientId = options.clientId ?? 'Iv1.loopback'
  const clientSecret = options.clientSecret ?? 'github-client-secret'
  let settings: GitHubSettings = {}
  const log: GitHubRequest[] = []
  const issued: string[] = []
  const codes = new Map<string, { scope: string; redirectUri: string }>()
  const tokens = new Map<string, string>() // access token → granted scope

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const entry: GitHubRequest = { path: url.pathname, accept: req.headers.accept, userAgent: req.headers['user-agent'], authorization: req.headers.authorization }
      log.push(entry)
      const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body))

      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
        const q = url.searchParams
        if (q.get('client_id') !== clientId || q.get('redirect_uri') !== options.redirectUri) return void res.writeHead(400).end('bad client or redirect_uri')
        const code = `ghcode-${randomBytes(10).toString('hex')}`
        issued.push(code)
        codes.set(code, { scope: q.get('scope') ?? '', redirectUri: q.get('redirect_uri')! })
        const back = new URL(options.redirectUri)
        back.searchParams.set('code', code)
        back.searchParams.set('state', q.get('state') ?? '')
        return void res.writeHead(302, { location: back.href }).end()
      }
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
        const form = new URLSearchParams(await readBody(req))
        entry.form = form
        const wantsJson = !settings.alwaysForm && /application\/json/.test(req.headers.accept ?? '')
        const answer = (body: Record<string, string>) => {
          if (wantsJson) return json(200, body)
          res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }).end(new URLSearchParams(body).toString())
        }
        const grant = codes.get(form.get('code') ?? '')
        let error = settings.tokenError
        if (!error && (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret)) error = 'incorrect_client_credentials'
        if (!error && (!grant || grant.redirectUri !== form.get('redirect_uri'))) error = 'bad_verification_code'
        if (error) return answer({ error, error_description: `${error} (loopback)`, error_uri: 'https://docs.github.com/apps/oauth' })
        codes.delete(form.get('code')!)
        const scope = settings.grantedScope ?? grant!.scope.split(' ').join(',')
        const token = `gho_${randomBytes(18).toString('hex')}`
        issued.push(token)
        tokens.set(token, scope)
        return answer({ access_token: token, scope, token_type: 'bearer' })
      }
      if (req.method === 'GET' && (url.pathname === '/api/user' || url.pathname === '/api/user/emails')) {
        if (!req.headers['user-agent']) return json(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' })
        const token = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '')?.[1]
        const scope = token === undefined ? undefined : tokens.get(token)
        if (scope === undefined) return json(401, { message: 'Bad credentials' })
        if (url.pathname === '/api/user') {
          if (settings.userStatus) return json(settings.userStatus, { message: 'loopback says no' })
          return json(200, merge(GITHUB_USER, settings.user))
        }
        if (!scope.split(',').some((name) => name === 'user:email' || name === 'user')) return json(404, { message: 'Not Found' })
        return json(200, settings.emails ?? GITHUB_EMAILS)
      }
      res.writeHead(404).end()
    })().catch((error: unknown) => void res.writeHead(500).end(String(error)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    endpoints: { authorizationEndpoint: `${url}/login/oauth/authorize`, tokenEndpoint: `${url}/login/oauth/access_token`, userinfoEndpoint: `${url}/api/user` },
    clientId,
    clientSecret,
    set: (next) => void (settings = { ...settings, ...next }),
    reset: () => void (settings = {}),
    requests: (path) => log.filter((entry) => path === undefined || entry.path === path),
    secrets: () => [clientSecret, ...issued],
    close: () => closeServer(server),
  }
}


