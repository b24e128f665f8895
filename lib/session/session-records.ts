/**
 * One record per session for the session control API (README "Session control"): what `listSessions()` shows
 * (when it started and was last seen, the IdP `sid`, the provider, a coarse browser label, the IP only when the app
 * opts in) and what ending it from another device needs (its tokens, to revoke them: RFC 7009).
 *
 * Kept in the session index (sid-index.ts) under the session's index entry (a hash of the session id on sealed
 * stores), as a JWE (dir + A256GCM via jose) under a key derived with HKDF from the client secret and the entry:
 * a dump of Redis shows neither the tokens nor the sid. Without a client secret (private_key_jwt, mTLS) the record
 * carries no tokens, and only this session's own tokens are revoked when it ends elsewhere.
 *
 * Written at login, and rewritten from the session itself when it changes anyway (a refresh, the idle stamp at most
 * once a minute), so the plain authenticated GET costs no extra store command; an update never recreates a record
 * that an ending removed.
 */
import { createHash, hkdfSync } from 'node:crypto';
import type { Request } from 'express';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { nowSeconds } from '../clock.js';
import type { ResolvedConfig } from '../config/schema.js';
import type { StoredTokens } from '../types.js';
import { indexEntryOf } from './sealed-store.js';
import { type SessionIndex, indexKeys, sessionIndexFor } from './sid-index.js';
import type { StoredUser } from './state.js';

/** What the record of one session holds. @private */
export interface SessionRecord {
  sub: string;
  /** Seconds since the epoch: the login. */
  createdAt: number;
  /** Seconds since the epoch: the last recorded activity (the idle stamp, at most a minute old). */
  lastSeenAt: number;
  sid?: string;
  provider?: string;
  userAgent: string;
  ip?: string;
  /** The tokens to revoke when the session is ended from elsewhere (only with a client secret to seal them). */
  tokens?: Pick<StoredTokens, 'refreshToken' | 'accessToken' | 'expiresAt' | 'tokenType'>;
}

type RecordConfig = Pick<ResolvedConfig, 'sessionControl' | 'clientSecret' | 'issuer' | 'absoluteTimeout' | 'idleTimeout'>;

/** True when the app asked for session control (`sessionControl` option). @private */
export function sessionControlOn(config: Pick<ResolvedConfig, 'sessionControl'>): boolean {
  return config.sessionControl !== false;
}

const keyFor = (config: RecordConfig, entry: string): Uint8Array =>
  new Uint8Array(hkdfSync('sha256', config.clientSecret ?? config.issuer, entry, 'express-oauth-login session record', 32));

async function seal(config: RecordConfig, entry: string, record: SessionRecord): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(record)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .encrypt(keyFor(config, entry));
}

/** Opens a record; `undefined` for one that does not open (another key, tampered). @private */
export async function openRecord(config: RecordConfig, entry: string, sealed: string): Promise<SessionRecord | undefined> {
  try {
    const { plaintext } = await compactDecrypt(sealed, keyFor(config, entry), {
      keyManagementAlgorithms: ['dir'],
      contentEncryptionAlgorithms: ['A256GCM'],
    });
    return JSON.parse(new TextDecoder().decode(plaintext)) as SessionRecord;
  } catch {
    return undefined;
  }
}

/** The opaque handle `listSessions()` gives for a session: names it, but is no session id nor store key. @private */
export function handleOf(entry: string): string {
  return createHash('sha256').update(`express-oauth-login session handle\0${entry}`).digest('base64url').slice(0, 32);
}

const BROWSERS: Array<[RegExp, string]> = [
  [/Edg\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\//, 'Firefox'],
  [/Chrome\/|Chromium\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];
const SYSTEMS: Array<[RegExp, string]> = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** A coarse label for a User-Agent header, e.g. "Firefox on Linux": enough to tell devices apart, no version. @private */
export function userAgentLabel(header: string | undefined): string {
  if (!header) return 'Unknown browser';
  const browser = BROWSERS.find(([re]) => re.test(header))?.[1] ?? 'Unknown browser';
  const system = SYSTEMS.find(([re]) => re.test(header))?.[1];
  return system ? `${browser} on ${system}` : browser;
}

/** The record of `user`'s session as this request sees it. */
function recordOf(config: RecordConfig, req: Request, user: StoredUser): SessionRecord {
  const { refreshToken, accessToken, expiresAt, tokenType } = user.tokens;
  const recordIp = typeof config.sessionControl === 'object' && config.sessionControl.recordIp;
  return {
    sub: user.sub,
    createdAt: user.loginAt,
    lastSeenAt: user.seenAt,
    ...(user.sid !== undefined && { sid: user.sid }),
    ...(user.provider !== undefined && { provider: user.provider }),
    userAgent: userAgentLabel(req.get('user-agent')),
    ...(recordIp && req.ip !== undefined && { ip: req.ip }),
    ...(config.clientSecret !== undefined && {
      tokens: { accessToken, tokenType, ...(refreshToken !== undefined && { refreshToken }), ...(expiresAt !== undefined && { expiresAt }) },
    }),
  };
}

/**
 * Writes the record of `user`'s session `sessionId`: created at login (`create`), else updated only if it is still
 * there. It lives as long as the session can (absoluteTimeout from the login).
 * @private
 */
export async function writeSessionRecord(
  config: ResolvedConfig,
  req: Request,
  user: StoredUser,
  sessionId: string,
  mode: 'create' | 'update',
): Promise<void> {
  if (!sessionControlOn(config)) return;
  const entry = indexEntryOf(req, sessionId);
  const ttl = user.loginAt + config.absoluteTimeout - nowSeconds();
  if (ttl <= 0) return;
  const index = sessionIndexFor(config, req);
  await index.putRecord(entry, await seal(config, entry, recordOf(config, req, user)), ttl, mode === 'update');
}

/** Forgets the record of session `sessionId` (it ended here: its lifetime is over, or its refresh was refused). @private */
export async function forgetSessionRecord(config: ResolvedConfig, req: Request, sessionId: string): Promise<void> {
  await sessionIndexFor(config, req).dropRecord(indexEntryOf(req, sessionId));
}

/** A session of a user as the index knows it: its entry and, when still kept, its record. @private */
export interface IndexedSession {
  entry: string;
  record?: SessionRecord;
}

/** The sessions the index lists under `keys` (a sid and/or a sub: both must match when both are given). @private */
export async function indexedSessions(
  config: RecordConfig,
  index: SessionIndex,
  selector: { sub?: string; sid?: string },
): Promise<IndexedSession[]> {
  const keys = indexKeys(config.issuer, selector.sub, selector.sid);
  let entries = await index.members((keys.sid ?? keys.sub)!);
  if (keys.sid && keys.sub) {
    const ofUser = new Set(await index.members(keys.sub));
    entries = entries.filter((entry) => ofUser.has(entry));
  }
  const sealed = await index.records(entries);
  const now = nowSeconds();
  return Promise.all(
    entries.map(async (entry, i) => {
      const opened = sealed[i] === undefined ? undefined : await openRecord(config, entry, sealed[i]);
      // A session that went idle past idleTimeout is over even if nobody ended it: not listed any more.
      const record = opened && opened.lastSeenAt + config.idleTimeout > now ? opened : undefined;
      return { entry, ...(record && { record }) };
    }),
  );
}
