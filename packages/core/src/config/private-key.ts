import { createPrivateKey, type JsonWebKey } from 'node:crypto'

/** A `private_key_jwt` key as a private JWK. */
export type PrivateJwk = JsonWebKey & { kid?: string }

/**
 * A PEM (PKCS#8, PKCS#1, SEC1; `\\n` escapes allowed) or JWK private key as a JWK, or what is
 * wrong with it (naming `variable`, never the key).
 */
export function parsePrivateKey(material: string, variable: string): PrivateJwk | string {
  const trimmed = material.trim()
  let jwk: PrivateJwk
  try {
    jwk = trimmed.startsWith('{') ? (JSON.parse(trimmed) as PrivateJwk) : createPrivateKey(trimmed.replace(/\\n/g, '\n')).export({ format: 'jwk' })
    // a JWK is checked by importing it
    if (trimmed.startsWith('{')) createPrivateKey({ key: jwk, format: 'jwk' })
  } catch {
    return `${variable} must be a private key in PEM or JWK (JSON) form`
  }
  const supported = jwk.kty === 'RSA' || (jwk.kty === 'EC' && jwk.crv === 'P-256') || (jwk.kty === 'OKP' && jwk.crv === 'Ed25519')
  return supported ? jwk : `${variable} must be an RSA, P-256 or Ed25519 private key`
}
