import { randomBytes } from 'node:crypto'
import { formatLeft, formatTime } from '../browser/format.js'
import type { InspectorView } from './view.js'

/** A demo user the signed-out page may name (the dev provider's, when the example runs the demo). */
export interface DemoUser {
  sub: string
  groups: string[]
}

/** The examples' look, shared by the inspector and the single-page app (`/spa`). */
export const STYLE = `
:root{color-scheme:light;--ink:#1b1f24;--muted:#4b5563;--line:#d8dee4;--card:#fff;--bg:#f4f6f8;--accent:#1d4ed8;--accent-ink:#fff;--ok:#146c2e;--bad:#b42318;--warn-bg:#fff4d6;--warn-line:#d4a017}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{background:#111827;color:#f9fafb;padding:.9rem 1.5rem;display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}
header .brand{font-weight:700;font-size:1.15rem;letter-spacing:.01em}
header .framework{color:#d1d5db}
main{max-width:64rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:.25rem 0 .5rem}
h2{font-size:1.1rem;margin:0 0 .75rem}
.lede{color:var(--muted);margin:0 0 1.25rem;max-width:46rem}
.grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem;align-items:start}
.column{display:grid;gap:1rem}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.1rem 1.25rem}
section.wide{grid-column:1/-1}
@media (max-width:52rem){.grid{grid-template-columns:minmax(0,1fr)}}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;white-space:nowrap}
thead th{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
td code,dd code{word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem;margin:0;font-size:.95rem}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
dd small{display:block;color:var(--muted);font-size:.85rem}
.left{color:var(--muted);font-variant-numeric:tabular-nums;white-space:nowrap}
.chips{display:flex;flex-wrap:wrap;gap:.35rem;list-style:none;margin:0;padding:0}
.chips li{background:#eef2ff;border:1px solid #c7d2fe;color:#1e3a8a;border-radius:999px;padding:0 .6rem;font-size:.85rem}
.note{color:var(--muted);font-size:.88rem;margin:.75rem 0 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;background:#f1f3f5;border-radius:4px;padding:.05rem .3rem}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}
.actions form{margin:0 0 0 auto}
.button,button{display:inline-block;font:inherit;font-weight:600;border-radius:8px;padding:.55rem 1rem;border:2px solid var(--accent);background:var(--accent);color:var(--accent-ink);cursor:pointer;text-decoration:none}
button.secondary{background:#fff;color:var(--accent)}
button.danger{background:#fff;color:var(--bad);border-color:var(--bad)}
button:disabled{opacity:.6;cursor:progress}
.button:hover,button:hover{filter:brightness(1.08)}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.result{margin-top:1rem;border-radius:8px;border:1px solid var(--line);background:#f8fafc;padding:.75rem 1rem}
.result.ok{border-left:6px solid var(--ok)}
.result.failed{border-left:6px solid var(--bad)}
.result p{margin:0 0 .5rem;font-weight:600}
.result pre{margin:0;white-space:pre-wrap;word-break:break-word;font-size:.85rem}
.changed{animation:flash 1.5s ease-out}
@keyframes flash{from{background:#fde68a}to{background:transparent}}
.dev{background:var(--warn-bg);border:1px solid var(--warn-line);border-radius:8px;padding:.6rem .9rem;margin:0 0 1.25rem}
.hero{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.5rem;max-width:40rem}
.hero .button{font-size:1.05rem;padding:.65rem 1.4rem}
footer{max-width:64rem;margin:0 auto;padding:0 1.5rem 2rem;color:var(--muted);font-size:.88rem}
footer a{color:var(--accent)}
@media (prefers-reduced-motion:reduce){.changed{animation:none}}
`

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A claim's value as text: strings as they are, anything else as JSON. */
function claimText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time', 'updated_at'])

function claimCell(claim: string, value: unknown): string {
  const text = escapeHtml(claimText(value))
  return TIME_CLAIMS.has(claim) && typeof value === 'number' ? `${text} <span class="left">(${formatTime(value)})</span>` : text
}

function time(id: string, epoch: number | null, now: number): string {
  if (epoch === null) return `<time id="${id}">not given by the provider</time><small class="left" id="${id}-left"></small>`
  const iso = new Date(epoch * 1000).toISOString()
  return `<time id="${id}" datetime="${iso}" data-epoch="${epoch}">${formatTime(epoch)}</time><small class="left" id="${id}-left" data-until="${epoch}">${formatLeft(epoch - now)}</small>`
}

const STORES: Record<string, string> = {
  cookie: 'the whole session, encrypted, in this browser’s cookies',
  memory: 'in this process; the browser holds an encrypted session id',
  redis: 'in Redis; the browser holds an encrypted session id',
}

