import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isMtlsMethod } from './enums.js'
import type { Checks } from './checks.js'

/**
 * The client certificate of mutual TLS (RFC 8705), checked at start-up: PEM texts the TLS
 * connections present, and the certificate's SHA-256 thumbprint (`x5t#S256`, what a bound
 * token's `cnf` names).
 */
export interface ClientCertificate {
  /** The certificate, and any chain after it (PEM). */
  readonly cert: string
  /** Its private key (PEM). */
  readonly key: string
  /** CAs trusted for the servers on these connections, besides Node's (PEM); undefined: Node's own. */
  readonly ca: string | undefined
  /** base64url SHA-256 of the certificate's DER (RFC 8705 §3.1). */
  readonly thumbprint: string
}

interface CertificateInput {
  clientAuthMethod: string
  /** As given: the option types say string, a JavaScript caller may pass anything. */
  clientCert?: unknown
  clientCertKey?: unknown
  clientCertCa?: unknown
}

/**
 * The configured client certificate, or undefined without one; each problem pushed to `check`
 * naming its variable, never the material: both parts or neither, PEM or a readable file, a key
 * that is the certificate's (`X509Certificate.checkPrivateKey`), not expired, and one at all
 * when the client authenticates with it.
 */
export function clientCertificate(input: CertificateInput, check: Checks): ClientCertificate | undefined {
  const { clientAuthMethod, clientCert, clientCertKey, clientCertCa } = input
  if (clientCert === undefined || clientCertKey === undefined) {
    if (isMtlsMethod(clientAuthMethod)) {
      check.problems.push(`${check.variable('clientCert')} and ${check.variable('clientCertKey')} are required for ${clientAuthMethod} (RFC 8705)`)
    } else if (clientCert !== undefined || clientCertKey !== undefined) {
      const [given, missing] = clientCert === undefined ? ['clientCertKey', 'clientCert'] as const : ['clientCert', 'clientCertKey'] as const
      check.problems.push(`${check.variable(given)} needs ${check.variable(missing)}: the certificate and its private key go together`)
    }
    return undefined
  }
  const cert = pemOf(clientCert, 'clientCert', check)
  const key = pemOf(clientCertKey, 'clientCertKey', check)
  const ca = clientCertCa === undefined ? undefined : pemOf(clientCertCa, 'clientCertCa', check)
  if (ca !== undefined) certificateOf(ca, 'clientCertCa', check)
  const certificate = cert === undefined ? undefined : certificateOf(cert, 'clientCert', check)
  const privateKey = key === undefined ? undefined : privateKeyOf(key, check)
  if (!certificate || !privateKey || key === undefined || cert === undefined) return undefined
  if (!certificate.checkPrivateKey(privateKey)) {
    check.problems.push(`${check.variable('clientCertKey')} is not the private key of the certificate in ${check.variable('clientCert')}`)
    return undefined
  }
  if (Date.parse(certificate.validTo) < Date.now()) {
    check.problems.push(`${check.variable('clientCert')} has expired (${certificate.validTo}): the provider would refuse it`)
  }
  return Object.freeze({ cert, key, ca, thumbprint: thumbprintOf(certificate) })
}

/** RFC 8705 §3.1: base64url of the SHA-256 of the DER certificate. */
function thumbprintOf(certificate: X509Certificate): string {
  return Buffer.from(certificate.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url')
}

/** PEM text as given (`\n` escapes allowed), or read from the file a path names; undefined after a problem. */
function pemOf(value: unknown, option: 'clientCert' | 'clientCertKey' | 'clientCertCa', check: Checks): string | undefined {
  if (typeof value !== 'string') {
    check.problems.push(`${check.variable(option)} must be a string: PEM text or the path of a PEM file (got ${typeof value})`)
    return undefined
  }
  const text = value.trim().replace(/\\n/g, '\n')
  if (text.startsWith('-----BEGIN ')) return text
  // not PEM: a path (the value is never echoed: a garbled key must not land in a log)
  if (text.includes('\n') || text.length > 4096) {
    check.problems.push(`${check.variable(option)} must be PEM text or the path of a PEM file`)
    return undefined
  }
  try {
    return readFileSync(text, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    check.problems.push(`${check.variable(option)} must be PEM text or the path of a readable PEM file (reading the path failed: ${code})`)
    return undefined
  }
}

function certificateOf(pem: string, option: 'clientCert' | 'clientCertCa', check: Checks): X509Certificate | undefined {
  try {
    return new X509Certificate(pem)
  } catch {
    check.problems.push(`${check.variable(option)} must be an X.509 certificate in PEM form (-----BEGIN CERTIFICATE-----)`)
    return undefined
  }
}

function privateKeyOf(pem: string, check: Checks) {
  try {
    return createPrivateKey(pem)
  } catch {
    check.problems.push(`${check.variable('clientCertKey')} must be a private key in PEM form (unencrypted)`)
    return undefined
  }
}
