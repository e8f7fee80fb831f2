/**
 * Real Redis for the tests: a single `redis-server`, a 3-master Redis Cluster (created with
 * `redis-cli --cluster create`) and a master + replica watched by Sentinel (in plain text, or
 * TLS only), each on free loopback ports, in a temporary directory, started and stopped by the
 * test that needs them. Never a mock.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const INSTALL = 'install redis-server and redis-tools: apt-get install -y redis-server redis-tools'

export function binary(name: string): string {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/usr/sbin']) if (existsSync(join(dir, name))) return join(dir, name)
  throw new Error(`${name} is missing: ${INSTALL}`)
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/**
 * A free loopback port whose cluster bus port (+10000) is free too, both below the kernel's
 * ephemeral range (32768 up) so that nothing listening on port 0 meanwhile can take them.
 */
async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 10000 + Math.floor(Math.random() * 12000)
    if (taken.has(port)) continue
    if ((await isFree(port)) && (await isFree(port + 10000))) {
      taken.add(port)
      return port
    }
  }
}

/** The server side of TLS: a self-signed certificate for 127.0.0.1 (made here, in the test's temporary directory) that clients trust as their CA. */
interface Certificate {
  cert: string
  key: string
  /** The certificate as PEM text, for a client's `ca`. */
  pem: string
}

async function makeCertificate(dir: string): Promise<Certificate> {
  const cert = join(dir, 'redis.crt')
  const key = join(dir, 'redis.key')
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { timeout: 10_000 })
  return { cert, key, pem: readFileSync(cert, 'utf8') }
}

/** redis-server's settings for TLS only: no plain-text port, TLS between replica, master and Sentinel too, clients need no certificate. */
function tlsOnly(certificate: Certificate, port: number): string[] {
  return ['port 0', `tls-port ${port}`, `tls-cert-file ${certificate.cert}`, `tls-key-file ${certificate.key}`, `tls-ca-cert-file ${certificate.cert}`, 'tls-auth-clients no', 'tls-replication yes']
}

async function cli(port: number, ...args: string[]): Promise<string> {
  return cliOver(undefined, port, ...args)
}

