// The header and the banner: connection state, role, the stale marker and the clock.
import { $, setText } from './dom.js';
import { fmtAge } from './format.js';
import { state } from './state.js';

/** No frame for this long marks the page stale: the numbers are old even though the socket may look open. */
const STALE_AFTER_MS = 5_000;

export function renderStatus(): void {
  const now = Date.now();
  const conn = $('conn');
  const connState = state.connected ? 'live' : state.attempt > 0 ? 'offline' : 'connecting';
  conn.dataset.state = connState;
  setText(conn.querySelector('span')!, connState === 'live' ? 'live' : connState === 'offline' ? 'offline' : 'connecting');
  const role = $('role');
  role.hidden = !state.role;
  setText(role, state.role ?? '');
  const banner = $('banner');
  banner.hidden = state.connected || state.attempt === 0;
  if (!banner.hidden) {
    const wait = Math.max(0, Math.ceil((state.reconnectAt - now) / 1_000));
    setText($('banner-detail'), wait > 0 ? `Reconnecting in ${wait}s (attempt ${state.attempt}). The numbers below are frozen.` : 'Reconnecting now…');
  }
  const staleFor = state.lastFrameAt ? now - state.lastFrameAt : 0;
  const stale = state.lastFrameAt > 0 && staleFor > STALE_AFTER_MS;
  const marker = $('stale');
  marker.hidden = !stale;
  if (stale) setText(marker, `STALE · no update for ${fmtAge(staleFor)}`);
  document.body.classList.toggle('stale', stale);
  document.body.classList.toggle('offline', connState === 'offline');
  setText($('clock'), new Date(now).toLocaleTimeString('en-GB', { hour12: false }));
}
