/**
 * The app-local path to land on after login, or `/` for anything that is not plainly a
 * same-origin relative path: absolute and protocol-relative URLs, backslash tricks, control
 * characters (which the URL parser strips), and over-long values. The decision is taken on the
 * path as the URL parser normalises it (dot-segments and their encodings removed: `/.//evil`
 * becomes `//evil`), not on the input. RFC 9700 §4.11.1.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return '/'
  if (!isLocalPath(value)) return '/'
  const origin = 'http://return-to.invalid'
  let url: URL
  try {
    url = new URL(value, origin)
  } catch {
    return '/'
  }
  const path = `${url.pathname}${url.search}${url.hash}`
  return url.origin === origin && isLocalPath(path) ? path : '/'
}

/**
 * True for a path-absolute reference that every browser resolves on the current origin: one
 * leading `/` not followed by `/` or `\` (which make it protocol-relative), and none of the
 * characters a browser strips or reads as a slash (control characters, space, `\`).
 */
export function isLocalPath(path: string): boolean {
  return /^\/(?![/\\])[^\u0000-\u0020\u007f\\]*$/.test(path)
}
