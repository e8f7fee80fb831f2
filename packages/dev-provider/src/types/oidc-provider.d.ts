// oidc-provider has no type declarations of its own; this ambient module gives
// its default export the shape described in ../oidc-types.ts. It is used at
// compile time only: the published .d.ts files refer to OidcProvider directly.
declare module 'oidc-provider' {
  const Provider: new (
    issuer: string,
    configuration: import('../oidc-types.js').OidcConfiguration,
  ) => import('../oidc-types.js').OidcProvider;
  export const errors: Record<string, new (description?: string) => Error>;
  export const interactionPolicy: import('../oidc-types.js').OidcInteractionPolicyModule;
  export default Provider;
}