async function cliOver(certificate: Certificate | undefined, port: number, ...args: string[]): Promise<string> {
  const tls = certificate ? ['--tls', '--cacert', certificate.cert] : []
  const { stdout } = await run(binary('redis-cli'), [...tls, '-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })
  return stdout.trim()
}

export async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface RedisServer {
  port: number
  url: string
  /** Stops the server (data is kept on disk: append-only file, fsync always). */
  stop(): Promise<void>
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>
  /**
   * Freezes the server (SIGSTOP): connections stay open but nothing is answered, as with a hung
   * Redis or a network partition, so every call waits for the client's timeout. `thaw` resumes it.
   */
  freeze(): void
  thaw(): void
  /** Runs a redis-cli command against it. */
  cli(...args: string[]): Promise<string>
  close(): Promise<void>
}

function launch(port: number, dir: string, extra: string[] = [], certificate?: Certificate): ChildProcess {
  const listen = certificate ? tlsOnly(certificate, port).flatMap((line) => line.split(' ').map((word, index) => (index === 0 ? `--${word}` : word))) : ['--port', String(port)]
  const child = spawn(binary('redis-server'), [
    ...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
    '--protected-mode', 'no', '--loglevel', 'warning', ...extra,
  ], { stdio: 'ignore' })
  child.on('error', () => undefined)
  return child
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

/** A single redis-server on a free loopback port. */
export async function startRedis(): Promise<RedisServer> {
  binary('redis-cli')
  const port = await freePort(new Set())
  const dir = mkdtempSync(join(tmpdir(), 'codegrant-redis-'))
  let child: ChildProcess | undefined
  const start = async () => {
    child = launch(port, dir)
    await until(`redis-server on port ${port}`, async () => (await cli(port, 'ping')) === 'PONG')
  }
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cli: (...args) => cli(port, ...args),
    start,
    stop: () => terminate(child),
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    async close() {
      await terminate(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface RedisCluster {
  ports: number[]
  /** The nodes as OAUTH_REDIS_URL lists them. */
  url: string
  close(): Promise<void>
}

/** A Redis Cluster of three masters (no replicas) on free loopback ports. */
export async function startRedisCluster(): Promise<RedisCluster> {
  binary('redis-cli')
  const taken = new Set<number>()
  const ports = [await freePort(taken), await freePort(taken), await freePort(taken)]
  const dir = mkdtempSync(join(tmpdir(), 'codegrant-cluster-'))
  const children = ports.map((port) =>
    launch(port, dir, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--appendfilename', `aof-${port}.aof`, '--appenddirname', `aof-${port}`, '--appendonly', 'no']),
  )
  const close = async () => {
    await Promise.all(children.map(terminate))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) await until(`redis-server on port ${port}`, async () => (await cli(port, 'ping')) === 'PONG')
    await run(binary('redis-cli'), ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 })
    for (const port of ports) await until('the cluster to be ok', async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'), 20_000)
  } catch (error) {
    await close()
    throw error
  }
  return { ports, url: ports.map((port) => `redis://127.0.0.1:${port}`).join(','), close }
}

export interface RedisSentinel {
  /** OAUTH_REDIS_URL for it: `redis+sentinel://127.0.0.1:<sentinel port>/<master name>` (`rediss+sentinel://` with TLS). */
  url: string
  /** With TLS: the certificate every node presents, as PEM, for the client's `ca`. */
  ca: string | undefined
  /** The Sentinel's port. */
  sentinelPort: number
  master: string
  /** The data nodes: the first starts as master, the second as its replica. */
  ports: number[]
  /** The port Sentinel names as master now. */
  masterPort(): Promise<number>
  /** Asks Sentinel to fail over (the replica is promoted) and waits until it names the new master. */
  failover(): Promise<number>
  cli(port: number, ...args: string[]): Promise<string>
  close(): Promise<void>
}

/**
 * A master, one replica and one Sentinel (quorum 1) watching them, on free loopback ports. With
 * `tls`, each of the three listens on a TLS port only (no plain-text listener at all), with a
 * certificate made for the occasion.
 */
export async function startRedisSentinel(master = 'codegrant', { tls = false } = {}): Promise<RedisSentinel> {
  binary('redis-cli')
  const taken = new Set<number>()
  const [primary, replica, sentinel] = [await freePort(taken), await freePort(taken), await freePort(taken)]
  const dir = mkdtempSync(join(tmpdir(), 'codegrant-sentinel-'))
  const certificate = tls ? await makeCertificate(dir) : undefined
  const cli = (port: number, ...args: string[]) => cliOver(certificate, port, ...args)
  const children = [
    launch(primary, dir, ['--appendfilename', `aof-${primary}.aof`, '--appenddirname', `aof-${primary}`, '--appendonly', 'no'], certificate),
    launch(replica, dir, ['--appendfilename', `aof-${replica}.aof`, '--appenddirname', `aof-${replica}`, '--appendonly', 'no', '--replicaof', '127.0.0.1', String(primary)], certificate),
  ]
  const config = join(dir, 'sentinel.conf')
  writeFileSync(config, [
    ...(certificate ? tlsOnly(certificate, sentinel) : [`port ${sentinel}`]), 'bind 127.0.0.1', 'protected-mode no', `dir ${dir}`,
    `sentinel monitor ${master} 127.0.0.1 ${primary} 1`,
    `sentinel down-after-milliseconds ${master} 2000`,
    `sentinel failover-timeout ${master} 10000`, '',
  ].join('\n'))
  const watcher = spawn(binary('redis-server'), [config, '--sentinel', '--loglevel', 'warning'], { stdio: 'ignore' })
  watcher.on('error', () => undefined)
  children.push(watcher)
  const close = async () => {
    await Promise.all(children.map(terminate))
    rmSync(dir, { recursive: true, force: true })
  }
  const masterPort = async () => Number((await cli(sentinel, 'sentinel', 'get-master-addr-by-name', master)).split('\n')[1])
  try {
    for (const port of [primary, replica]) await until(`redis-server on port ${port}`, async () => (await cli(port, 'ping')) === 'PONG')
    await until('the replica to be in sync', async () => (await cli(replica, 'info', 'replication')).includes('master_link_status:up'), 20_000)
    await until('Sentinel to know the master and its replica', async () =>
      (await masterPort()) === primary && /num-slaves\n1\b/.test(await cli(sentinel, 'sentinel', 'master', master)), 20_000)
  } catch (error) {
    await close()
    throw error
  }
  return {
    url: `redis${tls ? 's' : ''}+sentinel://127.0.0.1:${sentinel}/${master}`,
    ca: certificate?.pem,
    sentinelPort: sentinel,
    master,
    ports: [primary, replica],
    masterPort,
    async failover() {
      const before = await masterPort()
      await cli(sentinel, 'sentinel', 'failover', master)
      await until('Sentinel to promote the replica', async () => {
        const now = await masterPort()
        return now !== before && (await cli(now, 'info', 'replication')).includes('role:master')
      }, 30_000)
      return masterPort()
    },
    cli,
    close,
  }
}

/** A TLS server on loopback that poses as a Sentinel, and what clients did on its connections. */
export interface TlsImpostor {
  /** `rediss+sentinel://127.0.0.1:<port>/codegrant`. */
  url: string
  /** TLS handshakes that completed on the server's side (a client that speaks only plain text completes none). */
  readonly handshakes: number
  /** Handshaken connections the client has closed again. */
  readonly closed: number
  /** Bytes received on handshaken connections: a client that accepted the certificate sends its first command. */
  readonly received: number
  /** The codes of the handshakes that failed (`ERR_SSL_…`): the alert of a client that refused the certificate, or what plain text looks like to TLS. */
  readonly failures: readonly string[]
  close(): Promise<void>
}

/**
 * A Sentinel impostor for certificate checks: it presents a certificate for 127.0.0.1 made for the
 * occasion (signed by no CA a test hands a client) and answers nothing. A client that verifies the
 * certificate closes each connection without a byte once the handshake is through (Node checks the
 * peer after OpenSSL's handshake); one that does not sends its first command.
 */
export async function startTlsImpostor(): Promise<TlsImpostor> {
  const { createServer: createTlsServer } = await import('node:tls')
  const dir = mkdtempSync(join(tmpdir(), 'codegrant-impostor-'))
  const certificate = await makeCertificate(dir)
  let [handshakes, closed, received] = [0, 0, 0]
  const failures: string[] = []
  const sockets = new Set<Socket>()
  const server = createTlsServer({ cert: certificate.pem, key: readFileSync(certificate.key) }, (socket) => {
    handshakes++
    socket.on('data', (chunk: Buffer) => void (received += chunk.length))
    socket.on('close', () => void closed++)
    socket.on('error', () => undefined)
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => void failures.push(error.code ?? error.message))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `rediss+sentinel://127.0.0.1:${port}/codegrant`,
    get handshakes() {
      return handshakes
    },
    get closed() {
      return closed
    },
    get received() {
      return received
    },
    failures,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
