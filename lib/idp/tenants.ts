/**
 * Multi-tenant issuers, done safely, for any host (README "Multi-tenant issuers"). The discovered issuer is a
 * template (`https://login.microsoftonline.com/{tenantid}/v2.0`); each ID token must carry `iss` equal to the
 * template with its own `tid` claim, and `tid` must be one of `allowedTenants` (or `'any'`, written out).
 *
 * openid-client compares an ID token's `iss` with the Configuration's issuer, and only recognises templates for
 * login.microsoftonline.com. On top of its public API, for every host:
 * - discovery fetches the well-known document itself (openid-client then leaves the issuer to us) and checks that
 *   the template fits the configured issuer ({@link assertIssuerFits});
 * - the code exchange runs twice through openid-client ({@link codeGrant}): first against the template, which
 *   redeems the code and keeps a copy of the token response (its `customFetch` hook), then, with the tenant the
 *   response's ID token names, against a Configuration for that tenant's issuer that is handed the same response.
 *   The second pass does every check openid-client does (iss, aud, azp, exp, nonce, state), for that tenant; the
 *   signature is verified with jose afterwards (id-token.ts), as for every ID token;
 * - a refresh runs against the Configuration of the user's tenant ({@link tenantConfiguration}), so a refreshed ID
 *   token from another tenant fails openid-client's issuer check.
 */
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import type { ResolvedConfig } from '../config/schema.js';
import { TENANT_ID, TENANT_PLACEHOLDER, missingAllowedTenants } from '../config/tenants.js';
import { ConfigError, ForbiddenError, IdpUnavailableError, LoginStateError, TokenValidationError } from '../errors.js';
import { clientAuthFor } from './client-auth.js';
import { clientMetadataFor, enableClientFeatures, responseConfiguration } from './client-features.js';

/** True when the issuer is a multi-tenant template. @private */
export function isTemplated(issuer: string | undefined): boolean {
  return typeof issuer === 'string' && issuer.includes(TENANT_PLACEHOLDER);
}

/** The template with a tenant id in place. @private */
export function tenantIssuer(template: string, tenant: string): string {
  return template.replace(TENANT_PLACEHOLDER, tenant);
}

const withoutSlash = (s: string) => s.replace(/\/+$/, '');

/** The server metadata as plain data (its helper methods are not enumerable, so a spread leaves them out). */
function metadataOf(configuration: client.Configuration, changes: Partial<client.ServerMetadata> = {}): client.ServerMetadata {
  return { ...configuration.serverMetadata(), ...changes };
}

/** True when `issuer` is the template with one URL path segment (a tenant id, `common`, ...) in place. */
function fitsTemplate(issuer: string, template: string): boolean {
  const [before, after, ...rest] = withoutSlash(template).split(TENANT_PLACEHOLDER);
  if (before === undefined || after === undefined || rest.length > 0) return false;
  const value = withoutSlash(issuer);
  if (!value.startsWith(before) || !value.endsWith(after) || value.length <= before.length + after.length) return false;
  return !value.slice(before.length, value.length - after.length).includes('/');
}

/**
 * Where discovery fetches the metadata: the issuer (openid-client checks the issuer), or with allowedTenants the
 * well-known document itself, whose issuer {@link assertIssuerFits} checks instead.
 * @private
 */
export function discoveryTarget(config: ResolvedConfig): URL {
  if (config.allowedTenants === undefined) return new URL(config.issuer);
  return new URL(`${withoutSlash(config.issuer)}/.well-known/openid-configuration`);
}

/**
 * Checks the discovered issuer: equal to the configured one, or a template that fits it, and only with
 * allowedTenants.
 * @throws {ConfigError} for a template without allowedTenants; {IdpUnavailableError} `idp_bad_response` otherwise.
 * @private
 */
export function assertIssuerFits(config: ResolvedConfig, discovered: string): void {
  if (isTemplated(discovered)) {
    if (config.allowedTenants === undefined) throw new ConfigError([missingAllowedTenants(discovered)]);
    if (fitsTemplate(config.issuer, discovered)) return;
  } else if (config.allowedTenants === undefined || new URL(discovered).href === new URL(config.issuer).href) {
    return;
  }
  throw new IdpUnavailableError(
    'idp_bad_response',
    503,
    `Sign-in is unavailable: the identity provider's discovery document names an issuer that does not belong to ${config.issuer}. Check the issuer setting.`,
  );
}

/** The discovery error of a templated issuer that openid-client refused: worded as the configuration problem it is. @private */
export function templateRefused(err: unknown): ConfigError | undefined {
  const body = (err as { cause?: { body?: { issuer?: unknown } } } | undefined)?.cause?.body;
  return typeof body?.issuer === 'string' && isTemplated(body.issuer) ? new ConfigError([missingAllowedTenants(body.issuer)]) : undefined;
}

const auths = new WeakMap<ResolvedConfig, Promise<client.ClientAuth>>();

/** A Configuration like `base` (client authentication, fetch, timeout, decryption) with other server metadata. */
async function twin(config: ResolvedConfig, base: client.Configuration, metadata: client.ServerMetadata, fetch?: client.CustomFetch): Promise<client.Configuration> {
  let auth = auths.get(config);
  if (!auth) auths.set(config, (auth = clientAuthFor(config)));
  const configuration = new client.Configuration(metadata, config.clientId, clientMetadataFor(config), await auth);
  if (config.allowInsecureRequests) client.allowInsecureRequests(configuration);
  const own = fetch ?? base[client.customFetch];
  if (own) configuration[client.customFetch] = own;
  configuration.timeout = base.timeout;
  await enableClientFeatures(config, configuration, await auth);
  return configuration;
}

