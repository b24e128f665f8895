/**
 * Token endpoint errors sent with status 200. RFC 6749 §5.2 says 400, and openid-client insists; GitHub (and
 * GitHub Enterprise Server) answers a refused code or refresh token with `200 {"error": "bad_verification_code", ...}`
 * instead. A JSON body with an `error` and no `access_token` cannot be a token, whatever its status, so it is
 * handed on as the 400 it means: the usual TokenEndpointError with the IdP's code follows, not a puzzling
 * "invalid response". Applied to the token endpoint only (provider.ts), for every IdP: no per-provider switch.
 */

/** `response` itself, or a 400 with the same body and headers when it is a 200 error body. @private */
export async function tokenErrorWithStatus(response: Response): Promise<Response> {
  if (response.status !== 200 || !/\bjson\b/i.test(response.headers.get('content-type') ?? '')) return response;
  const text = await response.clone().text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return response;
  }
  if (typeof body !== 'object' || body === null || typeof (body as { error?: unknown }).error !== 'string' || 'access_token' in body) return response;
  return new Response(text, { status: 400, statusText: 'Bad Request', headers: response.headers });
}
