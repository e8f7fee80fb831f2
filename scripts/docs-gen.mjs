#!/usr/bin/env node
// `pnpm docs:gen`: writes the generated sections of the package READMEs — every option (from the
// `SETTINGS` table and the `OAuthOptions` type) and every error code (from the
// `CodegrantErrorCode` type, with its HTTP status) — from the BUILT @codegrant/core (run
// `pnpm build` first), so the READMEs cannot drift from the code. `--check` writes nothing and
// exits 1 when a README is out of date; test/docs.test.ts runs the same check.
//
// A section sits between `<!-- docs:gen <name> -->` and `<!-- /docs:gen <name> -->`.
// A new error code needs its "when it happens" below (ERROR_WHEN); a new option needs a row in
// SETTINGS (with a variable) or a doc comment on its `OAuthOptions` field (without one).
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const REPOSITORY = 'https://github.com/codegrant/codegrant'

/** The READMEs that carry the generated sections. */
export const TARGETS = ['packages/core/README.md', 'packages/express/README.md', 'packages/koa/README.md', 'packages/fastify/README.md']

/** When each error happens, for people: the code's status comes from the code itself. */
export const ERROR_WHEN = {
  'codegrant/config_invalid': 'at start-up (`oauth()`, `createCodegrant()`, `codegrant doctor`): the configuration is invalid; the message lists every problem',
  'codegrant/transaction_missing': 'the callback came without its sign-in cookie: the browser is on another host than `OAUTH_BASE_URL`, cookies are blocked, or the sign-in took more than 10 minutes',
  'codegrant/transaction_invalid': 'the sign-in cookie cannot be opened: `OAUTH_COOKIE_SECRET` changed since the sign-in started, or differs between instances',
  'codegrant/state_mismatch': "the response's `state` is not the sign-in's: an old or replayed response, or two sign-ins in one tab",
  'codegrant/authorization_error': "the provider answered the sign-in with an error (`access_denied`, `login_required`, …; its `error` is in the message)",
  'codegrant/invalid_callback': 'the callback is malformed or not from the provider: no or several `state`, no code, a wrong `iss`, or a response already being completed elsewhere',
  'codegrant/invalid_grant': 'the provider refused the authorization code: expired, used twice (a reload of the callback), or the redirect URI differs from the registered one',
  'codegrant/id_token_invalid': 'the ID token failed a check: signature, algorithm, `aud`, `nonce`, times (`OAUTH_CLOCK_TOLERANCE`), tenant, or `auth_time` for a step-up',
  'codegrant/userinfo_invalid': "the userinfo endpoint (or a preset's user API) answered an error, no JSON object, no `sub`, or another user's `sub`",
  'codegrant/provider_error': 'the provider failed or refused a call: unreachable, `invalid_client` (the message names the client settings), an unexpected or too large answer, a Bearer token where DPoP was required',
  'codegrant/provider_timeout': 'the provider did not answer within `OAUTH_HTTP_TIMEOUT`',
  'codegrant/provider_unavailable': "the provider's metadata or signing keys could not be loaded, or an endpoint it needs is missing or not https",
  'codegrant/session_ended': 'the provider refused the refresh token or returned another user, or the session was ended elsewhere: the session is cleared, sign in again',
  'codegrant/token_expired': 'the access token expired and the provider gave no refresh token (the session is kept)',
  'codegrant/unauthenticated': '`accessToken()`, `fetch()`, `refresh()` or `userinfo()` while signed out; the guard answers API clients `{"error":"unauthenticated"}`',
  'codegrant/forbidden': '`requireAuth()` refused a signed-in user: a required scope or claim is missing (`{"error":"forbidden"}`)',
  'codegrant/step_up_failed': "a step-up (`requireAuth({ maxAge, acr })`) could not be met: another user signed in, or the provider gave no fresh `auth_time` or not the `acr`",
  'codegrant/cross_site_request': 'a POST to the logout route from another site',
  'codegrant/body_too_large': "a form POST to codegrant's routes over 64 KiB",
  'codegrant/base_url_mismatch': 'the login route was opened on another origin than `OAUTH_BASE_URL` (e.g. `127.0.0.1` for `localhost`); the answer links to the configured address',
  'codegrant/issuer_mismatch': "the provider's discovery document names another issuer than `OAUTH_ISSUER` (the log says what to set)",
  'codegrant/store_unavailable': "the session store (Redis) failed or timed out, or its circuit breaker is open: `Retry-After`, the session cookie is kept",
  'codegrant/origin_not_allowed': "`oauth.fetch` was asked to send the access token to an origin that is neither the provider's nor in `OAUTH_API_ORIGINS` (the app's own mistake)",
  'codegrant/session_too_large': 'a cookie session would pass 13 KB sealed: request fewer scopes or claims, or use a server-side store',
  'codegrant/login_denied': 'the `onLogin` hook returned `false`',
  'codegrant/login_hook_failed': 'the `onLogin` hook threw (anything but a `CodegrantError`) or returned a user without a string `sub`',
  'codegrant/provider_mismatch': "with several providers: a response came to another provider's callback than the one its login went to",
  'codegrant/logout_token_invalid': 'a back-channel logout token failed a check (the provider is answered 400 `invalid_request`)',
}

