import { readFileSync } from 'node:fs'
import { configFromEnv, type OAuthOptions } from '@codegrant/core'
import type { KitAnswer } from './inspector/index.js'
import { escapeHtml, htmlPage, STYLE } from './inspector/page.js'
import { apiNames } from './userinfo.js'

/** The browser modules the page loads, by name (`/spa/<name>`), as compiled beside this file (`browser/`). */
const MODULES = ['spa.js', 'bff.js', 'format.js']

const NOT_FOUND: KitAnswer = {
  status: 404,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify({ error: 'not_found', message: 'the single-page app needs the backend-for-frontend: OAUTH_BFF=true' }),
}

/**
 * The examples' single-page app, the same in every framework: `GET /spa` (its page) and
 * `GET /spa/<module>.js` (plain ES modules, no bundler), under the inspector's CSP (scripts and
 * styles by this response's nonce only; the modules it imports inherit it). It talks to codegrant's
 * backend-for-frontend only, so it is served only when `OAUTH_BFF` (or `options.bff`) is on; otherwise
 * a 404 that says so. Answers undefined for any other path.
 */
export function spa(framework: string, options?: OAuthOptions, env: NodeJS.ProcessEnv = process.env): (path: string) => KitAnswer | undefined {
  const enabled = { ...configFromEnv(env), ...options }.bff === true
  const apis = apiNames(options, env)
  const modules = new Map(MODULES.map((name) => [`/spa/${name}`, moduleSource(name)]))
  return (path): KitAnswer | undefined => {
    const source = modules.get(path)
    if (path !== '/spa' && source === undefined) return undefined
    if (!enabled) return { ...NOT_FOUND, headers: { ...NOT_FOUND.headers } }
    if (source !== undefined) {
      return { status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' }, body: source }
    }
    return htmlPage((nonce) => renderSpa(framework, apis, nonce))
  }
}

/** A compiled browser module, without its source map comment (the map is not served). */
function moduleSource(name: string): string {
  return readFileSync(new URL(`./browser/${name}`, import.meta.url), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
}

/** The page: static but for the nonce, the framework's name and a button per API. */
function renderSpa(framework: string, apis: string[], nonce: string): string {
  const calls = apis.map((api) => `<button type="button" class="secondary" data-api="${escapeHtml(api)}">Call the ${escapeHtml(api)} API</button>`).join('\n')
  const stream = apis[0] === undefined ? '' : `<button type="button" class="secondary" id="stream-events" data-stream="${escapeHtml(apis[0])}">Stream events from ${escapeHtml(apis[0])}</button>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codegrant ${escapeHtml(framework)} example · single-page app</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}
[hidden]{display:none!important}
#events{margin:.75rem 0 0;padding-left:1.5rem;font-size:.85rem}
pre{white-space:pre-wrap;word-break:break-word;font-size:.85rem;margin:0}</style>
<script type="module" nonce="${nonce}" src="/spa/spa.js"></script>
</head>
<body>
<header><span class="brand">codegrant</span><span class="framework">${escapeHtml(framework)} example · single-page app</span></header>
<main>
<h1 id="status">Loading…</h1>
<p class="lede">Static HTML and plain ES modules that never see a token: <code>/bff/session</code> says who is signed in, and the APIs are called through <code>/bff/&lt;api&gt;/</code> with the session cookie and the anti-forgery header; codegrant adds each API's own token.</p>
<div class="grid">
<section class="card" aria-labelledby="session-heading">
<h2 id="session-heading">Session</h2>
<dl><dt>Ends</dt><dd id="session-left">…</dd></dl>
<p class="note">GET /bff/session:</p>
<pre id="session-json"></pre>
</section>
<section class="card" aria-labelledby="try-heading">
<h2 id="try-heading">Try it</h2>
<div class="actions">
<a class="button" id="login" href="/auth/login?returnTo=%2Fspa">Log in</a>
${calls}
${stream}
<button type="button" class="secondary" id="silent-login">Silent login</button>
<button type="button" class="danger" id="logout">Log out</button>
<form method="post" action="/auth/logout?returnTo=%2Fspa"><button type="submit" class="danger" id="logout-everywhere">Log out here and at the provider</button></form>
</div>
<div id="result" class="result" role="status" aria-live="polite" hidden><p id="result-title"></p><pre id="result-body"></pre></div>
<ol id="events"></ol>
</section>
</div>
</main>
<footer>The session inspector: <a href="/">/</a></footer>
</body>
</html>
`
}
