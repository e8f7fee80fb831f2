import { rootCertificates } from 'node:tls'
import type { Dispatcher, RequestInit as UndiciRequestInit } from 'undici'
import type { ClientCertificate } from '../config/client-cert.js'
import type { ProviderSettings } from '../config/resolved.js'

/** A `fetch`: Node's own, or one whose connections present the client certificate. */
export type Transport = (input: string | URL, init?: RequestInit) => Promise<Response>

/** The `undici` package: loaded once, on first use (only mTLS and the BFF's proxy need it). */
export type Undici = typeof import('undici')

let undiciModule: Promise<Undici> | undefined
export function loadUndici(): Promise<Undici> {
  undiciModule ??= import('undici').catch((error: unknown) => {
    undiciModule = undefined
    throw error
  })
  return undiciModule
}

const transports = new WeakMap<ClientCertificate, Transport>()
const dispatchers = new WeakMap<ClientCertificate, Promise<Dispatcher>>()
let plainDispatcher: Promise<Dispatcher> | undefined

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
 * The undici dispatcher (a pool per origin) for `undici.request` calls of a provider's sessions:
 * the one {@link transportOf}'s `fetch` uses when a client certificate is configured (so a
 * certificate-bound token is sent over a connection that presents it), else one plain agent.
 */
export function dispatcherOf(settings: Pick<ProviderSettings, 'clientCertificate'>): Promise<Dispatcher> {
  const certificate = settings.clientCertificate
  if (!certificate) return (plainDispatcher ??= loadUndici().then((undici) => new undici.Agent()))
  let dispatcher = dispatchers.get(certificate)
  if (!dispatcher) {
    dispatcher = loadUndici().then((undici) => mtlsAgent(undici, certificate))
    dispatcher.catch(() => dispatchers.delete(certificate))
    dispatchers.set(certificate, dispatcher)
  }
  return dispatcher
}

/**
 * Node's `fetch` is undici, but Node does not export undici's `Agent`, the one way to give its
 * connections a certificate (`connect: { cert, key }`): the `undici` package gives both, loaded
 * only when a client certificate is configured.
 */
function mtlsAgent(undici: Undici, certificate: ClientCertificate): Dispatcher {
  return new undici.Agent({
    connect: {
      cert: certificate.cert,
      key: certificate.key,
      // Node's CAs replaced by nothing: the configured ones are added to them
      ...(certificate.ca ? { ca: [...rootCertificates, certificate.ca] } : {}),
    },
  })
}

function mtlsTransport(certificate: ClientCertificate): Transport {
  const settings = { clientCertificate: certificate }
  return async (input, init) => {
    const [undici, dispatcher] = await Promise.all([loadUndici(), dispatcherOf(settings)])
    return undici.fetch(input, { ...(init as UndiciRequestInit), dispatcher }) as unknown as Promise<Response>
  }
}