function signedIn(view: InspectorView): string {
  const { user = {}, session, tokens } = view
  const name = claimText(user.name ?? user.sub)
  const claims = Object.entries(user)
    .map(([claim, value]) => `<tr><th scope="row"><code>${escapeHtml(claim)}</code></th><td>${claimCell(claim, value)}</td></tr>`)
    .join('')
  const scopes = (tokens?.scopes ?? []).map((scope) => `<li>${escapeHtml(scope)}</li>`).join('')
  return `<h1>Signed in as ${escapeHtml(name)}${view.provider ? ` with ${escapeHtml(view.provider)}` : ''}</h1>
<p class="lede">What codegrant keeps for this browser’s session, read from <code>oauth.user</code>, <code>oauth.session</code> and <code>oauth.tokens</code>. Tokens never leave the server: each is shown by a fingerprint (the start of its SHA-256).</p>
<div class="grid">
<section class="card" aria-labelledby="claims-heading">
<h2 id="claims-heading">User claims</h2>
<table id="claims"><thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead><tbody>${claims}</tbody></table>
<p class="note">From the ID token the provider signed at login.</p>
</section>
<div class="column">
<section class="card" aria-labelledby="session-heading">
<h2 id="session-heading">Session</h2>
${
  session
    ? `<dl>
<dt>Store</dt><dd id="session-store">${escapeHtml(session.store)}${STORES[session.store] ? `<small>${escapeHtml(STORES[session.store])}</small>` : ''}</dd>
<dt>Signed in</dt><dd>${formatTime(session.issuedAt)}</dd>
<dt>Absolute end</dt><dd>${time('session-end', session.expiresAt, view.now)}</dd>
<dt>Idle end</dt><dd>${time('session-idle', session.idleExpiresAt, view.now)}</dd>
</dl>
<p class="note">The session ends at whichever comes first. Using the app moves the idle end forward; nothing moves the absolute end.</p>`
    : ''
}
</section>
<section class="card" aria-labelledby="token-heading">
<h2 id="token-heading">Access token</h2>
${
  tokens
    ? `<dl>
<dt>Type</dt><dd id="token-type">${escapeHtml(tokens.type)}</dd>
<dt>Scopes</dt><dd><ul class="chips" id="token-scopes">${scopes}</ul></dd>
<dt>Expires</dt><dd>${time('token-expiry', tokens.expiresAt, view.now)}</dd>
<dt>Fingerprint</dt><dd><code id="token-fingerprint">${escapeHtml(tokens.accessToken)}</code></dd>
<dt>Refresh token</dt><dd id="refresh-token">${tokens.refreshToken ? `held (${escapeHtml(tokens.refreshToken)})` : 'none'}</dd>
<dt>ID token</dt><dd id="id-token">${tokens.idToken ? `held (${escapeHtml(tokens.idToken)})` : 'none'}</dd>
</dl>
<p class="note">Calls through <code>oauth.fetch</code> refresh it first when it is about to expire (<code>OAUTH_REFRESH_SKEW</code>).</p>`
    : ''
}
</section>
</div>
<section class="card wide" aria-labelledby="try-heading">
<h2 id="try-heading">Try it</h2>
<div class="actions">
<button type="button" data-call="GET /api/userinfo">Call /api/userinfo</button>
<button type="button" class="secondary" data-call="POST /demo/refresh" data-kind="refresh">Refresh the tokens now</button>
<button type="button" class="secondary" data-call="GET /admin">Call /admin</button>
${(view.apis ?? []).map((api) => `<button type="button" class="secondary" data-call="GET /api/call/${escapeHtml(api)}">Call the ${escapeHtml(api)} API</button>`).join('\n')}
${!session || session.store === 'cookie' ? '' : `<button type="button" class="secondary" data-call="GET /demo/sessions">List my sessions</button>
<button type="button" class="secondary" data-call="POST /demo/sessions/end-others">Sign out my other sessions</button>
`}<form method="post" action="/auth/logout"><button type="submit" class="danger" id="logout">Log out</button></form>
</div>
<div id="result" class="result" role="status" aria-live="polite" hidden><p id="result-title"></p><pre id="result-body"></pre></div>
${view.apis?.length ? '<p class="note">Each API gets a token of its own (its audience, its scope), asked for on first use: <code>oauth.fetch(\'&lt;api&gt;\', \'/\')</code>. The API answers with what it saw, the token by its fingerprint.</p>\n' : ''}<p class="note"><code>/api/userinfo</code> calls the provider with the access token; <code>/admin</code> is guarded by <code>requireAuth({ claims: { groups: 'admin' } })</code>; logging out ends the session here and at the provider.</p>
</section>
</div>`
}

function signedOut(demoUsers: DemoUser[] | undefined): string {
  const users = demoUsers?.length
    ? `<p class="note">The demo’s development provider knows ${demoUsers
        .map((user) => `<strong>${escapeHtml(user.sub)}</strong> (${user.groups.length ? `group ${escapeHtml(user.groups.join(', '))}` : 'no groups'})`)
        .join(' and ')}; any password is accepted.</p>`
    : ''
  return `<div class="hero">
<h1>Not signed in</h1>
<p class="lede">Log in through the provider to see what codegrant keeps for a session: your claims, the session’s lifetimes, the access token, and refresh at work.</p>
<a class="button" href="/auth/login">Log in</a>
${users}
</div>`
}

/** The whole page. `nonce` lets exactly this page's inline style and script run. */
export function renderPage(view: InspectorView, nonce: string, script: string, demoUsers?: DemoUser[]): string {
  const title = `codegrant ${view.framework} example`
  const dev = demoUsers ? '<p class="dev" role="note"><strong>Development setup:</strong> the provider is codegrant’s dev provider, started with this example; its secrets are new on every run.</p>' : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body data-now="${view.now}">
<header><span class="brand">codegrant</span><span class="framework">${escapeHtml(view.framework)} example · session inspector</span></header>
<main>
${dev}
${view.signedIn ? signedIn(view) : signedOut(demoUsers)}
</main>
<footer>JSON routes: <a href="/me">/me</a> · <a href="/api/userinfo">/api/userinfo</a> · <a href="/admin">/admin</a> · this page as JSON: <code>Accept: application/json</code></footer>
${view.signedIn ? `<script nonce="${nonce}">${script}</script>` : ''}
</body>
</html>
`
}

/**
 * A demo page (the inspector, the SPA): HTML never cached, under the strict CSP both share, whose
 * only script and style are the page's own, allowed by a nonce made for this answer.
 */
export function htmlPage(render: (nonce: string) => string): { status: number; headers: Record<string, string>; body: string } {
  const nonce = randomBytes(16).toString('base64')
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body: render(nonce),
  }
}
