import type { KitAnswer } from './inspector/index.js'

/**
 * `GET /favicon.ico`: browsers ask for it with every page they show. The examples have no icon,
 * so they answer 204 (no content), cacheable for a day, before codegrant reads any session:
 * no 404 in the browser's console and no work per page.
 */
export const favicon: KitAnswer = { status: 204, headers: { 'cache-control': 'public, max-age=86400' }, body: '' }
