/**
 * An MCP server built with the official SDK (@modelcontextprotocol/sdk), as its documentation
 * shows: the streamable HTTP transport (stateless) at `/mcp`, behind the SDK's own bearer-auth
 * middleware (`requireBearerAuth`) and protected-resource-metadata router
 * (`mcpAuthMetadataRouter`, RFC 9728), on loopback. Only the token verifier is ours: the dev
 * provider's JWT access tokens, checked as the test APIs check them (support/apis.ts). One tool,
 * `whoami`, answers with the token's subject and scopes. An implementation nobody here wrote:
 * codegrant must get along with it as it is.
 *
 * The SDK's middleware takes `Bearer` tokens only: a DPoP-bound token is refused there.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

import type { DevProvider } from '@codegrant/dev-provider'
import { mcpAuthMetadataRouter, getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js'
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
import type { OAuthMetadata } from '@modelcontextprotocol/sdk/shared/auth.js'
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'

import { tokenVerifier } from './apis.js'

export const MCP_SCOPE = 'mcp:tools'

export interface TestMcpServer {
  /** The MCP endpoint, e.g. 'http://127.0.0.1:41234/mcp': also its resource indicator. */
  readonly url: string
  readonly resource: string
  /** Where the SDK serves its protected resource metadata (RFC 9728, path-specific). */
  readonly metadataUrl: string
  /** Every token the bearer middleware was given, accepted or not. */
  readonly received: readonly string[]
  close(): Promise<void>
}

/** Starts it on a free loopback port and registers it with the provider as a resource with scope `mcp:tools`. */
export async function startMcpServer(provider: Pick<DevProvider, 'issuer' | 'addResource'>): Promise<TestMcpServer> {
  const app = createMcpExpressApp({ host: '127.0.0.1' })
  const server = await new Promise<Server>((resolve) => {
    const listening: Server = app.listen(0, '127.0.0.1', () => resolve(listening))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
  const resource = url
  const metadataUrl = getOAuthProtectedResourceMetadataUrl(new URL(url))
  const received: string[] = []
  const verify = tokenVerifier(provider.issuer, resource)
  const oauthMetadata = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as OAuthMetadata

  app.use(mcpAuthMetadataRouter({ oauthMetadata, resourceServerUrl: new URL(url), scopesSupported: [MCP_SCOPE], resourceName: 'codegrant test MCP server' }))
  const bearer = requireBearerAuth({
    verifier: {
      verifyAccessToken: async (token) => {
        received.push(token)
        const claims = await verify(token).catch(() => {
          throw new InvalidTokenError('the access token is not valid for this MCP server')
        })
        return {
          token,
          clientId: String(claims.client_id),
          scopes: String(claims.scope ?? '').split(' ').filter(Boolean),
          ...(claims.exp === undefined ? {} : { expiresAt: claims.exp }),
          resource: new URL(String(claims.aud)),
          extra: { sub: claims.sub },
        }
      },
    },
    requiredScopes: [MCP_SCOPE],
    resourceMetadataUrl: metadataUrl,
    expectedResource: new URL(resource),
  })
  app.post('/mcp', bearer, async (req, res) => {
    // stateless: a server and a transport per request, as the SDK's stateless example does
    const mcp = new McpServer({ name: 'codegrant-test-mcp', version: '1.0.0' })
    mcp.registerTool('whoami', { description: "The token's subject and scopes" }, (extra) => ({
      content: [{ type: 'text', text: JSON.stringify({ sub: extra.authInfo?.extra?.sub, scopes: extra.authInfo?.scopes }) }],
    }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    res.on('close', () => {
      void transport.close()
      void mcp.close()
    })
    await mcp.connect(transport)
    await transport.handleRequest(req, res, req.body)
  })

  provider.addResource(resource, { scope: MCP_SCOPE })
  return {
    url,
    resource,
    metadataUrl,
    received,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
