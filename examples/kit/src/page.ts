import type { OAuthRequestState } from '@codegrant/core'

/** `/`: a login link, or the user's name, a logout link and the app's other routes. */
export function homePage(framework: string, user: OAuthRequestState['user']): string {
  const title = `codegrant ${framework} example`
  const body = user
    ? `<p>Signed in as <strong>${escapeHtml(String(user.name ?? user.sub))}</strong> · <a href="/auth/logout">Log out</a></p>` +
      '<ul><li><a href="/me">/me</a></li><li><a href="/api/userinfo">/api/userinfo</a></li><li><a href="/admin">/admin</a></li></ul>'
    : '<p><a href="/auth/login">Log in</a></p>'
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
