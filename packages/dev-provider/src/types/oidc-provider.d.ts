// oidc-provider has no type declarations of its own; this ambient module gives
// its default export the shape described in ../oidc-types.ts. It is used at
// compile time only: the published .d.ts files refer to OidcProvider directly.
declare module 'oidc-provider' {
  const Provider: new (
    issuer: string,
    configuration: import('../oidc-types.js').OidcConfiguration,
  ) => import('../oidc-types.js').OidcProvider;
  export const errors: Record<string, new (description?: string, detail?: string) => Error>;
  export const interactionPolicy: import('../oidc-types.js').OidcInteractionPolicyModule;
  export default Provider;
}

// oidc-provider's "grant implementation helpers for custom grant types" (not covered by its
// semantic versioning): the same DPoP checks and token response its own grants use.
declare module 'oidc-provider/lib/helpers/grants.js' {
  type Provider = import('../oidc-types.js').OidcProvider;
  type Context = import('../oidc-types.js').OidcKoaContext;
  type Proof = import('../oidc-types.js').OidcDpopProof;
  export function validateDpop(provider: Provider, ctx: Context): Promise<Proof | undefined>;
  export function checkDpopReplay(provider: Provider, ctx: Context, proof: Proof, clientId: string): Promise<void>;
  export function checkDpopRequired(provider: Provider, ctx: Context, proof: Proof | undefined): void;
  export function buildTokenResponse(
    provider: Provider,
    response: { accessToken: string; expiresIn: number; issuedTokenType?: string; scope?: string; tokenType: string },
  ): Record<string, unknown>;
}
