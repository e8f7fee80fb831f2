import { createHash } from 'node:crypto';

import { users } from './users.js';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

export const TITLE = 'codegrant dev provider';
export const DEV_ONLY_BANNER = 'For development and tests only — do not use in production.';

// Contrast: every text colour here is at least 4.5:1 on its background (WCAG AA); focus is a
// thick outline that never depends on colour alone.
const STYLE = [
  ':root{color-scheme:light}',
  '*{box-sizing:border-box}',
  'body{margin:0;background:#eef1f4;color:#1b1f24;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}',
  '.top{margin:0;background:#7a2e0e;color:#fff;padding:.6rem 1rem;text-align:center;font-weight:600}',
  'main{max-width:34rem;margin:2rem auto;padding:0 1rem}',
  '.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}',
  '.card{background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:1.5rem 1.75rem;box-shadow:0 1px 2px rgba(0,0,0,.05)}',
  '.brand{margin:0 0 .25rem;color:#4b5563;font-size:.9rem;font-weight:600;letter-spacing:.02em}',
  'h1{font-size:1.5rem;margin:0 0 .75rem}',
  'h2{font-size:1.05rem;margin:1.5rem 0 .5rem}',
  '.banner{background:#fff4d6;border:1px solid #b7791f;color:#5c3d00;padding:.6rem .8rem;border-radius:8px;margin:0 0 1rem;font-size:.93rem}',
  '.error{background:#fde8e7;border:1px solid #b42318;color:#7a1610;padding:.6rem .8rem;border-radius:8px}',
  'label{display:block;margin-top:1rem;font-weight:600}',
  'label small{font-weight:400}',
  'input{width:100%;margin-top:.3rem;padding:.55rem .65rem;font:inherit;border:1px solid #6b7280;border-radius:8px;background:#fff;color:inherit}',
  'input[aria-invalid=true]{border-color:#b42318}',
  '.buttons{display:flex;gap:.6rem;margin-top:1.25rem;flex-wrap:wrap}',
  'button{font:inherit;font-weight:600;padding:.55rem 1.1rem;border-radius:8px;border:2px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer}',
  'button.secondary{background:#fff;color:#1d4ed8}',
  'button.small{padding:.25rem .7rem;font-size:.9rem}',
  ':focus-visible{outline:3px solid #f59e0b;outline-offset:2px}',
  'input:focus-visible{outline-offset:0}',
  'table{border-collapse:collapse;width:100%;font-size:.93rem}',
  'th,td{text-align:left;padding:.45rem .4rem;border-bottom:1px solid #d0d7de;vertical-align:middle}',
  'thead th{color:#4b5563;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}',
  'td form{margin:0;text-align:right}',
  'code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;background:#f1f3f5;border-radius:4px;padding:.05rem .3rem}',
  'small,.hint{color:#4b5563}',
  '.hint{font-size:.9rem;margin:.75rem 0 0}',
  'dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}',
  'dd{margin:0;overflow-wrap:anywhere}',
].join('');

/** A page with no script: nothing but inline styles may load. */
export const STATIC_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

export interface Page {
  html: string;
  csp: string;
}

function layout(heading: string, body: string, script?: string): Page {
  const scriptTag = script === undefined ? '' : `<script>${script}</script>`;
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(heading)} · ${escapeHtml(TITLE)}</title>
<style>${STYLE}</style>
</head>
<body>
<p class="top" role="note">Development provider — not a real identity provider</p>
<main>
<div class="card">
<p class="brand">${escapeHtml(TITLE)}</p>
<h1>${escapeHtml(heading)}</h1>
<p class="banner"><strong>${escapeHtml(DEV_ONLY_BANNER)}</strong> It signs in its test users with any password and keeps everything in memory.</p>
${body}
</div>
</main>
${scriptTag}
</body>
</html>
`;
  return { html, csp: script === undefined ? STATIC_PAGE_CSP : cspWithScript(script) };
}

/** Allows exactly this inline script (by hash) and nothing else. */
function cspWithScript(script: string): string {
  const hash = createHash('sha256').update(script).digest('base64');
  return `${STATIC_PAGE_CSP}; script-src 'sha256-${hash}'`;
}

function groupsOf(groups: string[]): string {
  return groups.length ? `group${groups.length > 1 ? 's' : ''} ${groups.map((group) => `<code>${escapeHtml(group)}</code>`).join(', ')}` : 'no groups';
}

/** The test users, each with a one-click sign-in (a form of its own, after the main one). */
function usersTable(action: string): string {
  const rows = Object.values(users)
    .map(
      (user) => `<tr><th scope="row"><code>${escapeHtml(user.sub)}</code></th><td>${escapeHtml(user.name)}<br><small>${escapeHtml(user.email)}</small></td><td>${groupsOf(user.groups)}</td>
