/**
 * Logging out as a browser does: the headers a browser sends with a same-origin form POST, the app's
 * auto-submitting end-session form, and the IdP's own "sign out?" page (oidc-provider's, see example-app/idp.js).
 */
import { type Browser, type Hop, formAction, hiddenInputs } from './browser.js';

/** The origin headers a browser sends with a form POST from one of the app's own pages. */
export const sameOrigin = (appUrl: string): Record<string, string> => ({ origin: new URL(appUrl).origin, 'sec-fetch-site': 'same-origin' });

/** POST {app}/logout from the app's own page (or with the given headers and form body). */
export function postLogout(browser: Browser, appUrl: string, headers = sameOrigin(appUrl), body?: URLSearchParams): Promise<Hop> {
  return browser.request(`${appUrl}/logout`, { method: 'POST', headers, ...(body && { body }) });
}

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The auto-submitting end-session form of a logout answer: where it posts and what. */
export function endSessionForm(hop: Hop): { action: string; fields: URLSearchParams } {
  if (hop.status !== 200 || !hop.body.includes('id="end-session"')) throw new Error(`not an end-session page: ${hop.status} ${hop.body.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const [name, value] of hiddenInputs(hop.body)) fields.set(name, unescape(value));
  return { action: formAction(hop.body, hop.url), fields };
}

/** The confirmation page's form: its action and the logout token it carries. */
export function confirmationForm(hop: Hop): { action: string; token: string } {
  if (hop.status !== 200 || !hop.body.includes('<h1>Sign out?</h1>')) throw new Error(`not the confirmation page: ${hop.status} ${hop.body.slice(0, 300)}`);
  return { action: formAction(hop.body, hop.url), token: hiddenInputs(hop.body).get('confirm') ?? '' };
}

/**
 * Submits the app's end-session form to the IdP as the browser would (a POST), says "Yes, sign me out" on the
 * IdP's page, and follows the redirects back. Returns every hop after the app's page.
 */
export async function confirmAtIdp(browser: Browser, page: Hop): Promise<Hop[]> {
  const { action, fields } = endSessionForm(page);
  const hops = await browser.navigate(action, { method: 'POST', body: fields });
  const confirm = hops.at(-1)!;
  if (confirm.status !== 200) throw new Error(`the IdP did not ask to confirm: ${confirm.status} ${confirm.url}`);
  const form = hiddenInputs(confirm.body);
  form.set('logout', 'yes');
  return [...hops, ...(await browser.navigate(formAction(confirm.body, confirm.url), { method: 'POST', body: form }))];
}

/**
 * Signs the browser out at the IdP itself (its own end-session page, confirmed), as a user would in another tab,
 * then waits until the IdP reports one more successful back-channel logout delivery (oidc-provider's
 * `backchannel.success` event, recorded in `events`); fails after 5 s without it.
 */
export async function signOutAtIdp(browser: Browser, idp: { issuer: string; events: string[] }, clientId: string): Promise<void> {
  const delivered = () => idp.events.filter((e) => e === 'backchannel.success').length;
  const before = delivered();
  const confirm = (await browser.navigate(`${idp.issuer}/session/end?client_id=${clientId}`)).at(-1)!;
  const form = hiddenInputs(confirm.body);
  form.set('logout', 'yes');
  await browser.navigate(formAction(confirm.body, confirm.url), { method: 'POST', body: form });
  const until = Date.now() + 5000;
  while (delivered() === before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  if (delivered() !== before + 1) throw new Error(`expected one back-channel logout delivery, saw ${delivered() - before}`);
}
