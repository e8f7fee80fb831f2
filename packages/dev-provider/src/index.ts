export { users, type AddedUser, type DevUser } from './users.js';
export type { DevClient } from './configuration.js';
export { RECORDED_EVENTS, type DevProviderEvent } from './events.js';
export { startDevProvider, type DevProvider, type DevProviderOptions, type Interceptor } from './provider.js';
export { startDemoIfUnconfigured, startDemoProvidersIfUnconfigured, isProviderConfigured, providerNames, type DemoSetup, type DemoProvidersSetup } from './demo.js';
export { isLoopbackHost } from './loopback.js';
export type { OidcProvider, OidcClient, OidcInteraction, OidcKoaContext, OidcContext } from './oidc-types.js';
export type { DevResource } from './resources.js';
export { TOKEN_EXCHANGE, ACCESS_TOKEN_TYPE, SUBJECT_CLIENTS_METADATA } from './token-exchange.js';
