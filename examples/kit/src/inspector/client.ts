import { formatLeft, formatTime } from '../browser/format.js'
import type { InspectorView } from './view.js'

/**
 * The page's script, run in the browser. It is TypeScript compiled with the rest of the kit
 * and sent as its own source (with the two formatting functions it calls), inline with the
 * response's CSP nonce: it may use nothing from this module's scope.
 */
function inspectorScript(): void {
  const body = document.body
  // the server's clock: countdowns agree with the server's idea of expiry
  const offset = Number(body.dataset.now) - Date.now() / 1000
  const serverNow = () => Date.now() / 1000 + offset
  const byId = (id: string) => document.getElementById(id)

  const tick = () => {
    for (const element of document.querySelectorAll<HTMLElement>('[data-until]')) {
      element.textContent = formatLeft(Number(element.dataset.until) - serverNow())
    }
  }
  tick()
  setInterval(tick, 1000)

  const setTime = (id: string, epoch: number | null) => {
    const time = byId(id)
    const left = byId(`${id}-left`)
    if (!time || !left) return
    if (epoch === null) {
      time.textContent = 'not given by the provider'
      left.textContent = ''
      delete left.dataset.until
      return
    }
    time.textContent = formatTime(epoch)
    time.setAttribute('datetime', new Date(epoch * 1000).toISOString())
    time.dataset.epoch = String(epoch)
    left.dataset.until = String(epoch)
    left.textContent = formatLeft(epoch - serverNow())
  }
  const setText = (id: string, text: string) => {
    const element = byId(id)
    if (!element) return
    element.textContent = text
    element.classList.remove('changed')
    void element.offsetWidth // restart the highlight
    element.classList.add('changed')
  }

  const show = (title: string, ok: boolean, detail: unknown) => {
    const result = byId('result')!
    result.hidden = false
    result.className = ok ? 'result ok' : 'result failed'
    byId('result-title')!.textContent = title
    byId('result-body')!.textContent = typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)
  }

  const call = async (method: string, path: string) => {
    const response = await fetch(path, { method, headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON: shown as text
    }
    return { status: response.status, ok: response.ok, title: `${method} ${path} → ${response.status} ${response.statusText}`.trim(), body: parsed }
  }

  const refreshed = (before: { token: string; expiresAt: string; refreshToken: string }, view: InspectorView) => {
    const tokens = view.tokens!
    setTime('token-expiry', tokens.expiresAt)
    setText('token-expiry', byId('token-expiry')?.textContent ?? '')
    setText('token-fingerprint', tokens.accessToken)
    setText('refresh-token', tokens.refreshToken ? `held (${tokens.refreshToken})` : 'none')
    if (view.session) setTime('session-idle', view.session.idleExpiresAt)
    return {
      accessToken: `${before.token} → ${tokens.accessToken}`,
      expires: `${before.expiresAt} → ${tokens.expiresAt === null ? 'not given' : formatTime(tokens.expiresAt)}`,
      refreshToken: `${before.refreshToken} → ${tokens.refreshToken ? `held (${tokens.refreshToken})` : 'none'}`,
    }
  }

  for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-call]')) {
    button.addEventListener('click', async () => {
      const [method, path] = button.dataset.call!.split(' ') as [string, string]
      const busy = document.querySelectorAll<HTMLButtonElement>('button[data-call]')
      for (const other of busy) other.disabled = true
      const before = {
        token: byId('token-fingerprint')?.textContent ?? '',
        expiresAt: byId('token-expiry')?.textContent ?? '',
        refreshToken: byId('refresh-token')?.textContent ?? '',
      }
      try {
        const answer = await call(method, path)
        if (button.dataset.kind === 'refresh' && answer.ok) show(`${answer.title}: new tokens`, true, refreshed(before, answer.body as InspectorView))
        else show(answer.title, answer.ok, answer.body)
      } catch (error) {
        show(`${method} ${path} failed`, false, String(error))
      } finally {
        for (const other of busy) other.disabled = false
        button.focus()
      }
    })
  }
}

/** The script as sent: the formatting functions, then the inspector, run at once. */
export const INSPECTOR_SCRIPT = `${formatTime.toString()}\n${formatLeft.toString()}\n(${inspectorScript.toString()})();\n`
