// Runs in the browser, as a plain ES module (served at /spa/app.js): the examples' single-page
// app. It shows `/bff/session`, counts down to the session's end, calls the APIs through the
// backend-for-frontend (one as a stream of server-sent events), signs in again silently in a
// popup and signs out, all without reloading. It only ever writes text into the page.
import { callApi, logout, readSession, serverSentEvents, silentLogin, type BffSession } from './bff.js'
import { formatLeft } from './format.js'

const byId = <E extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as E

let current: BffSession | undefined
/** The server's clock minus this browser's, in seconds. */
let offset = 0

/** Reads the session again and shows it. */
async function showSession(): Promise<void> {
  const { session, serverNow } = await readSession()
  offset = serverNow - Date.now() / 1000
  current = session
  const name = session.user ? String(session.user.name ?? session.user.sub) : ''
  byId('status').textContent = session.isAuthenticated ? `Signed in as ${name}` : 'Not signed in'
  byId('session-json').textContent = JSON.stringify(session, null, 2)
  byId<HTMLAnchorElement>('login').href = `${session.loginUrl}?returnTo=${encodeURIComponent(window.location.pathname)}`
  byId('login').hidden = session.isAuthenticated
  for (const id of ['logout', 'logout-everywhere']) byId(id).hidden = !session.isAuthenticated
  tick()
}

/** The countdown to whichever end of the session comes first (the idle one moves on with every request). */
function tick(): void {
  const left = byId('session-left')
  const times = current?.session
  if (!times) {
    left.textContent = 'no session'
    return
  }
  const idle = times.idleExpiresAt <= times.expiresAt
  const end = idle ? times.idleExpiresAt : times.expiresAt
  left.textContent = `${formatLeft(end - (Date.now() / 1000 + offset))} (${idle ? 'idle' : 'absolute'} end)`
}

/** Shows an outcome in the result box. */
function show(title: string, ok: boolean, detail: unknown): void {
  const result = byId('result')
  result.hidden = false
  result.className = ok ? 'result ok' : 'result failed'
  byId('result-title').textContent = title
  byId('result-body').textContent = typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)
}

/** Runs a button's action with every button disabled, showing what failed; the session is shown again after. */
function onClick(button: HTMLElement, action: () => Promise<void>): void {
  button.addEventListener('click', async () => {
    const buttons = document.querySelectorAll<HTMLButtonElement>('button')
    for (const other of buttons) other.disabled = true
    try {
      await action()
    } catch (error) {
      show(`${button.textContent ?? 'action'} failed`, false, String(error))
    } finally {
      for (const other of buttons) other.disabled = false
      await showSession().catch(() => undefined)
    }
  })
}

/** An API's answer as JSON when it is, else as text. */
async function bodyOf(response: Response): Promise<unknown> {
  const text = await response.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-api]')) {
  onClick(button, async () => {
    if (!current) return
    const api = button.dataset.api!
    const response = await callApi(current, api, '/', { headers: { accept: 'application/json' } })
    show(`GET /bff/${api}/ → ${response.status}`, response.ok, await bodyOf(response))
  })
}

// the first API's events (the demo's APIs stream them), when the app has an API
const stream = document.getElementById('stream-events')
if (stream) onClick(stream, async () => {
  if (!current) return
  const api = stream.dataset.stream!
  const list = byId('events')
  list.replaceChildren()
  const response = await callApi(current, api, '/events?count=3&interval=300', { headers: { accept: 'text/event-stream' } })
  if (!response.ok) return show(`GET /bff/${api}/events → ${response.status}`, false, await bodyOf(response))
  let received = 0
  for await (const { event, data } of serverSentEvents(response)) {
    const item = document.createElement('li')
    item.textContent = `${event}: ${data}`
    list.append(item)
    received += 1
  }
  show(`GET /bff/${api}/events → ${response.status}: ${received} events`, true, `${received} server-sent events, each shown as it arrived`)
})

onClick(byId('silent-login'), async () => {
  const result = await silentLogin()
  show(result.ok ? 'Silent login: signed in' : `Silent login: not signed in (${result.error ?? 'unknown'})`, result.ok, result)
})

onClick(byId('logout'), async () => {
  if (!current) return
  await logout(current)
  show('Signed out of this app', true, 'The session here is ended and its tokens revoked; the provider may still have its own session (a silent login would use it).')
})

setInterval(tick, 1000)
await showSession()
