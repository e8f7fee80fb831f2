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

const STYLE = [
  'body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#222}',
  '.banner{background:#fff3cd;border:1px solid #e0b000;padding:.5rem .75rem;border-radius:4px}',
  '.error{background:#fde2e1;border:1px solid #c0392b;padding:.5rem .75rem;border-radius:4px}',
  'label{display:block;margin-top:.75rem}',
  'input{width:100%;box-sizing:border-box;padding:.4rem;font-size:1rem}',
  'button{margin-top:1rem;margin-right:.5rem;padding:.4rem 1rem;font-size:1rem}',
  'small,.hint{color:#555}',
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
<title>${escapeHtml(TITLE)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(heading)}</h1>
<p class="banner" role="note"><strong>${escapeHtml(TITLE)}</strong>: ${escapeHtml(DEV_ONLY_BANNER)}</p>
${body}
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

function usersHint(): string {
  const names = Object.values(users).map((user) => {
    const groups = user.groups.length ? `groups: ${user.groups.join(', ')}` : 'no groups';
    return `<code>${escapeHtml(user.sub)}</code> (${escapeHtml(groups)})`;
  });
  return `<p class="hint">Test users: ${names.join(', ')}. Any password is accepted.</p>`;
}

export interface LoginPageInput {
  uid: string;
  clientId: string | undefined;
  username?: string;
  error?: string;
}

export function loginPage({ uid, clientId, username = '', error }: LoginPageInput): Page {
  const target = clientId ? ` to <strong>${escapeHtml(clientId)}</strong>` : '';
  const alert = error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(error)}</p>`;
  const body = `<p>Sign in${target}.</p>
${alert}
<form method="post" action="/interaction/${encodeURIComponent(uid)}" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" autofocus required>
<label for="password">Password <small>(any value is accepted)</small></label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button id="login" type="submit">Sign in</button>
<button id="cancel" type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
${usersHint()}`;
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
