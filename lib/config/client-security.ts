/**
 * Options of the second round of client security (issue 14), as a zod shape spread into the configuration
 * schema, with their cross-field rules and what resolveConfig() derives from them:
 *
 * - `responseMode`: the authorization response in the query, as a form POST (OAuth 2.0 Form Post Response Mode),
 *   or as a signed JWT (JARM: `jwt`, `query.jwt`, `form_post.jwt`);
 * - `clientCertificate`: mutual TLS (RFC 8705) for the `tls_client_auth` methods and certificate-bound tokens;
 * - `requestObject`: the authorization request as a signed request object (JAR, RFC 9101) with `clientPrivateKey`;
 * - `clientEncryptionKeys` / `encryptedResponses`: ID tokens and UserInfo responses encrypted to the client.
 */
import type { JWK } from 'jose';
import { z } from 'zod';
import { type ClientCertificateOption, type ClientTls, parseClientCertificate } from './client-certificate.js';
import { ENCRYPTED_RESPONSES, type EncryptedResponse, type EncryptionKey, parseEncryptionKeys } from './encryption-keys.js';

/** Response modes (OAuth 2.0 Multiple Response Type Encoding Practices §2.1, Form Post, JARM §2.3). @public */
export const RESPONSE_MODES = ['query', 'form_post', 'jwt', 'query.jwt', 'form_post.jwt'] as const;

/** A response mode. @public */
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/** True for the JARM modes: the response is one signed JWT, `response` (JARM §2.3). @private */
export function isJwtResponseMode(mode: ResponseMode): boolean {
  return mode.endsWith('jwt');
}

/** True when the IdP POSTs the response to the callback (form_post, form_post.jwt). @private */
export function isFormPostMode(mode: ResponseMode): boolean {
  return mode.startsWith('form_post');
}

/** Token endpoint authentication methods that authenticate with the TLS client certificate (RFC 8705 §2). @private */
export const MTLS_METHODS: readonly string[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
const pem = (field: string) => z.string({ error: `${field} must be a PEM string` }).min(1, `${field} must not be empty`);

/** The zod shape of these options, spread into the configuration schema. @private */
export const clientSecurityShape = {
  responseMode: z
    .enum(RESPONSE_MODES, { error: `responseMode must be one of ${RESPONSE_MODES.map((m) => `"${m}"`).join(', ')}` })
    .default('query'),
  clientCertificate: z
    .object(
      {
        cert: pem('clientCertificate.cert'),
        key: pem('clientCertificate.key'),
        ca: z.union([pem('clientCertificate.ca'), z.array(pem('clientCertificate.ca')).min(1)]).optional(),
      },
      { error: 'clientCertificate must be { cert, key, ca? } with PEM strings' },
    )
    .strict()
    .optional(),
  requestObject: z.boolean({ error: 'requestObject must be true or false' }).default(false),
  clientEncryptionKeys: z
    .array(z.union([z.string(), z.custom<JWK>(isObject)]), { error: 'clientEncryptionKeys must be an array of private JWKs' })
    .min(1, 'clientEncryptionKeys must list at least one key (or leave it out)')
    .optional(),
  encryptedResponses: z
    .array(z.enum(ENCRYPTED_RESPONSES, { error: `encryptedResponses may list ${ENCRYPTED_RESPONSES.map((r) => `"${r}"`).join(' and ')}` }))
    .optional(),
};

/** The options the rules below read. @private */
export interface ClientSecurityOptions {
  tokenEndpointAuthMethod: string;
  clientCertificate?: ClientCertificateOption | undefined;
  clientEncryptionKeys?: unknown[] | undefined;
  encryptedResponses?: EncryptedResponse[] | undefined;
}

/** Problems (field, message) with these options. @private */
export function clientSecurityIssues(c: ClientSecurityOptions): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  if (MTLS_METHODS.includes(c.tokenEndpointAuthMethod) && !c.clientCertificate) {
    issues.push({
      path: 'clientCertificate',
      message: `clientCertificate is required with tokenEndpointAuthMethod "${c.tokenEndpointAuthMethod}": { cert, key } as PEM (RFC 8705)`,
    });
  }
  if (c.clientCertificate) {
    const parsed = parseClientCertificate(c.clientCertificate);
    if ('error' in parsed) issues.push({ path: 'clientCertificate', message: parsed.error });
  }
  if (c.clientEncryptionKeys) {
    const parsed = parseEncryptionKeys(c.clientEncryptionKeys);
    if ('error' in parsed) issues.push({ path: 'clientEncryptionKeys', message: parsed.error });
  } else if (c.encryptedResponses?.length) {
    issues.push({ path: 'encryptedResponses', message: 'encryptedResponses needs clientEncryptionKeys: the private keys the IdP encrypts to' });
  }
  return issues;
}

/** What resolveConfig() derives from these options. @private */
export interface ResolvedClientSecurity {
  /** The parsed `clientCertificate`: mutual TLS with the IdP. */
  clientTls?: ClientTls;
  /** The parsed `clientEncryptionKeys`. */
  encryptionKeys?: EncryptionKey[];
  /** Responses that must arrive encrypted: `encryptedResponses`, default `['id_token']` once keys are given. */
  requireEncrypted: EncryptedResponse[];
}

/** Resolves the parsed forms of options the schema already validated. @private */
export function resolveClientSecurity(c: ClientSecurityOptions): ResolvedClientSecurity {
  const tls = c.clientCertificate && parseClientCertificate(c.clientCertificate);
  const keys = c.clientEncryptionKeys && parseEncryptionKeys(c.clientEncryptionKeys);
  return {
    ...(tls && 'tls' in tls && { clientTls: tls.tls }),
    ...(keys && 'keys' in keys && { encryptionKeys: keys.keys }),
    requireEncrypted: keys ? [...new Set<EncryptedResponse>(c.encryptedResponses ?? ['id_token'])] : [],
  };
}