/** The built @codegrant/core entry (JavaScript and declarations), as an ESM consumer resolves it. */
function coreEntry(root) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8'))
  const entry = manifest.exports?.['.']?.import ?? {}
  return { js: join(root, 'packages/core', entry.default ?? manifest.main), types: join(root, 'packages/core', entry.types ?? manifest.types) }
}

/** An exported type of the built core's declarations, followed through re-exports. */
function exportedType(checker, module, name) {
  const exported = checker.getExportsOfModule(module).find((symbol) => symbol.getName() === name)
  if (!exported) throw new Error(`@codegrant/core exports no ${name}`)
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
  return checker.getDeclaredTypeOfSymbol(symbol)
}

/** A doc comment as one line of Markdown: `{@link X}` becomes `X`. */
function oneLine(parts) {
  return ts.displayPartsToString(parts).replace(/\{@link\s+([^}\s|]+)[^}]*\}/g, '`$1`').replace(/\s+/g, ' ').trim()
}

/**
 * What the code says, read from the built package: `SETTINGS`, every `OAuthOptions` field with
 * its doc comment, and every `CodegrantErrorCode` with its status.
 */
export async function readCode(root = ROOT) {
  const entry = coreEntry(root)
  const core = await import(pathToFileURL(entry.js).href)
  const program = ts.createProgram([entry.types], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true, types: [] })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(entry.types)
  const module = source && checker.getSymbolAtLocation(source)
  if (!module) throw new Error(`docs-gen: cannot read ${entry.types} (run pnpm build first)`)
  const options = exportedType(checker, module, 'OAuthOptions').getProperties().map((property) => ({ name: property.getName(), doc: oneLine(property.getDocumentationComment(checker)) }))
  const union = exportedType(checker, module, 'CodegrantErrorCode')
  const codes = (union.isUnion() ? union.types : [union]).map((type) => type.value).filter((value) => typeof value === 'string')
  return {
    settings: core.SETTINGS,
    options,
    errors: codes.map((code) => ({ code, status: new core.CodegrantError(code, '').status })),
  }
}

