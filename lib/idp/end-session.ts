/**
 * The RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2) the browser carries to the IdP's
 * `end_session_endpoint`. By default it is a form POST (§2 lets the OP take POST), so the ID token in
 * `id_token_hint` never enters a URL, the browser history, a `Referer` or the IdP's access log; GET (the parameters
 * in the query) remains an option for IdPs that need it. `state` is echoed back to `post_logout_redirect_uri`
 * (§3), where the app checks it; some OPs (Glewlwyd) only send the browser back when it is present.
 */
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import type { Provider } from './provider.js';

/** What the browser must send to the IdP. @private */
export interface EndSessionRequest {
  method: 'POST' | 'GET';
  /** POST: the form's action (the end_session_endpoint); GET: the URL with every parameter in its query. */
  url: string;
  /** POST: the form fields (empty for GET). */
  fields: Record<string, string>;
}

/** Who is logging out, as far as the IdP is told. @private */
export interface EndSessionSubject {
  /** The ID token the IdP issued, as `id_token_hint` (an expired one is fine, §2). */
  idToken?: string;
  /** Without an ID token: the `logout_hint` (§2: its meaning is up to the OP), e.g. the ID token's login_hint or sid. */
  logoutHint?: string;
}

/**
 * The end-session request for this IdP, or undefined when it advertises no end_session_endpoint (then the logout
 * is local only) or cannot be reached (the local logout still happens; the IdP session expires on its own).
 * @private
 */
export async function endSessionRequest(
  provider: Provider,
  config: Pick<ResolvedConfig, 'clientId' | 'postLogoutReturnUrl' | 'endSessionMethod' | 'allowInsecureRequests' | 'logoutEndpoint'>,
  subject: EndSessionSubject,
  state: string,
): Promise<EndSessionRequest | undefined> {
  const own = config.logoutEndpoint;
  if (own) {
    // Not RP-Initiated Logout: the IdP's own GET endpoint (Cognito), told only the client and where to return.
    if (new URL(own.url).protocol !== 'https:' && !config.allowInsecureRequests) return undefined;
    const url = new URL(own.url);
    url.searchParams.set('client_id', config.clientId);
    url.searchParams.set(own.redirectParam, config.postLogoutReturnUrl);
    return { method: 'GET', url: url.href, fields: {} };
  }
  let configuration: client.Configuration;
  try {
    configuration = await provider.get();
  } catch {
    return undefined;
  }
  const endpoint = configuration.serverMetadata().end_session_endpoint;
  if (!endpoint || !URL.canParse(endpoint)) return undefined;
  // The same transport rule as every other endpoint: https, unless allowInsecureRequests (loopback tests).
  if (new URL(endpoint).protocol !== 'https:' && !config.allowInsecureRequests) return undefined;
  // §2: post_logout_redirect_uri must be registered; client_id lets the OP check it without an ID token.
  const fields: Record<string, string> = {
    client_id: config.clientId,
    post_logout_redirect_uri: config.postLogoutReturnUrl,
    state,
  };
  if (subject.idToken) fields.id_token_hint = subject.idToken;
  else if (subject.logoutHint) fields.logout_hint = subject.logoutHint;
  if (config.endSessionMethod === 'GET') return { method: 'GET', url: client.buildEndSessionUrl(configuration, fields).href, fields: {} };
  return { method: 'POST', url: endpoint, fields };
}
