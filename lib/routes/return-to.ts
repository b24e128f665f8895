/**
 * The only place that decides where a browser may be sent after login: a same-origin relative path or `/`.
 * Anything that a browser could read as another origin (`//host`, `/\host`, encoded or control-character
 * variants, absolute URLs) falls back to the home page, so `/login?returnTo=` can never be an open redirect.
 */

const MAX_LENGTH = 2048;

/**
 * Returns `value` when it is a safe same-origin path (with optional query and fragment), else `fallback`.
 * @param basePath the app's path prefix ('' at the root); the result always stays under it.
 * @private
 */
export function safeReturnTo(value: unknown, basePath = '', fallback = `${basePath}/`): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return fallback;
  // Control characters and whitespace: browsers strip some of them (tab, CR, LF), turning "/\t/evil" into "//evil".
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u0020\u007f-\u009f\u2028\u2029\\]/.test(value)) return fallback;
  if (!value.startsWith('/') || value.startsWith('//')) return fallback;
  // Percent-decoding must not reveal a second slash or a backslash either ("/%2F%2Fevil", "/%5Cevil").
  let decoded = value;
  for (let i = 0; i < 3; i++) {
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      return fallback;
    }
  }
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (decoded.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(decoded)) return fallback;
  // Final word: resolve against a dummy origin; it must stay on that origin and under the base path.
  const origin = 'http://return-to.invalid';
  let resolved: URL;
  try {
    resolved = new URL(value, origin);
  } catch {
    return fallback;
  }
  if (resolved.origin !== origin) return fallback;
  if (basePath && resolved.pathname !== basePath && !resolved.pathname.startsWith(`${basePath}/`)) return fallback;
  const result = resolved.pathname + resolved.search + resolved.hash;
  // Dot segments can collapse into a protocol-relative path ("/.//evil" resolves to "//evil"), or into a path whose
  // decoding does ("/./%2F" resolves to "/%2F"): the normalised result must pass every check above on its own.
  if (result === value) return result;
  return safeReturnTo(result, basePath, fallback) === result ? result : fallback;
}