/** A Markdown table cell: pipes escaped, one line. */
function cell(text) {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** The options table: every `OAuthOptions` field, its variable, default and meaning. */
export function optionsSection({ settings, options }) {
  const bySetting = new Map(settings.map((setting) => [setting.option, setting]))
  const missing = options.filter((option) => !bySetting.has(option.name) && !option.doc).map((option) => option.name)
  if (missing.length) throw new Error(`OAuthOptions fields with neither a SETTINGS row nor a doc comment: ${missing.join(', ')}`)
  const rows = options.map(({ name, doc }) => {
    const setting = bySetting.get(name)
    if (!setting) return `| \`${name}\` | — (option only) | — | ${cell(doc)} |`
    const [variable, ...aliases] = setting.env
    const variables = `\`${variable}\`${aliases.length ? ` (also ${aliases.map((alias) => `\`${alias}\``).join(', ')})` : ''}`
    const values = setting.values ? `: ${setting.values.map((value) => `\`${value}\``).join(', ')}` : ''
    const perProvider = setting.scope === 'provider' ? ' ◆' : ''
    // a value (a number, a boolean, a string), or in words when other settings decide it
    const shown = setting.default === undefined ? setting.computed : String(setting.default)
    return `| \`${name}\`${perProvider} | ${variables} | ${shown === undefined ? '—' : /^\S+$/.test(shown) ? `\`${shown}\`` : cell(shown)} | ${cell(setting.doc)}${values} |`
  })
  return [
    'Every option also has an environment variable, except where the table says "option only";',
    'options override the environment. ◆ marks a provider setting: with several providers',
    '(`providers`, `OAUTH_PROVIDERS`) each has its own, `OAUTH_<NAME>_…`. Each variable is explained',
    `in full in the [main README › Configuration](${REPOSITORY}/blob/main/README.md#configuration).`,
    '',
    '| option | variable | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

/** The errors table: every code, its HTTP status and when it happens. */
export function errorsSection({ errors }) {
  const undocumented = errors.filter(({ code }) => !Object.hasOwn(ERROR_WHEN, code)).map(({ code }) => code)
  if (undocumented.length) throw new Error(`error codes without their "when it happens" in scripts/docs-gen.mjs (ERROR_WHEN): ${undocumented.join(', ')}`)
  const stale = Object.keys(ERROR_WHEN).filter((code) => !errors.some((error) => error.code === code))
  if (stale.length) throw new Error(`ERROR_WHEN in scripts/docs-gen.mjs names codes that no longer exist: ${stale.join(', ')}`)
  return [
    'Start-up: `codegrant/config_invalid`, listing every problem. At run time every failure is a',
    '`CodegrantError` with a stable `code` (assert on it, not on the message) and the HTTP status the',
    'adapter answers with (`status`, `statusCode`; a 503 carries `Retry-After`); browsers get an HTML',
    'page, API clients JSON `{ "error", "code", "message" }`, never a stack trace:',
    '',
    '| code | status | when |',
    '| --- | --- | --- |',
    ...errors.map(({ code, status }) => `| \`${code}\` | ${status} | ${cell(ERROR_WHEN[code])} |`),
  ].join('\n')
}

/** `text` with each generated section replaced; throws when a README lacks a section's markers. */
export function render(text, sections, path = 'README') {
  let out = text
  for (const [name, body] of Object.entries(sections)) {
    const pattern = new RegExp(`(<!-- docs:gen ${name} -->)[\\s\\S]*?(<!-- /docs:gen ${name} -->)`)
    if (!pattern.test(out)) throw new Error(`${path} has no <!-- docs:gen ${name} --> … <!-- /docs:gen ${name} --> section`)
    out = out.replace(pattern, (_, open, close) => `${open}\n${body}\n${close}`)
  }
  return out
}

/** Each target README as it is and as it should be (`code`: what {@link readCode} read, if at hand). */
export async function generate(root = ROOT, code) {
  code ??= await readCode(root)
  const sections = { options: optionsSection(code), errors: errorsSection(code) }
  return TARGETS.map((path) => {
    const current = readFileSync(join(root, path), 'utf8')
    return { path, current, expected: render(current, sections, path) }
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const check = process.argv.includes('--check')
  const stale = []
  for (const { path, current, expected } of await generate()) {
    if (current === expected) continue
    stale.push(path)
    if (!check) writeFileSync(join(ROOT, path), expected)
  }
  if (check && stale.length) {
    console.error(`out of date (run pnpm docs:gen): ${stale.join(', ')}`)
    process.exit(1)
  }
  console.log(stale.length ? `${check ? 'out of date' : 'updated'}: ${stale.join(', ')}` : 'generated sections up to date')
}
