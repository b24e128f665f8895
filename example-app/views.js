// @ts-check
/**
 * The example app's HTML pages. Plain template strings, no framework: every value that comes from the outside
 * (claims, error messages) goes through `esc()`. Styles and scripts live in public/ so the pages can run under a
 * strict Content-Security-Policy (no inline script or style).
 */

const ENTITIES = /** @type {Record<string, string>} */ ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' });

/** Escapes any value for HTML text and attribute values. */
export const esc = (/** @type {unknown} */ value) => String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

/**
 * The common page frame; `recorded` (METRICS=1 only) adds the "what the middleware recorded" panel.
 * @param {{ title: string, body: string, loggedIn?: boolean, recorded?: import('./telemetry.js').Recorded }} page
 */
function layout({ title, body, loggedIn = false, recorded }) {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width,initial-scale=1">
  <title>${esc(title)} · express-oauth-login example</title>
  <link rel="stylesheet" href="/assets/app.css">
  <script src="/assets/app.js" defer></script>
</head>
<body>
  <header class="bar">
    <a class="brand" href="/">express-oauth-login <span>example</span></a>
    <nav>
      <a href="/profile">Profile</a>
      ${loggedIn ? '<a href="/sessions">Your sessions</a>' : ''}
      ${
        loggedIn
          ? // A POST from this page's own origin: the logout route accepts it (no other site can send one).
            `<form method="post" action="/logout"><button class="link" type="submit">Log out</button></form>`
          : `<a class="button small" href="/login?returnTo=%2Fprofile">Log in</a>`
      }
    </nav>
  </header>
  <main>
${body}${recorded ? recordedPanel(recorded) : ''}
  </main>
  <footer>Tokens stay on the server: this page only ever holds an opaque session cookie.</footer>
</body>
</html>`;
}

/**
 * METRICS=1: what express-oauth-login recorded into OpenTelemetry so far (the same numbers GET /metrics serves),
 * and its latest spans. No value here can be a token, code, session id, e-mail or sub: the middleware never
 * records one.
 * @param {import('./telemetry.js').Recorded} recorded
 */
function recordedPanel({ metrics, spans }) {
  const metricRows = metrics
    .map((m) => `<tr><td><code>${esc(m.name)}</code></td><td class="hint">${esc(m.labels)}</td><td>${esc(m.value)}</td></tr>`)
    .join('\n          ');
  const spanRows = spans
    .map((s) => `<tr><td><code>${esc(s.name)}</code></td><td class="hint">${esc(s.labels)}</td><td>${esc(s.ms)} ms, ${esc(s.status)}</td></tr>`)
    .join('\n          ');
  return `
    <section class="card recorded" id="recorded">
      <h2>What the middleware recorded</h2>
      <p class="hint">OpenTelemetry metrics (also at <a href="/metrics"><code>/metrics</code></a>, Prometheus format) and the
      latest spans. Reload after logging in, refreshing or logging out.</p>
      <table class="claims">
        <tbody>
          ${metricRows || '<tr><td>Nothing yet: log in.</td></tr>'}
        </tbody>
      </table>
      <h3>Latest spans</h3>
      <table class="claims">
        <tbody>
          ${spanRows || '<tr><td>None yet.</td></tr>'}
        </tbody>
      </table>
    </section>`;
}

/**
 * The home page: what the app is and a Log in button.
 * @param {{ idp: { issuer: string, users: string[], github?: boolean } | undefined, recorded?: import('./telemetry.js').Recorded }} info the embedded IdP, if it runs
 */
export function homePage({ idp, recorded }) {
  const demo = !idp
    ? ''
    : idp.github
      ? `<p class="hint">The app signs you in with GitHub, played by a local stand-in (${esc(idp.issuer)}): plain OAuth 2.0,
       the user comes from its /user API. Accounts: ${idp.users.map((u) => `<code>${esc(u)}</code>`).join(', ')} (no password).</p>`
      : `<p class="hint">The app signs you in at an embedded demo identity provider (${esc(idp.issuer)}).
       Demo users: ${idp.users.map((u) => `<code>${esc(u)}</code> / <code>${esc(u)}-password</code>`).join(', ')}.</p>`;
  return layout({
    title: 'Home',
    ...(recorded && { recorded }),
    body: `
    <section class="card hero">
      <h1>Log in with your identity provider</h1>
      <p>This small Express app uses <code>express-oauth-login</code>: the OAuth 2.0 authorization code flow with
      PKCE and OpenID Connect. Pressing the button takes you to the identity provider's sign-in page and back.</p>
      <p><a class="button" href="/login?returnTo=%2Fprofile">Log in</a>
         <a class="button secondary" href="/profile">Go to my profile</a></p>
      ${demo}
    </section>`,
  });
}

/**
 * The protected profile page: claims, access token expiry (with a live countdown), a button that calls the
 * protected JSON API, and a one-click logout link.
 * @param {import('express-oauth-login').AuthenticatedUser} user
 * @param {string} logoutHref from logoutUrl(req): the logout route with this session's logout token
 * @param {import('./telemetry.js').Recorded} [recorded] METRICS=1: the "what the middleware recorded" panel
 */
export function profilePage(user, logoutHref, recorded) {
  const claims = Object.entries(user.claims)
    .map(([name, value]) => {
      const shown = name === 'exp' || name === 'iat' || name === 'auth_time' ? `${value} (${isoTime(value)})` : display(value);
      return `<tr><th scope="row">${esc(name)}</th><td>${esc(shown)}</td></tr>`;
    })
    .join('\n          ');
  const name = user.claims.name ?? user.claims.email ?? user.sub;
  const expiry =
    user.expiresAt === undefined
      ? '<p>The identity provider did not say when the access token expires.</p>'
      : `<p class="countdown">Expires in <strong id="countdown" data-expires-at="${esc(user.expiresAt)}">…</strong>
        <span class="hint">(at <time datetime="${esc(isoTime(user.expiresAt))}">${esc(isoTime(user.expiresAt))}</time>)</span></p>
      <p class="hint"><code>requireAuth()</code> refreshes it with the refresh token shortly before it expires, on the
      next request: reload the page after the countdown to see a new expiry.</p>`;
  return layout({
    title: 'Profile',
    loggedIn: true,
    ...(recorded && { recorded }),
    body: `
    <h1>Hello, ${esc(name)}</h1>
    <div class="grid">
      <section class="card">
        <h2>Access token</h2>
        ${expiry}
        <p class="hint">Refresh token: ${user.refreshToken ? 'yes' : 'none'} · Scope: <code>${esc(user.scope ?? 'not reported')}</code></p>
      </section>
      <section class="card">
        <h2>Protected API</h2>
        <p><code>GET /api/userinfo</code> is protected by <code>requireAuth()</code>. On the server it calls the
        identity provider's UserInfo endpoint with your access token and returns the answer.</p>
        <button id="call-api" type="button">Call the API</button>
        <pre id="api-result" aria-live="polite">Not called yet.</pre>
      </section>
    </div>
    <section class="card">
      <h2>Signing out</h2>
      <p>The <strong>Log out</strong> button above posts a form; this <a id="logout-link" href="${esc(logoutHref)}">plain
      link</a> works in one click too, because it carries this session's logout token (<code>logoutUrl(req)</code>).
      A link to <code>/logout</code> from any other site only reaches a confirmation page.</p>
    </section>
    <section class="card">
      <h2>ID token claims</h2>
      <table class="claims">
        <tbody>
          ${claims}
        </tbody>
      </table>
    </section>`,
  });
}

/**
 * "Your sessions": every browser the user is signed in with (listSessions()), each with a form that ends it, and
 * one that ends all the others. Every form carries the session's form token (sessionFormToken(req)); the POST
 * handler checks it and the request's origin (isSessionFormRequest), so no other site can end a session.
 * @param {import('express-oauth-login').SessionInfo[]} sessions
 * @param {string} token
 */
export function sessionsPage(sessions, token) {
  const hidden = `<input type="hidden" name="token" value="${esc(token)}">`;
  const rows = sessions
    .map(
      (s) => `<tr${s.current ? ' class="current"' : ''}>
          <td>${esc(s.userAgent)}${s.current ? ' <strong>(this browser)</strong>' : ''}</td>
          <td><time datetime="${esc(isoTime(s.createdAt))}">${esc(isoTime(s.createdAt))}</time></td>
          <td><time datetime="${esc(isoTime(s.lastSeenAt))}">${esc(isoTime(s.lastSeenAt))}</time></td>
          <td><form method="post" action="/sessions/end">${hidden}<input type="hidden" name="handle" value="${esc(s.handle)}">
            <button class="link" type="submit">${s.current ? 'Sign out here' : 'End'}</button></form></td>
        </tr>`,
    )
    .join('\n        ');
  return layout({
    title: 'Your sessions',
    loggedIn: true,
    body: `
    <h1>Your sessions</h1>
    <section class="card">
      <table id="sessions">
        <thead><tr><th>Browser</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead>
        <tbody>
        ${rows}
        </tbody>
      </table>
      <form method="post" action="/sessions/end">${hidden}<input type="hidden" name="all" value="others">
        <button type="submit" id="end-others">Log out everywhere else</button></form>
      <p class="hint">Ending a session signs that browser out at its next request and revokes its tokens at the
      identity provider. <a href="/logout">Log out</a> ends this one (and your sign-in at the identity provider).</p>
    </section>`,
  });
}

/**
 * The app's own error page (the "custom error page" recipe): every express-oauth-login error has a status, a
 * stable code and a message written for the person in front of the browser.
 * @param {{ status: number, code?: string, message: string, retry: boolean, signOut?: boolean }} err signOut: a
 *   refused logout (`logout_refused`, `logout_state_invalid`), which offers the confirmation page instead
 */
export function errorPage({ status, code, message, retry, signOut = false }) {
  const title = status >= 500 ? 'Something went wrong on our side' : signOut ? 'Sign-out problem' : 'We could not sign you in';
  return layout({
    title: 'Something went wrong',
    body: `
    <section class="card error">
      <h1>${title}</h1>
      <p>${esc(message)}</p>
      ${code ? `<p class="hint">Error code: <code>${esc(code)}</code> · HTTP ${esc(status)}</p>` : ''}
      <p>${retry ? '<a class="button" href="/login?returnTo=%2Fprofile">Try again</a> ' : ''}${
        code === 'logout_refused' ? '<a class="button" href="/logout">Sign out</a> ' : ''
      }<a class="button secondary" href="/">Home</a></p>
    </section>`,
  });
}

/** @param {unknown} value */
function display(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** @param {unknown} seconds since the epoch */
function isoTime(seconds) {
  const n = Number(seconds);
  return Number.isFinite(n) ? new Date(n * 1000).toISOString().replace('.000Z', 'Z') : String(seconds);
}