const tenantTwins = new WeakMap<client.Configuration, Map<string, Promise<client.Configuration>>>();
/** Tenants whose Configuration is kept per IdP; more are rebuilt when needed (they cost no network call). */
const MAX_TENANT_TWINS = 100;

/** The Configuration of one tenant of a templated issuer (refresh, and whatever else checks its `iss`). @private */
export function tenantConfiguration(config: ResolvedConfig, base: client.Configuration, tenant: string): Promise<client.Configuration> {
  let twins = tenantTwins.get(base);
  if (!twins) tenantTwins.set(base, (twins = new Map<string, Promise<client.Configuration>>()));
  let made = twins.get(tenant);
  if (!made) {
    if (twins.size >= MAX_TENANT_TWINS) twins.clear();
    made = twin(config, base, metadataOf(base, { issuer: tenantIssuer(base.serverMetadata().issuer, tenant) }));
    twins.set(tenant, made);
    made.catch(() => twins.delete(tenant));
  }
  return made;
}

function invalid(detail: string): TokenValidationError {
  return new TokenValidationError('id_token_invalid', 401, `The identity provider's ID token was rejected: ${detail}.`);
}

/** The result of a code exchange: the token response, and with a templated issuer the user's tenant. @private */
export interface CodeGrantResult {
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  tenant?: string;
}

/**
 * Redeems the code (openid-client's authorizationCodeGrant); with a templated issuer, in the two passes described
 * above. `dpop` makes the DPoP options for the Configuration that runs the grant.
 * @private
 */
export async function codeGrant(
  config: ResolvedConfig,
  configuration: client.Configuration,
  url: URL,
  checks: client.AuthorizationCodeGrantChecks,
  dpop: (configuration: client.Configuration) => Promise<client.DPoPOptions | undefined>,
): Promise<CodeGrantResult> {
  const metadata = configuration.serverMetadata();
  if (!isTemplated(metadata.issuer)) {
    return { response: await client.authorizationCodeGrant(responseConfiguration(configuration), url, checks, undefined, await dpop(configuration)) };
  }
  // RFC 9207: the `iss` response parameter names the tenant's issuer, which is only known after the exchange, so
  // openid-client is not asked to compare it with the template; it is checked here, before and after.
  const iss = url.searchParams.get('iss');
  const bare = new URL(url);
  bare.searchParams.delete('iss');
  if (iss === null ? metadata.authorization_response_iss_parameter_supported === true : !fitsTemplate(iss, metadata.issuer)) {
    throw new LoginStateError('callback_invalid', 400, 'The sign-in response has a missing or foreign issuer (iss) parameter. Start again.');
  }
  const plain = metadataOf(configuration, { authorization_response_iss_parameter_supported: false });
  const tokenEndpoint = metadata.token_endpoint;
  const network: client.CustomFetch = configuration[client.customFetch] ?? ((u, init) => fetch(u, init as RequestInit));
  let captured: Response | undefined;
  const capture = await twin(config, configuration, plain, async (u, init) => {
    const response = await network(u, init);
    if (u === tokenEndpoint) captured = response.clone();
    return response;
  });
  let accepted = false;
  try {
    await client.authorizationCodeGrant(responseConfiguration(capture), bare, checks, undefined, await dpop(capture));
    accepted = true;
  } catch (err) {
    // Nothing redeemed (a bad state, a transport failure), or an error answer: openid-client's own error stands.
    if (!captured?.ok) throw err;
  }
  // Accepted against the template itself: the ID token's iss is the literal "{tenantid}" template.
  if (accepted || !captured) throw invalid('its issuer (iss) is the multi-tenant template, not a tenant');
  const tenant = tenantNamed(await captured.clone().json().catch(() => undefined));
  const answer = captured;
  const own = await twin(config, configuration, { ...plain, issuer: tenantIssuer(metadata.issuer, tenant) }, (u, init) =>
    u === tokenEndpoint ? Promise.resolve(answer.clone()) : network(u, init),
  );
  const response = await client.authorizationCodeGrant(responseConfiguration(own), bare, checks, undefined, await dpop(own));
  if (iss !== null && iss !== tenantIssuer(metadata.issuer, tenant)) {
    throw new LoginStateError('callback_invalid', 400, "The sign-in response's issuer (iss) parameter names another tenant than its ID token. Start again.");
  }
  return { response, tenant };
}

/** The `tid` of the (not yet verified) ID token in a token response: only to choose which issuer to verify it against. */
function tenantNamed(body: unknown): string {
  const idToken = (body as { id_token?: unknown } | undefined)?.id_token;
  let tid: unknown;
  try {
    tid = typeof idToken === 'string' ? decodeJwt(idToken).tid : undefined;
  } catch {
    tid = undefined;
  }
  if (typeof tid !== 'string' || !TENANT_ID.test(tid)) throw invalid('it names no tenant (tid claim), which a multi-tenant issuer requires');
  return tid;
}

/**
 * The app's tenant rule, after the ID token was verified for its tenant.
 * @throws {ForbiddenError} `tenant_not_allowed` (403).
 * @private
 */
export function assertTenantAllowed(config: ResolvedConfig, tenant: string): void {
  if (config.allowedTenants === 'any' || config.allowedTenants?.includes(tenant)) return;
  throw new ForbiddenError(
    'Your organization (tenant) is not allowed to sign in to this app. Ask your administrator, or sign in with an account of an allowed organization.',
    'tenant_not_allowed',
  );
}
