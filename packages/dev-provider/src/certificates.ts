import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, PEM. */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

/** What a certificate is for: its subject's common name, and the loopback names a server answers to. */
interface Request {
  /** e.g. 'codegrant-demo': the subject is `CN=<commonName>` (its RFC 4514 DN, for `tls_client_auth_subject_dn`). */
  commonName: string;
  /** A TLS server's certificate names 127.0.0.1, ::1 and localhost (subjectAltName). */
  server?: boolean;
  /** The CA that signs it; without one it is self-signed. */
  issuer?: CertificateAndKey;
}

/**
 * A P-256 certificate valid for one day, made at run time with the openssl binary (OpenSSL 3's
 * `req -x509`, with `-CA` to sign it by another): the dev provider's CA and TLS server certificate,
 * and clients' certificates for mutual TLS (RFC 8705). Keys pass through a private temporary
 * directory (openssl reads and writes files), removed before this returns.
 *
 * @throws {Error} naming openssl when it is missing or fails.
 */
export async function makeCertificate(request: Request): Promise<CertificateAndKey> {
  const dir = await mkdtemp(join(tmpdir(), 'codegrant-cert-'));
  try {
    const files = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem'), caKey: join(dir, 'ca-key.pem'), caCert: join(dir, 'ca.pem') };
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${request.commonName}`, '-keyout', files.key, '-out', files.cert];
    if (request.server) args.push('-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost');
    if (request.issuer) {
      await writeFile(files.caKey, request.issuer.key, { mode: 0o600 });
      await writeFile(files.caCert, request.issuer.cert);
      args.push('-CA', files.caCert, '-CAkey', files.caKey);
    }
    await openssl(args);
    return { cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A client's self-signed certificate as the public JWK `self_signed_tls_client_auth` registers
 * (RFC 8705 §2.2: `jwks` with the certificate in `x5c`).
 */
export function certificateJwk(cert: string): Record<string, unknown> {
  const x509 = new X509Certificate(cert);
  return { ...x509.publicKey.export({ format: 'jwk' }), x5c: [x509.raw.toString('base64')] };
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`codegrant dev provider: openssl could not make a certificate for mutual TLS (${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the openssl binary is not installed' : stderr.trim() || error.message})`));
      else resolve();
    });
  });
}
