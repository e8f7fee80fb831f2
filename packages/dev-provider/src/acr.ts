import type { OidcInteractionPolicyModule, OidcKoaContext } from './oidc-types.js';

/**
 * Authentication context classes the dev provider claims (`acr_values_supported`): a login is
 * `pwd` unless the request's `acr_values` asks for `mfa` or `phr`, which the login page then
 * pretends to have done. Any other value cannot be satisfied (the session's own `acr` is kept),
 * which is how an app sees a provider that cannot meet a step-up requirement.
 */
export const DEV_ACR_VALUES = ['pwd', 'mfa', 'phr'];
const DEFAULT_ACR = 'pwd';

function supportedRequested(acrValues: unknown): string[] {
  return typeof acrValues === 'string' ? acrValues.split(' ').filter((value) => DEV_ACR_VALUES.includes(value)) : [];
}

/** The `acr` a fresh login gets: the first requested value the dev provider supports, else `pwd`. */
export function acrFor(acrValues: unknown): string {
  return supportedRequested(acrValues)[0] ?? DEFAULT_ACR;
}

/**
 * oidc-provider's default policy (which already logs in again for an old `max_age`), with one
 * more login check: a session whose `acr` is not among the requested (supported) `acr_values`
 * must authenticate again. oidc-provider treats `acr_values` as voluntary and would not.
 */
export function interactionPolicy(module: OidcInteractionPolicyModule): unknown {
  const { Check } = module;
  const policy = module.base();
  policy.get('login')?.checks.add(
    new Check('acr_values', 'the requested authentication context needs a new login', (ctx: OidcKoaContext) => {
      const oidc = ctx.oidc;
      const requested = supportedRequested(oidc?.params?.acr_values);
      if (!oidc || requested.length === 0 || !oidc.session?.accountId || oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      return requested.includes(oidc.session.acr ?? '') ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  return policy;
}
