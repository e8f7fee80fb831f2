/**
 * Mutual TLS for the tests (RFC 8705): a real resource server that takes only certificate-bound
 * tokens with their certificate, and a plain HTTPS request that presents one or not.
 *
 *   const api = await startMtlsApi({ provider: dev, ca })   // https://127.0.0.1:<port>, registered with the provider
 *   api.received                                             // every token it was sent, and its answer
 *   await httpsRequest(api.url, { ca: ca.cert, token, cert }) // the API's answer, with or without a certificate
 */
import { X509Certificate } from 'node:crypto'
import { createServer, request } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { createRemoteJWKSet, jwtVerify } from 'jose'

import { makeCertificate, type CertificateAndKey, type DevProvider } from '@codegrant/dev-provider'

export interface MtlsApi {
  /** e.g. 'https://127.0.0.1:41234': its resource indicator and the `aud` it requires. */
  readonly url: string
  readonly received: readonly { token: string; status: number; error?: string }[]
  close(): Promise<void>
}

/**
 * A resource server on loopback HTTPS (its certificate signed by `ca`) that asks every client for
 * its certificate and accepts a token only when it is the provider's JWT access token for this
 * API (RFC 9068: signature by the provider's JWKS, `typ` `at+jwt`, `iss`, `aud`, `exp`) and is
 * bound to the certificate presented on this very connection: `cnf.x5t#S256` equal to the
 * certificate's SHA-256 thumbprint (RFC 8705 §3.1). Anything else: 401 `invalid_token`.
 */
export async function startMtlsApi(options: { provider: Pick<DevProvider, 'issuer' | 'addResource'>; ca: CertificateAndKey; scope: string }): Promise<MtlsApi> {
  const tls = await makeCertificate({ commonName: '127.0.0.1', server: true, issuer: options.ca })
  const jwks = createRemoteJWKSet(new URL(`${options.provider.issuer}/jwks`))
  const received: { token: string; status: number; error?: string }[] = []
  let url = ''
  const server = createServer({ key: tls.key, cert: tls.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''
    const answer = (status: number, body: Record<string, unknown>, error?: string) => {
      received.push({ token, status, ...(error ? { error } : {}) })
      res.writeHead(status, { 'content-type': 'application/json', ...(error ? { 'www-authenticate': `Bearer error="invalid_token", error_description="${error}"` } : {}) })
      res.end(JSON.stringify(body))
    }
    jwtVerify(token, jwks, { issuer: options.provider.issuer, audience: url, typ: 'at+jwt' }).then(
      ({ payload }) => {
        const raw = (req.socket as TLSSocket).getPeerCertificate().raw
        const presented = raw ? thumbprint(new X509Certificate(raw)) : undefined
        const bound = (payload.cnf as Record<string, unknown> | undefined)?.['x5t#S256']
        if (bound === undefined) return answer(401, { error: 'invalid_token' }, 'the token is not certificate-bound')
        if (presented === undefined) return answer(401, { error: 'invalid_token' }, 'no client certificate presented')
        if (presented !== bound) return answer(401, { error: 'invalid_token' }, 'the token is bound to another certificate')
        return answer(200, { sub: payload.sub, bound })
      },
      (error: unknown) => answer(401, { error: 'invalid_token' }, `the token did not verify (${(error as Error).name})`),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  options.provider.addResource(url, { scope: options.scope })
  return {
    url,
    received,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/** RFC 8705 §3.1: base64url of the SHA-256 of the certificate's DER. */
export function thumbprint(certificate: X509Certificate): string {
  return Buffer.from(certificate.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url')
}

/**
 * One HTTPS request trusting `ca`, with `token` as a Bearer token and `cert` as the client
 * certificate when given (none: the handshake presents none). Method POST with `form`.
 */
export function httpsRequest(url: string, options: { ca: string; token?: string; cert?: CertificateAndKey; form?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = options.form ? new URLSearchParams(options.form).toString() : undefined
    const sent = request(url, {
      method: body ? 'POST' : 'GET',
      ca: options.ca,
      agent: false,
      ...(options.cert ? { cert: options.cert.cert, key: options.cert.key } : {}),
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      timeout: 5000,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    sent.on('timeout', () => sent.destroy(new Error(`no answer from ${url} in 5 s`)))
    sent.on('error', reject)
    sent.end(body)
  })
}
