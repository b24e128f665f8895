// The example app's only script: the access token countdown and the "Call the API" button on the profile page.
// Served as a file (not inline) so the pages run under `Content-Security-Policy: script-src 'self'`.

const countdown = document.getElementById('countdown');
if (countdown) {
  const expiresAt = Number(countdown.dataset.expiresAt) * 1000;
  const tick = () => {
    const left = Math.round((expiresAt - Date.now()) / 1000);
    countdown.textContent =
      left > 0 ? `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'expired: reload to refresh it';
  };
  tick();
  setInterval(tick, 1000);
}

const button = document.getElementById('call-api');
const result = document.getElementById('api-result');
if (button && result) {
  button.addEventListener('click', async () => {
    result.textContent = 'Calling GET /api/userinfo …';
    try {
      // Same-origin fetch: the browser sends the session cookie; the access token never leaves the server.
      const res = await fetch('/api/userinfo', { headers: { Accept: 'application/json' } });
      const body = await res.json().catch(() => null);
      result.textContent = `HTTP ${res.status}\n${JSON.stringify(body, null, 2)}`;
    } catch (err) {
      result.textContent = `The request failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  });
}
