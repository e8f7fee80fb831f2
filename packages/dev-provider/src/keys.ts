import { generateKeyPair, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Fresh signing keys for each start: nothing signed by one run verifies in the
 * next, and no key material is ever written to disk. RS256 comes first so it is
 * the default ID token algorithm; ES256 is there for clients that ask for it.
 */
export async function generateSigningKeys(): Promise<{ keys: Record<string, unknown>[] }> {
  const [rsa, ec] = await Promise.all([
    generateKeyPairAsync('rsa', { modulusLength: 2048 }),
    generateKeyPairAsync('ec', { namedCurve: 'P-256' }),
  ]);
  return {
    keys: [
      { ...rsa.privateKey.export({ format: 'jwk' }), kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' },
      { ...ec.privateKey.export({ format: 'jwk' }), kid: `es256-${randomUUID()}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

/** A random secret encoded for URLs, headers and cookies. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
