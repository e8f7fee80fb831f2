// Runs in the browser, as a plain ES module (served at /spa/bff.js): what a single-page app needs
// of codegrant's backend-for-frontend, with nothing but fetch and window. No token ever reaches
// this code: the session cookie is HttpOnly and the server calls the APIs.

/** `GET /bff/session`'s answer. */
export interface BffSession {
  isAuthenticated: boolean
  user: Record<string, unknown> | null
  provider: string | null
  /** Epoch seconds: the absolute end, and the idle end (moved on by every request). */
  session: { expiresAt: number; idleExpiresAt: number } | null
  loginUrl: string
  logoutUrl: string
  /** The anti-forgery header every other `/bff/` request carries. */
  csrfHeader: { name: string; value: string }
}

/** What the silent login's page posts to its opener. */
export interface SilentLoginResult {
  ok: boolean
  error?: string
}

/**
 * The session, and the server's clock (its `Date` header, in epoch seconds) so that a countdown
 * agrees with the server's idea of expiry whatever the browser's clock says.
 */
export async function readSession(): Promise<{ session: BffSession; serverNow: number }> {
  const response = await fetch('/bff/session', { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
  if (!response.ok) throw new Error(`GET /bff/session answered ${response.status}`)
  const date = Date.parse(response.headers.get('date') ?? '')
  return { session: (await response.json()) as BffSession, serverNow: (Number.isNaN(date) ? Date.now() : date) / 1000 }
}

/** A call to an API of `OAUTH_APIS` through `/bff/<api>/<path>`, with the anti-forgery header. */
export function callApi(session: BffSession, api: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  headers.set(session.csrfHeader.name, session.csrfHeader.value)
  return fetch(`/bff/${encodeURIComponent(api)}/${path.replace(/^\//, '')}`, { ...init, headers, credentials: 'same-origin', cache: 'no-store' })
}

/**
 * The server-sent events of a streamed answer, as they arrive. Read with `fetch` rather than
 * `EventSource`, which cannot send the anti-forgery header.
 */
export async function* serverSentEvents(response: Response): AsyncGenerator<{ event: string; data: string }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffered = ''
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    buffered += chunk.value.replace(/\r\n?/g, '\n')
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const block = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      let event = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(':')
        const value = rest.join(':').replace(/^ /, '')
        if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
      if (data.length > 0) yield { event, data: data.join('\n') }
    }
  }
}

/**
 * Signs in again without leaving the page: `/bff/silent-login` in a popup (a `prompt=none`
 * round trip: the provider's cookies are first-party there), which posts its result to this
 * window and closes. Only a message from that popup, of this origin, counts. Call it from a
 * click: browsers block popups that no user action opened.
 */
export function silentLogin(timeoutMs = 15_000): Promise<SilentLoginResult> {
  const popup = window.open('/bff/silent-login', 'codegrant-silent-login', 'popup,width=480,height=640')
  if (!popup) return Promise.resolve({ ok: false, error: 'popup_blocked' })
  return new Promise((resolve) => {
    const started = Date.now()
    let closedAt: number | undefined
    const finish = (result: SilentLoginResult) => {
      window.removeEventListener('message', onMessage)
      clearInterval(watch)
      if (!popup.closed) popup.close()
      resolve(result)
    }
    const onMessage = (event: MessageEvent) => {
      const data = event.data as { type?: unknown; ok?: unknown; error?: unknown } | null
      if (event.origin !== window.location.origin || event.source !== popup || data?.type !== 'codegrant:silent-login') return
      finish({ ok: data.ok === true, ...(typeof data.error === 'string' ? { error: data.error } : {}) })
    }
    window.addEventListener('message', onMessage)
    // the user closed the popup, or it never answered: given up (the message may trail the closing by a moment)
    const watch = setInterval(() => {
      if (popup.closed) closedAt ??= Date.now()
      if (closedAt !== undefined && Date.now() - closedAt > 1000) finish({ ok: false, error: 'closed' })
      else if (Date.now() - started > timeoutMs) finish({ ok: false, error: 'timeout' })
    }, 200)
  })
}

/**
 * Signs out of this app with a `fetch` (the header, like every `/bff/` call, though the logout
 * route checks fetch metadata): the session ends here and its tokens are revoked. The logout
 * route's redirect to the provider is not followed (`redirect: 'manual'`): signing out at the
 * provider too takes a navigation, a form that POSTs to `logoutUrl`.
 */
export async function logout(session: BffSession): Promise<void> {
  const response = await fetch(session.logoutUrl, {
    method: 'POST',
    headers: { [session.csrfHeader.name]: session.csrfHeader.value },
    credentials: 'same-origin',
    redirect: 'manual',
  })
  if (response.type !== 'opaqueredirect' && !response.ok) throw new Error(`POST ${session.logoutUrl} answered ${response.status}`)
}
