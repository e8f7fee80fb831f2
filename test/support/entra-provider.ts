/**
 * A loopback OpenID provider that issues Microsoft Entra ID-style multi-tenant issuers, shaped
 * as Microsoft documents them:
 *
 * - discovery for each tenant path: `/{common,organizations}/v2.0/.well-known/openid-configuration`
 *   names the issuer `<url>/{tenantid}/v2.0` literally; `/consumers/…` names the consumer
 *   tenant's issuer; `/<tenant id>/…` names that tenant's;
 * - ID tokens signed with its JWKS (RS256, `kid`), carrying `tid`, and `iss` = the template with
 *   the user's tenant in it; the published key names its `issuer` (the template, by default);
 * - no `iss` authorization response parameter, refresh tokens, an end-session endpoint.
 *
 * Each test sets the user's tenant and may make `iss`, `tid` or the key's issuer disagree.
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { closeServer, readBody } from './hostile-provider.js'

export const CONSUMERS = '9188040d-6c67-4c5b-b112-36a304b66dad'
export const TENANT_A = '11111111-2222-4333-8444-555555555555'
export const TENANT_B = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'

export interface EntraSettings {
  /** The user's home tenant (`tid`); `iss` follows it unless given. */
  tid?: string | undefined
  /** Replaces `iss` (`null`: the template with `tid`). */
  iss?: string | null
  /** The published key's `issuer` member (`undefined` leaves it out; default: the template). */
  keyIssuer?: string | undefined
}

export interface EntraProvider {
  readonly url: string
  readonly clientId: string
  readonly clientSecret: string
  /** `<url>/{tenantid}/v2.0` */
  readonly template: string
  issuerOf(tenant: string): string
  set(settings: EntraSettings): void
  reset(): void
  count(what: 'token' | 'discovery' | 'jwks'): number
  close(): Promise<void>
}

export async function startEntraProvider(options: { redirectUri: string }): Promise<EntraProvider> {
  const clientId = '00000000-0000-4000-8000-00000000c0de'
  const clientSecret = 'entra-loopback-secret'
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'entra-1', use: 'sig' }
  let settings: EntraSettings = {}
  const counts = { token: 0, discovery: 0, jwks: 0 }
  const codes = new Map<string, { nonce: string | undefined }>()
  const refreshTokens = new Set<string>()

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base)
      const json = (status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname)
      if (discovery) {
        counts.discovery++
        const tenant = discovery[1]!
        const issuer = tenant === 'common' || tenant === 'organizations' ? template : issuerOf(tenant === 'consumers' ? CONSUMERS : tenant)
        return json(200, {
          issuer,
          authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
          token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
          jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
          end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'email'],
        })
      }
      if (/^\/[^/]+\/discovery\/v2\.0\/keys$/.test(url.pathname)) {
        counts.jwks++
        const issuer = 'keyIssuer' in settings ? settings.keyIssuer : template
        return json(200, { keys: [{ ...jwk, ...(issuer === undefined ? {} : { issuer }) }] })
      }
      if (/^\/[^/]+\/oauth2\/v2\.0\/authorize$/.test(url.pathname)) {
        const q = url.searchParams
        if (q.get('client_id') !== clientId || q.get('redirect_uri') !== options.redirectUri) return void res.writeHead(400).end('AADSTS50011: redirect URI mismatch')
        const code = `entra-code-${randomBytes(8).toString('hex')}`
        codes.set(code, { nonce: q.get('nonce') ?? undefined })
        const back = new URL(options.redirectUri)
        back.searchParams.set('code', code)
        back.searchParams.set('state', q.get('state') ?? '')
        return void res.writeHead(302, { location: back.href }).end()
      }
      if (req.method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(url.pathname)) {
        counts.token++
        const form = new URLSearchParams(await readBody(req))
        const basic = Buffer.from(/^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '', 'base64').toString().split(':').map((part) => decodeURIComponent(part))
        if (basic[0] !== clientId || basic[1] !== clientSecret) return json(401, { error: 'invalid_client' })
        let nonce: string | undefined
        if (form.get('grant_type') === 'authorization_code') {
          const grant = codes.get(form.get('code') ?? '')
          if (!grant) return json(400, { error: 'invalid_grant' })
          codes.delete(form.get('code')!)
          nonce = grant.nonce
        } else if (!refreshTokens.delete(form.get('refresh_token') ?? '')) return json(400, { error: 'invalid_grant' })
        const tid = 'tid' in settings ? settings.tid : TENANT_A
        const iss = settings.iss ?? issuerOf(tid ?? 'missing')
        const claims = { ver: '2.0', tid, oid: 'oid-of-ada', name: 'Ada Lovelace', preferred_username: 'ada@contoso.example', ...(nonce ? { nonce } : {}) }
        const idToken = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
          .setIssuer(iss)
          .setSubject('pairwise-sub-of-ada')
          .setAudience(clientId)
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey)
        const refreshToken = `entra-rt-${randomBytes(8).toString('hex')}`
        refreshTokens.add(refreshToken)
        return json(200, { token_type: 'Bearer', scope: 'openid profile email offline_access', expires_in: 3600, access_token: `entra-at-${randomBytes(8).toString('hex')}`, refresh_token: refreshToken, id_token: idToken })
      }
      res.writeHead(404).end()
    })().catch((error: unknown) => void res.writeHead(500).end(String(error)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const template = `${base}/{tenantid}/v2.0`
  const issuerOf = (tenant: string) => template.replace('{tenantid}', tenant)
  return {
    url: base,
    clientId,
    clientSecret,
    template,
    issuerOf,
    set: (next) => void (settings = { ...settings, ...next }),
    reset: () => void (settings = {}),
    count: (what) => counts[what],
    close: () => closeServer(server),
  }
}

