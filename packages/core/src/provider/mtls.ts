import { rootCertificates } from 'node:tls'
import type { RequestInit as UndiciRequestInit } from 'undici'
import type { ClientCertificate } from '../config/client-cert.js'
import type { ProviderSettings } from '../config/resolved.js'

/** A `fetch`: Node's own, or one whose connections present the client certificate. */
export type Transport = (input: string | URL, init?: RequestInit) => Promise<Response>

const transports = new WeakMap<ClientCertificate, Transport>()

/**
 * How a provider's calls and its sessions' resource calls travel: over TLS connections that
 * present the configured client certificate when the server asks for one (RFC 8705 §2 client
 * authentication, §3 certificate-bound tokens), else with Node's `fetch`. One connection pool
 * per certificate, made on first use.
 */
export function transportOf(settings: Pick<ProviderSettings, 'clientCertificate'>): Transport {
  const certificate = settings.clientCertificate
  if (!certificate) return fetch
  let transport = transports.get(certificate)
  if (!transport) transports.set(certificate, (transport = mtlsTransport(certificate)))
  return transport
}

/**
 * Node's `fetch` is undici, but Node does not export undici's `Agent`, the one way to give its
 * connections a certificate (`connect: { cert, key }`): the `undici` package gives both, loaded
 * only when a client certificate is configured.
 */
function mtlsTransport(certificate: ClientCertificate): Transport {
  let loaded: Promise<Transport> | undefined
  const load = async (): Promise<Transport> => {
    const undici = await import('undici')
    const agent = new undici.Agent({
      connect: {
        cert: certificate.cert,
        key: certificate.key,
        // Node's CAs replaced by nothing: the configured ones are added to them
        ...(certificate.ca ? { ca: [...rootCertificates, certificate.ca] } : {}),
      },
    })
    return (input, init) => undici.fetch(input, { ...(init as UndiciRequestInit), dispatcher: agent }) as unknown as Promise<Response>
  }
  return async (input, init) => {
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined
      throw error
    })
    return (await loaded)(input, init)
  }
}
