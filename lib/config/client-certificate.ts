/**
 * The client's TLS certificate for mutual TLS (RFC 8705): client authentication with `tls_client_auth` (a
 * certificate from a CA the IdP trusts, §2.1) or `self_signed_tls_client_auth` (a certificate registered at the IdP,
 * §2.2), and certificate-bound access tokens (§3). Parsed and checked at start-up by node:crypto; idp/mtls.ts turns
 * the result into the TLS options of the connections to the IdP. The TLS itself is Node's.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';

/** The `clientCertificate` option: PEM strings. @public */
export interface ClientCertificateOption {
  /** The client certificate (PEM), optionally followed by its intermediate CA certificates. */
  cert: string;
  /** Its private key (PEM: PKCS#8, PKCS#1 or SEC1). */
  key: string;
  /**
   * CA certificates (PEM) that sign the IdP's TLS server certificate when it is not from a public CA. Added to
   * Node's default trusted roots, never replacing them.
   */
  ca?: string | string[];
}

/** The parsed certificate, ready for the TLS options of an https.Agent. @private */
export interface ClientTls {
  cert: string;
  key: string;
  ca?: string[];
  /** base64url SHA-256 of the certificate's DER: the `x5t#S256` a bound token's `cnf` carries (RFC 8705 §3.1). */
  thumbprint: string;
}

/**
 * Parses `clientCertificate`: the certificate and the key must parse, belong together, and the certificate must
 * be valid now. Messages name the field and never quote the key.
 * @private
 */
export function parseClientCertificate(input: ClientCertificateOption, now = Date.now()): { tls: ClientTls } | { error: string } {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(input.cert);
  } catch {
    return { error: 'clientCertificate.cert is not a PEM certificate ("-----BEGIN CERTIFICATE-----")' };
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(input.key));
  } catch {
    // The parser's message is not repeated: it could quote parts of the key.
    return { error: 'clientCertificate.key is not a usable PEM private key ("-----BEGIN PRIVATE KEY-----")' };
  }
  if (!matches) return { error: 'clientCertificate.key is not the private key of clientCertificate.cert' };
  if (Date.parse(certificate.validTo) <= now) return { error: `clientCertificate.cert expired on ${certificate.validTo}: renew it` };
  if (Date.parse(certificate.validFrom) > now) return { error: `clientCertificate.cert is not valid before ${certificate.validFrom}` };
  const ca = input.ca === undefined ? undefined : Array.isArray(input.ca) ? input.ca : [input.ca];
  for (const [i, pem] of (ca ?? []).entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      return { error: `clientCertificate.ca${Array.isArray(input.ca) ? `[${i}]` : ''} is not a PEM certificate` };
    }
  }
  const thumbprint = Buffer.from(certificate.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
  return { tls: { cert: input.cert, key: input.key, ...(ca && { ca }), thumbprint } };
}
