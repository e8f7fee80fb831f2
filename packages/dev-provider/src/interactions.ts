import type { IncomingMessage, ServerResponse } from 'node:http';

import type { OidcInteraction, OidcProvider } from './oidc-types.js';
import { errorPage, loginPage, messagePage, type Page } from './pages.js';
import { acrFor } from './acr.js';
import { findUser, type AddedUsers } from './users.js';

/** Login forms are a few dozen bytes; anything much bigger is not one. */
const MAX_FORM_BYTES = 4096;

const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]{1,128})$/;

/** The interaction uid when the request is for our login page, else undefined. */
export function interactionUid(url: string | undefined): string | undefined {
  const path = (url ?? '').split('?', 1)[0] ?? '';
  return INTERACTION_PATH.exec(path)?.[1];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Our login page, in front of oidc-provider (whose own devInteractions are off).
 * Every failure ends in an HTML page; nothing here may crash the server.
 */
export async function handleInteraction(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  added?: AddedUsers,
): Promise<void> {
  try {
    if (req.method === 'GET') {
      await showInteraction(provider, req, res, uid);
    } else if (req.method === 'POST') {
      await submitInteraction(provider, req, res, uid, added);
    } else {
      res.setHeader('Allow', 'GET, POST');
      throw new HttpError(405, 'Method not allowed.');
    }
  } catch (error) {
    sendFailure(res, error);
  }
}

async function showInteraction(provider: OidcProvider, req: IncomingMessage, res: ServerResponse, uid: string) {
  const interaction = await loadInteraction(provider, req, res, uid);
  if (interaction.prompt.name === 'consent') {
    await finishConsent(provider, req, res, interaction);
    return;
  }
  sendPage(res, 200, loginPage({ uid, clientId: clientIdOf(interaction), scope: scopeOf(interaction) }));
}

async function submitInteraction(provider: OidcProvider, req: IncomingMessage, res: ServerResponse, uid: string, added?: AddedUsers) {
  const form = await readForm(req);
  const interaction = await loadInteraction(provider, req, res, uid);
  if (interaction.prompt.name === 'consent') {
    await finishConsent(provider, req, res, interaction);
    return;
  }
  if (form.get('action') === 'cancel') {
    const result = { error: 'access_denied', error_description: 'End-User aborted the sign-in' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  const username = (form.get('username') ?? '').trim();
  const user = findUser(username, added);
  if (!user) {
    const error = username ? `Unknown user "${username}".` : 'Enter a user name.';
    sendPage(res, 400, loginPage({ uid, clientId: clientIdOf(interaction), scope: scopeOf(interaction), username, error }));
    return;
  }
  // the login page stands for whatever authentication the request asked for (acr.ts)
  const login = { accountId: user.sub, acr: acrFor(interaction.params.acr_values) };
  await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
}

async function loadInteraction(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<OidcInteraction> {
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid !== uid) {
    throw new HttpError(400, 'This sign-in page belongs to another sign-in attempt. Start again from the application.');
  }
  if (interaction.prompt.name !== 'login' && interaction.prompt.name !== 'consent') {
    throw new HttpError(400, `The dev provider cannot handle the "${interaction.prompt.name}" prompt.`);
  }
  return interaction;
}

function scopeOf(interaction: OidcInteraction): string | undefined {
  const scope = interaction.params.scope;
  return typeof scope === 'string' ? scope : undefined;
}

function clientIdOf(interaction: OidcInteraction): string | undefined {
  const clientId = interaction.params.client_id;
  return typeof clientId === 'string' ? clientId : undefined;
}

/**
 * Consent is normally granted up front by loadExistingGrant; this covers the
 * prompts it cannot (e.g. native clients, which oidc-provider always asks):
 * dev clients are first-party, so whatever is missing is granted.
 */
async function finishConsent(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  interaction: OidcInteraction,
): Promise<void> {
  const accountId = interaction.session?.accountId;
  const clientId = clientIdOf(interaction);
  if (!accountId || !clientId) throw new HttpError(400, 'This sign-in attempt has no signed-in user. Start again.');

  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant = existing ?? new provider.Grant({ accountId, clientId });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = interaction.prompt.details;
  if (isStringArray(missingOIDCScope)) grant.addOIDCScope(missingOIDCScope);
  if (isStringArray(missingOIDCClaims)) grant.addOIDCClaims(missingOIDCClaims);
  if (missingResourceScopes && typeof missingResourceScopes === 'object') {
    for (const [resource, scopes] of Object.entries(missingResourceScopes)) {
      if (isStringArray(scopes)) grant.addResourceScope(resource, scopes);
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'The sign-in form must be sent as application/x-www-form-urlencoded.');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_FORM_BYTES) throw new HttpError(413, 'The sign-in form is too large.');
    chunks.push(buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendFailure(res: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) {
    sendPage(res, error.status, messagePage('Cannot sign in', error.message), error.status === 413);
  } else if (isSessionNotFound(error)) {
    // The interaction cookie is missing or the attempt expired: the classic cause
    // is a browser that dropped the cookie, or a stale tab.
    const message =
      'This sign-in attempt has expired or its cookie is missing. Go back to the application and sign in again.';
    sendPage(res, 400, messagePage('Sign-in expired', message));
  } else if (isExposedProviderError(error)) {
    sendPage(res, 400, errorPage({ error: error.error, error_description: error.error_description }));
  } else {
    console.error('codegrant dev provider: unexpected error on the login page:', error);
    sendPage(res, 500, errorPage({ error: 'server_error', error_description: 'Unexpected error; see the server log.' }));
  }
}

/** oidc-provider's SessionNotFound (an OIDCProviderError: `error` code and a 4xx `statusCode`). */
function isSessionNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'SessionNotFound';
}

/** Any other oidc-provider error meant for the user agent (4xx, `expose` set). */
function isExposedProviderError(error: unknown): error is Error & { error: string; error_description?: unknown } {
  return error instanceof Error && 'expose' in error && error.expose === true && 'error' in error && typeof error.error === 'string';
}

function sendPage(res: ServerResponse, status: number, page: Page, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', page.csp);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (closeConnection) res.setHeader('Connection', 'close');
  res.end(page.html);
}
