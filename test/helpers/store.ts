/** Reads and edits sessions in a real express-session MemoryStore, as if time had passed. */
import type session from 'express-session';
import type { Browser } from './browser.js';

type Sessions = Record<string, string>;
const sessionsOf = (store: session.MemoryStore) => (store as unknown as { sessions: Sessions }).sessions;

/** The session id behind a browser's signed session cookie (`s:<id>.<signature>`). */
export function sessionIdOf(browser: Browser, cookieName = 'app.sid'): string {
  const cookie = browser.cookie(cookieName);
  if (!cookie) throw new Error(`the browser has no ${cookieName} cookie`);
  return decodeURIComponent(cookie.value).slice(2).split('.')[0]!;
}

/** The stored session data (parsed), or undefined when the store has none. */
export function readSession(store: session.MemoryStore, sid: string): Record<string, any> | undefined {
  const raw = sessionsOf(store)[sid];
  return raw === undefined ? undefined : JSON.parse(raw);
}

/** Changes the stored session in place. */
export function editSession(store: session.MemoryStore, sid: string, edit: (data: Record<string, any>) => void): void {
  const data = readSession(store, sid);
  if (!data) throw new Error(`no session ${sid} in the store`);
  edit(data);
  sessionsOf(store)[sid] = JSON.stringify(data);
}
