#!/usr/bin/env node
import { parseArgs } from 'node:util';

import { randomSecret } from './keys.js';
import { startDevProvider } from './provider.js';

const USAGE = `Usage: codegrant-dev-provider [options]

Runs the codegrant dev provider (an OpenID Provider for development and tests only).

  --port <n>                        port to listen on (default 4000; 0 = any free port)
  --host <host>                     loopback host to bind (default 127.0.0.1)
  --client-id <id>                  client id (default codegrant-demo)
  --client-secret <secret>          client secret (default: a random one, printed)
  --redirect-uri <uri>              redirect URI, repeatable (default http://localhost:3000/auth/callback)
  --post-logout-redirect-uri <uri>  post-logout redirect URI, repeatable (default http://localhost:3000/)
  --access-token-ttl <seconds>      access token lifetime (default 3600)
  -h, --help                        show this help`;

function parseCommandLine() {
  return parseArgs({
    options: {
      port: { type: 'string', default: '4000' },
      host: { type: 'string', default: '127.0.0.1' },
      'client-id': { type: 'string', default: 'codegrant-demo' },
      'client-secret': { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true, default: ['http://localhost:3000/auth/callback'] },
      'post-logout-redirect-uri': { type: 'string', multiple: true, default: ['http://localhost:3000/'] },
      'access-token-ttl': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}

function toInteger(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

async function main(): Promise<void> {
  const args = parseCommandLine();
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const clientId = args['client-id'];
  const clientSecret = args['client-secret'] ?? randomSecret();
  const ttl = args['access-token-ttl'];
  const dev = await startDevProvider({
    port: toInteger('port', args.port),
    host: args.host,
    ...(ttl === undefined ? {} : { accessTokenTtl: toInteger('access-token-ttl', ttl) }),
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: args['redirect-uri'],
        post_logout_redirect_uris: args['post-logout-redirect-uri'],
      },
    ],
  });
  console.log(`OAUTH_ISSUER=${dev.issuer}`);
  console.log(`OAUTH_CLIENT_ID=${clientId}`);
  console.log(`OAUTH_CLIENT_SECRET=${clientSecret}`);

  const stop = () => {
    void dev.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`codegrant-dev-provider: ${error instanceof Error ? error.message : String(error)}`);
  console.error('Run with --help for usage.');
  process.exitCode = 1;
});
