import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';

import { makeCertificate, type CertificateAndKey } from './certificates.js';
import { urlHost } from './loopback.js';
import type { OidcKoaContext, OidcMiddleware, UnknownObject } from './oidc-types.js';

/** The dev provider's mutual-TLS side (RFC 8705), with the `mtls` option. */
export interface DevMtls {
  /** e.g. 'https://127.0.0.1:53124': where the `mtls_endpoint_aliases` of its discovery document are. */
  readonly origin: string;
  /**
   * The dev CA (PEM), made for this run: it signs the TLS server's certificate (an app trusts it
   * with `OAUTH_CLIENT_CERT_CA`) and the client certificates of {@link issueClientCertificate},
   * the ones `tls_client_auth` accepts.
   */
  readonly ca: string;
  /**
   * A client certificate `CN=<commonName>` signed by the dev CA, for a `tls_client_auth` client
   * registered with `tls_client_auth_subject_dn: 'CN=<commonName>'`.
   */
  issueClientCertificate(commonName: string): Promise<CertificateAndKey>;
}

/** The endpoints a client authenticates at or uses a bound token at: their aliases ask for the certificate. */
const ALIASED = ['token_endpoint', 'pushed_authorization_request_endpoint', 'revocation_endpoint', 'userinfo_endpoint', 'introspection_endpoint'];

/** The HTTPS listener of the aliases, the oidc-provider `mTLS` feature that reads its certificates, and what the provider tells of it. */
export interface MtlsSide {
  readonly server: Server;
  readonly mtls: DevMtls;
  /** oidc-provider's `features.mTLS`. */
  readonly feature: UnknownObject;
  /** Adds `mtls_endpoint_aliases` (RFC 8705 §5) to the discovery document. */
  readonly aliases: OidcMiddleware;
}

/**
 * Starts the mutual-TLS listener on `host`: HTTPS with a certificate of `given` CA or one made here,
 * asking every client for its certificate without refusing any at the handshake (oidc-provider
 * decides: `tls_client_auth` wants one the CA signed with the registered subject,
 * `self_signed_tls_client_auth` one registered in the client's `jwks`, a bound token the one it
 * is bound to). The caller serves its requests and closes it.
 */
export async function startMtlsSide(host: string, given?: CertificateAndKey): Promise<MtlsSide> {
  const ca = given ?? (await makeCertificate({ commonName: 'codegrant dev provider CA' }));
  const tls = await makeCertificate({ commonName: host, server: true, issuer: ca });
  const server = createServer({ key: tls.key, cert: tls.cert, ca: [ca.cert], requestCert: true, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const origin = `https://${urlHost(host)}:${(server.address() as AddressInfo).port}`;
  return {
    server,
    mtls: { origin, ca: ca.cert, issueClientCertificate: (commonName) => makeCertificate({ commonName, issuer: ca }) },
    feature: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: (ctx: OidcKoaContext) => peerCertificate(ctx)?.toString(),
      // signed by the dev CA: the handshake checked it against the listener's `ca`
      certificateAuthorized: (ctx: OidcKoaContext) => ctx.socket instanceof TLSSocket && ctx.socket.authorized,
      certificateSubjectMatches: (ctx: OidcKoaContext, property: string, expected: string) =>
        property === 'tls_client_auth_subject_dn' && subjectDn(peerCertificate(ctx)) === expected,
    },
    aliases: async (ctx, next) => {
      await next();
      if (ctx.path !== '/.well-known/openid-configuration' || typeof ctx.body !== 'object' || ctx.body === null) return;
      const body = ctx.body as Record<string, unknown>;
      const aliases: Record<string, string> = {};
      for (const name of ALIASED) {
        const url = typeof body[name] === 'string' ? URL.parse(body[name]) : null;
        if (url) aliases[name] = `${origin}${url.pathname}`;
      }
      body.mtls_endpoint_aliases = aliases;
      body.tls_client_certificate_bound_access_tokens = true;
    },
  };
}

/** The certificate the client presented on this request's connection, if any. */
function peerCertificate(ctx: OidcKoaContext): X509Certificate | undefined {
  if (!(ctx.socket instanceof TLSSocket)) return undefined;
  const raw = ctx.socket.getPeerCertificate().raw;
  return raw ? new X509Certificate(raw) : undefined;
}

/** The subject as an RFC 4514 string (most specific first), e.g. `CN=codegrant-demo`. */
function subjectDn(certificate: X509Certificate | undefined): string | undefined {
  return certificate?.subject.split('\n').reverse().join(',');
}
