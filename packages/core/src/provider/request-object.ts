/**
 * Signed request objects (JAR, RFC 9101): the authorization request's parameters as one JWT
 * signed with the client's private key (the `private_key_jwt` key, OAUTH_PRIVATE_KEY), which the
 * provider checks against the keys the client registered. Nobody on the way (the browser, a
 * proxy, whoever reads the pushed request) can change or add a parameter unnoticed.
 */
import * as oauth from 'oauth4webapi'
import type { ProviderSettings } from '../config/resolved.js'
import { importPrivateKey } from './client-auth.js'

/** The parameters to send instead of `params`: `client_id` and the signed `request` (RFC 9101 §5). */
export type SignRequest = (as: oauth.AuthorizationServer, client: oauth.Client, params: URLSearchParams) => Promise<URLSearchParams>

/**
 * Imports the key once; undefined without `OAUTH_REQUEST_OBJECT`. oauth4webapi's request object
 * carries every parameter, `iss` the client id, `aud` the issuer, `iat`, `nbf`, a `jti` and an
 * `exp` one minute ahead (FAPI 2.0 Message Signing allows at most ten); its algorithm follows the
 * key: ES256, EdDSA, and for RSA PS256 under FAPI 2.0 (which refuses RS256), else RS256.
 */
export async function createRequestSigner(settings: ProviderSettings, fapi2: boolean): Promise<SignRequest | undefined> {
  if (!settings.requestObject || !settings.privateKey) return undefined
  const key = await importPrivateKey(settings.privateKey, fapi2)
  const options: oauth.ModifyAssertionOptions = {
    [oauth.modifyAssertion]: (header) => {
      // FAPI 2.0 §5.4.1 names the Ed25519 algorithm `EdDSA` (oauth4webapi: `Ed25519`, RFC 9864)
      if (fapi2 && header.alg === 'Ed25519') header.alg = 'EdDSA'
    },
  }
  return async (as, client, params) => {
    const request = await oauth.issueRequestObject(as, client, params, key, options)
    return new URLSearchParams({ client_id: client.client_id, request })
  }
}
