/**
 * What a versioned write keeps when the session changed since the request loaded it (lib/session/merge.ts): the
 * request's own changes re-applied where they commute, dropped where they do not, tokens never rolled back.
 */
import { mergeSession, type SessionRecord } from '../lib/session/merge.js';

const tokens = (n: number) => ({ accessToken: `at${n}`, refreshToken: `rt${n}`, tokenType: 'Bearer', expiresAt: 1000 + n });
const user = (over: Record<string, unknown> = {}) => ({ sub: 'alice', claims: {}, tokens: tokens(1), loginAt: 100, seenAt: 100, ...over });
const record = (oauth: Record<string, unknown>, extra: Record<string, unknown> = {}): SessionRecord =>
  ({ cookie: { path: '/' }, oauth, ...extra }) as unknown as SessionRecord;
const pending = (state: string) => ({ [state]: { nonce: 'n', codeVerifier: 'v', returnTo: '/', createdAt: 1 } });

test('a newer refresh outcome is never replaced by the older copy a slow request loaded', () => {
  const base = record({ user: user() });
  const mine = record({ user: user({ seenAt: 200 }) });
  const theirs = record({ user: user({ tokens: tokens(2) }) });
  const { record: merged } = mergeSession(base, mine, theirs);
  expect(merged.oauth!.user!.tokens).toEqual(tokens(2));
  expect(merged.oauth!.user!.seenAt).toBe(200);
});

test("this request's own refresh outcome is kept when the newer copy still holds the tokens it started from", () => {
  const base = record({ user: user() });
  const mine = record({ user: user({ tokens: tokens(2) }) });
  const theirs = record({ user: user({ seenAt: 300 }) });
  const { record: merged } = mergeSession(base, mine, theirs);
  expect(merged.oauth!.user!.tokens).toEqual(tokens(2));
  expect(merged.oauth!.user!.seenAt).toBe(300);
});

test('pending logins added on both sides are all kept; one taken here is taken', () => {
  const base = record({ pending: { ...pending('a'), ...pending('b') } });
  const mine = record({ pending: { ...pending('b'), ...pending('c') } }); // took a, added c
  const theirs = record({ pending: { ...pending('a'), ...pending('b'), ...pending('d') } }); // added d
  const { record: merged, lostClaims } = mergeSession(base, mine, theirs);
  expect(Object.keys(merged.oauth!.pending!).sort()).toEqual(['b', 'c', 'd']);
  expect(lostClaims).toEqual([]);
});

test('a pending login another request took first is reported lost (one redemption per callback)', () => {
  const base = record({ pending: pending('a') });
  const mine = record({});
  const theirs = record({});
  expect(mergeSession(base, mine, theirs).lostClaims).toEqual(['a']);
});

test('a merge never adds or removes the user, and app keys this request changed are written over', () => {
  const base = record({ pending: pending('a') }, { cart: 1, theme: 'dark' });
  const mine = record({ pending: pending('a') }, { cart: 2, theme: 'dark' });
  const theirs = record({ user: user() }, { cart: 1, theme: 'light' });
  const { record: merged } = mergeSession(base, mine, theirs);
  expect(merged.oauth!.user!.sub).toBe('alice');
  expect(merged.cart).toBe(2);
  expect(merged.theme).toBe('light');
  const gone = mergeSession(record({ user: user() }), record({ user: user({ seenAt: 500 }) }), record({ silentTried: true }));
  expect(gone.record.oauth!.user).toBeUndefined();
});
