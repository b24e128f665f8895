/**
 * Mutual TLS with the IdP (RFC 8705): the https requests of a configuration with `clientCertificate` go through an
 * agent that presents the certificate, so the IdP can authenticate the client by it (`tls_client_auth`,
 * `self_signed_tls_client_auth`, §2) and bind the access tokens it issues to it (`cnf.x5t#S256`, §3). The same
 * agent carries every later request with those tokens (refresh, UserInfo, fetchWithToken), because a
 * certificate-bound token is only accepted over a connection that presents the same certificate (§3.1).
 * The TLS is Node's (node:https); the token endpoint aliases (§5) are chosen by openid-client.
 */
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { ResolvedConfig } from '../config/schema.js';

const agents = new WeakMap<ResolvedConfig, https.Agent>();

/** The https agent presenting the configuration's client certificate, or undefined without one. @private */
export function mtlsAgent(config: ResolvedConfig): https.Agent | undefined {
  const tls = config.clientTls;
  if (!tls) return undefined;
  let agent = agents.get(config);
  if (!agent) {
    agent = new https.Agent({
      keepAlive: true,
      cert: tls.cert,
      key: tls.key,
      // Added to the default roots, never replacing them: the IdP's other endpoints may use a public CA.
      ...(tls.ca && { ca: [...rootCertificates, ...tls.ca] }),
    });
    agents.set(config, agent);
  }
  return agent;
}

/**
 * Client metadata for openid-client: with a client certificate, use the IdP's `mtls_endpoint_aliases` when it
 * advertises them (RFC 8705 §5), so token, PAR, UserInfo and revocation requests reach the endpoints that ask
 * for the certificate.
 * @private
 */
export function mtlsClientMetadata(config: ResolvedConfig): { use_mtls_endpoint_aliases?: true } {
  return config.clientTls ? { use_mtls_endpoint_aliases: true } : {};
}
