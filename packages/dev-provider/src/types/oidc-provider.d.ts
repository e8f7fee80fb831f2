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
  // their signatures are declared once, as GrantHelpers (oidc-types.ts), which the published types use
  type Helpers = import('../oidc-types.js').GrantHelpers;
  export const validateDpop: Helpers['validateDpop'];
  export const checkDpopReplay: Helpers['checkDpopReplay'];
  export const checkDpopRequired: Helpers['checkDpopRequired'];
  export const buildTokenResponse: Helpers['buildTokenResponse'];
}

// oidc-provider's keystore set-up (outside its semantic versioning), called on the provider
// (`this`): installs a new signing key set and the JWKS it publishes, for key rotation on demand.
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  export default function initializeKeystore(this: unknown, jwks: { keys: Record<string, unknown>[] }): void;
}
