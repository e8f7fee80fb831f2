/**
 * The app-local path to land on after login, or `/` for anything that is not plainly a
 * same-origin relative path: absolute and protocol-relative URLs, backslash tricks, control
 * characters (which the URL parser strips), and over-long values. RFC 9700 §4.11.1.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return '/'
  if (!value.startsWith('/') || value.startsWith('//')) return '/'
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return '/'
  const origin = 'http://return-to.invalid'
  let url: URL
  try {
    url = new URL(value, origin)
  } catch {
    return '/'
  }
  if (url.origin !== origin) return '/'
  return `${url.pathname}${url.search}${url.hash}`
}
