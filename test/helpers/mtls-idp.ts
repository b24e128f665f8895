/**
 * The test OP behind a real TLS server that asks for client certificates (node:https, requestCert), the way an IdP
 * publishes its mutual-TLS endpoints (RFC 8705 §5): the issuer (discovery, authorization, login pages) stays on
 * plain loopback http, and discovery advertises `mtls_endpoint_aliases` on the TLS front for the token, PAR,
 * UserInfo and revocation endpoints. oidc-provider's mTLS feature reads the certificate from the TLS socket.
 * The front records every request with the certificate it presented, so tests can assert what the IdP saw.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type TestIdp, type TestIdpOptions, startTestIdp } from './idp.js';
import type { TestPki } from './tls.js';

export interface SeenRequest {
  path: string;
  method: string;
  /** base64url SHA-256 of the client certificate presented on the connection, if any. */
  certificate?: string;
  /** The certificate chains to the test CA. */
  authorized: boolean;
}

export interface MtlsIdp extends TestIdp {
  /** https://127.0.0.1:port of the TLS front. */
  mtlsUrl: string;
  seen: SeenRequest[];
}

/** The PEM certificate on the request's TLS connection, for oidc-provider's features.mTLS.getCertificate. */
function peerCertificate(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  return peer?.raw ? new X509Certificate(peer.raw).toString() : undefined;
}

type KoaCtx = { req: IncomingMessage };

/** Starts the OP with mTLS on (certificate-bound tokens, both mTLS client authentication methods) behind the front. */
export async function startMtlsIdp(pki: TestPki, options: TestIdpOptions): Promise<MtlsIdp> {
  const seen: SeenRequest[] = [];
  // The OP's request listener, attached once the OP (which needs the front's URL for its discovery) is up.
  const target: { listener?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const front = https.createServer({ key: pki.server.key, cert: pki.server.cert, ca: [pki.ca], requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const pem = peerCertificate(req);
    seen.push({
      path: new URL(req.url ?? '/', 'https://front').pathname,
      method: req.method ?? 'GET',
      ...(pem && { certificate: Buffer.from(new X509Certificate(pem).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url') }),
      authorized: (req.socket as TLSSocket).authorized === true,
    });
    if (target.listener) target.listener(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const mtlsUrl = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
  const idp = await startTestIdp({
    ...options,
    configuration: {
      clientAuthMethods: ['client_secret_basic', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
      discovery: {
        mtls_endpoint_aliases: {
          token_endpoint: `${mtlsUrl}/token`,
          pushed_authorization_request_endpoint: `${mtlsUrl}/request`,
          userinfo_endpoint: `${mtlsUrl}/me`,
          revocation_endpoint: `${mtlsUrl}/token/revocation`,
        },
      },
      ...options.configuration,
    },
    features: {
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: (ctx: KoaCtx) => peerCertificate(ctx.req),
        certificateAuthorized: (ctx: KoaCtx) => (ctx.req.socket as TLSSocket).authorized === true,
        certificateSubjectMatches: (ctx: KoaCtx, property: string, expected: string) => {
          const pem = peerCertificate(ctx.req);
          return property === 'tls_client_auth_subject_dn' && pem !== undefined && new X509Certificate(pem).subject === expected;
        },
      },
      ...options.features,
    },
  });
  target.listener = idp.listener;
  return {
    ...idp,
    mtlsUrl,
    seen,
    async close() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await idp.close();
    },
  };
}
