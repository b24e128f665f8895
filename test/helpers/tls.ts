/**
 * A small PKI for the mTLS tests, made with the openssl CLI in a temporary directory: a CA, a server certificate
 * for 127.0.0.1 signed by it (the IdP's TLS front), a client certificate signed by it (tls_client_auth, RFC 8705
 * §2.1), a self-signed client certificate (self_signed_tls_client_auth, §2.2), and a second CA-signed client
 * certificate (another client's, to show a bound token refuses it). EC P-256 keys: quick to make.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
  /** base64url SHA-256 of the DER: what a bound token's cnf."x5t#S256" holds. */
  thumbprint: string;
}

export interface TestPki {
  ca: string;
  server: Pem;
  client: Pem;
  otherClient: Pem;
  selfSigned: Pem;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function read(dir: string, name: string): Pem {
  const cert = readFileSync(join(dir, `${name}.pem`), 'utf8');
  const fingerprint = new X509Certificate(cert).fingerprint256.replace(/:/g, '');
  return { cert, key: readFileSync(join(dir, `${name}.key`), 'utf8'), thumbprint: Buffer.from(fingerprint, 'hex').toString('base64url') };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Makes the certificates (valid for two days) and removes the directory again. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'eol-pki-'));
  try {
    openssl(dir, ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    const signed = (name: string, subject: string, ext: string) => {
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`,
        '-days', '2', '-extfile', `${name}.ext`]);
    };
    signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
    signed('client', '/CN=test-client', 'extendedKeyUsage=clientAuth');
    signed('other', '/CN=other-client', 'extendedKeyUsage=clientAuth');
    openssl(dir, ['req', '-x509', ...EC, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=self-signed-client']);
    return {
      ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      server: read(dir, 'server'),
      client: read(dir, 'client'),
      otherClient: read(dir, 'other'),
      selfSigned: read(dir, 'self'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