<td><form method="post" action="${action}"><input type="hidden" name="username" value="${escapeHtml(user.sub)}"><button type="submit" class="secondary small" aria-label="Sign in as ${escapeHtml(user.sub)}">Sign in</button></form></td></tr>`,
    )
    .join('\n');
  return `<h2 id="users-heading">Test users</h2>
<table aria-labelledby="users-heading"><thead><tr><th scope="col">User</th><th scope="col">Name</th><th scope="col">Has</th><th scope="col"><span class="sr-only">Sign in as</span></th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="hint">Any password is accepted. Consent is given automatically: every client of a dev provider is first-party.</p>`;
}

export interface LoginPageInput {
  uid: string;
  clientId: string | undefined;
  /** The scopes the client asks for, shown so the user sees what the client will get. */
  scope?: string;
  username?: string;
  error?: string;
}

export function loginPage({ uid, clientId, scope, username = '', error }: LoginPageInput): Page {
  const action = `/interaction/${encodeURIComponent(uid)}`;
  const target = clientId ? ` to continue to <strong>${escapeHtml(clientId)}</strong>` : '';
  const scopes = (scope ?? '').split(' ').filter(Boolean);
  const asks = scopes.length ? ` It asks for ${scopes.map((item) => `<code>${escapeHtml(item)}</code>`).join(' ')}.` : '';
  const alert = error === undefined ? '' : `<p class="error" role="alert" id="login-error">${escapeHtml(error)}</p>`;
  const invalid = error === undefined ? '' : ' aria-invalid="true" aria-describedby="login-error"';
  const body = `<p>Sign in${target}.${asks}</p>
${alert}
<form method="post" action="${action}" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus required${invalid}>
<label for="password">Password <small>(any value is accepted)</small></label>
<input id="password" name="password" type="password" autocomplete="current-password">
<div class="buttons">
<button id="login" type="submit">Sign in</button>
<button id="cancel" type="submit" class="secondary" name="action" value="cancel" formnovalidate>Cancel</button>
</div>
</form>
${usersTable(action)}`;
  return layout('Sign in', body);
}

export function messagePage(heading: string, message: string): Page {
  return layout(heading, `<p>${escapeHtml(message)}</p>`);
}

export function errorPage(details: Record<string, unknown>): Page {
  const rows = Object.entries(details)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd><code>${escapeHtml(value)}</code></dd>`)
    .join('');
  return layout('Something went wrong', `<dl>${rows}</dl>`);
}

/**
 * RP-initiated logout confirmation. oidc-provider hands us its form (a hidden
 * xsrf field, no buttons). Clients of a dev provider are all first-party, so
 * the page confirms by itself with a one-line script and the browser lands
 * straight back on the post_logout_redirect_uri; without JavaScript the same
 * buttons are there to click.
 */
export function logoutPage(form: string): Page {
  const body = `<p>Sign out of the ${escapeHtml(TITLE)}?</p>
${form}
<button id="logout" type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, sign me out</button>
<button id="stay" type="submit" form="op.logoutForm">No, stay signed in</button>`;
  return layout('Sign out', body, "document.getElementById('logout').click();");
}

export function postLogoutPage(clientId: string | undefined): Page {
  const from = clientId ? ` from ${clientId}` : '';
  return messagePage('Signed out', `You have been signed out${from}. You can close this window.`);
}

/**
 * After a logout, the page that renders each client's front-channel logout URI in an iframe
 * (OpenID Connect Front-Channel Logout 1.0 §4) and then goes on to `next` (the post-logout
 * redirect) once every frame has loaded, or after two seconds whatever they do.
 */
export function frontchannelPage(frames: string[], next: string): Page {
  const iframes = frames.map((src) => `<iframe src="${escapeHtml(src)}" title="signing out" width="0" height="0" style="display:none"></iframe>`).join('\n');
  const body = `<p>Signing you out of every app…</p>
${iframes}
<p><a id="continue" href="${escapeHtml(next)}">Continue</a></p>`;
  const script = "(()=>{const go=()=>location.assign(document.getElementById('continue').href);let left=document.querySelectorAll('iframe').length;document.querySelectorAll('iframe').forEach((f)=>f.addEventListener('load',()=>{if(--left===0)go()}));setTimeout(go,2000)})();";
  const page = layout('Signing out', body, script);
  const origins = [...new Set(frames.map((src) => new URL(src).origin))].join(' ');
  return { html: page.html, csp: `${page.csp}; frame-src ${origins}` };
}
