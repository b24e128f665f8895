/**
 * Which IdP endpoint a URL is, from the IdP's metadata (RFC 8414 §2, OIDC Discovery §3): what telemetry reports
 * as `express_oauth_login.idp.endpoint`. mTLS endpoint aliases (RFC 8705 §5) count as the endpoint they alias.
 */
import type { IdpEndpoint } from '../telemetry.js';

/** Metadata fields that name an endpoint we call, and what we call them. */
const FIELDS: Array<[string, IdpEndpoint]> = [
  ['token_endpoint', 'token'],
  ['userinfo_endpoint', 'userinfo'],
  ['pushed_authorization_request_endpoint', 'par'],
  ['revocation_endpoint', 'revocation'],
  ['jwks_uri', 'jwks'],
];

const byMetadata = new WeakMap<object, Map<string, IdpEndpoint>>();

/** A URL without its query or fragment, as the key endpoints are compared by. */
function bare(url: string): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

function endpointsOf(metadata: Record<string, unknown>): Map<string, IdpEndpoint> {
  let known = byMetadata.get(metadata);
  if (known) return known;
  known = new Map();
  const aliases = metadata.mtls_endpoint_aliases;
  for (const source of [metadata, typeof aliases === 'object' && aliases !== null ? (aliases as Record<string, unknown>) : {}]) {
    for (const [field, kind] of FIELDS) {
      const value = source[field];
      const key = typeof value === 'string' ? bare(value) : undefined;
      if (key && !known.has(key)) known.set(key, kind);
    }
  }
  byMetadata.set(metadata, known);
  return known;
}

/**
 * The endpoint `url` is at this IdP: one of the metadata's endpoints, `discovery` for a well-known document, or
 * `other`.
 * @private
 */
export function endpointKind(url: string, metadata: object): IdpEndpoint {
  const key = bare(url);
  if (key === undefined) return 'other';
  const known = endpointsOf(metadata as Record<string, unknown>).get(key);
  if (known) return known;
  return key.includes('/.well-known/') ? 'discovery' : 'other';
}
