/**
 * `keepPostedUser: true` (the Apple preset): Sign in with Apple sends the user's name only once, on the first
 * authorization, as a JSON `user` field of the form_post body, beside `code` and `state`
 * (https://developer.apple.com/documentation/signinwithapple/incorporating-sign-in-with-apple-into-other-platforms).
 * It is not signed: the browser carries it, so it is taken as what the user says their name is, never as identity.
 * It only fills profile claims the ID token lacks (`given_name`, `family_name`, `name`); `sub` and `email` always come
 * from the verified ID token.
 */

/** A name part as the user typed it: a short printable string, or nothing. */
function namePart(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const clean = value.replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, 100);
  return clean.length > 0 ? clean : undefined;
}

/** The ID token's claims with the name from the posted `user` field added where they have none. @private */
export function withPostedUser(params: URLSearchParams, claims: Record<string, unknown>): Record<string, unknown> {
  const raw = params.get('user');
  if (raw === null || raw.length > 4096) return claims;
  let name: { firstName?: unknown; lastName?: unknown } | undefined;
  try {
    const user: unknown = JSON.parse(raw);
    name = typeof user === 'object' && user !== null ? ((user as { name?: unknown }).name as typeof name) : undefined;
  } catch {
    return claims;
  }
  if (typeof name !== 'object' || name === null) return claims;
  const given = namePart(name.firstName);
  const family = namePart(name.lastName);
  const full = [given, family].filter(Boolean).join(' ');
  return {
    ...(given !== undefined && { given_name: given }),
    ...(family !== undefined && { family_name: family }),
    ...(full && { name: full }),
    ...claims,
  };
}
