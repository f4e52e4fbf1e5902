// The silence list: active first, then those ended within the hour, each with who, why, what it covers and Expire.
import type { Silence } from '../../../contract/frames.js';
import { expireSilence } from './commands.js';
import { $, button, el, setChips, setText, syncChildren, withParts, type WithParts } from './dom.js';
import { fmtAge, fmtCount } from './format.js';
import { clockTime, matcherText, matchesAll, silenceActive } from './matching.js';
import { serverNow, state } from './state.js';

/** Ended silences stay listed (dimmed, with who and why) this long. */
const EXPIRED_SILENCE_KEEP_MS = 60 * 60_000;

type SilenceItem = WithParts<HTMLDivElement, { matchers: HTMLElement; meta: HTMLElement; comment: HTMLElement; expire: HTMLButtonElement }>;

/** How many alerts a silence covers, and whether that is all of them or only those this screen holds. */
interface Coverage {
  count: number;
  all: boolean;
}

function createSilenceItem(): SilenceItem {
  const item = el('div', 'silence');
  item.dataset.testid = 'silence-item';
  const matchers = el('div', 'chips');
  matchers.dataset.testid = 'silence-matchers';
  const meta = el('div', 'silence-meta');
  meta.dataset.testid = 'silence-meta';
  const comment = el('div', 'silence-comment');
  comment.dataset.testid = 'silence-comment';
  const expire = button('button secondary small', 'Expire', 'silence-expire', () => expireSilence(item.dataset.silenceId, expire));
  const body = el('div', 'silence-body');
  body.append(matchers, meta, comment);
  item.append(body, expire);
  return withParts(item, { matchers, meta, comment, expire });
}

function updateSilenceItem(item: SilenceItem, silence: Silence, now: number, covered: Coverage): void {
  const p = item.parts;
  const active = silenceActive(silence, now);
  const ended = silence.endsAt <= now;
  item.dataset.silenceId = silence.id;
  item.dataset.state = active ? 'active' : ended ? 'expired' : 'pending';
  item.className = `silence ${item.dataset.state}`;
  setChips(p.matchers, silence.matchers.map(matcherText));
  const when = active ? `ends in ${fmtAge(silence.endsAt - now)} (${clockTime(silence.endsAt)})` : ended ? `ended ${fmtAge(now - silence.endsAt)} ago` : `starts in ${fmtAge(silence.startsAt - now)}`;
  const { count, all } = covered;
  const hits = active ? ` · covers ${fmtCount(count)} alert${count === 1 ? '' : 's'}${all ? '' : ' shown here'}` : '';
  setText(p.meta, `${silence.createdBy} · ${when}${hits}`);
  setText(p.comment, silence.comment);
  p.comment.title = silence.comment;
  p.expire.hidden = state.role !== 'responder' || ended;
  const pending = state.expirePending.has(silence.id);
  p.expire.disabled = pending;
  setText(p.expire, pending ? 'Expiring…' : 'Expire');
}

/** `silenced`: alert id → the active silences that match it (matching.ts `silencedMap`), shared with the alert feed. */
export function renderSilences(silenced: Map<string, Silence[]>): void {
  const now = serverNow();
  const shown = state.silences
    .filter((s) => s.endsAt > now - EXPIRED_SILENCE_KEEP_MS)
    .sort((a, b) => Number(a.endsAt <= now) - Number(b.endsAt <= now) || a.endsAt - b.endsAt);
  const matched = new Map<string, number>();
  for (const hits of silenced.values()) for (const s of hits) matched.set(s.id, (matched.get(s.id) ?? 0) + 1);
  const coverage = (silence: Silence): Coverage => {
    const shownHere = matched.get(silence.id) ?? 0;
    // A silence on rule and campaign covers whole customer groups, most of which this screen may never have received:
    // the processor's group counts say how many.
    if (!silence.matchers.every((m) => m.name === 'alertname' || m.name === 'campaign')) return { count: shownHere, all: false };
    let inGroups = 0;
    for (const g of state.stats?.alerts?.customerGroups ?? []) {
      if (matchesAll(silence.matchers, { alertname: g.rule, campaign: g.campaign ?? '' })) inGroups += g.firing + g.pending;
    }
    return inGroups > shownHere ? { count: inGroups, all: true } : { count: shownHere, all: false };
  };
  syncChildren($('silence-list'), shown, (s) => s.id, createSilenceItem, (item, s) => updateSilenceItem(item, s, now, coverage(s)));
  $('silence-empty').hidden = shown.length > 0;
  const active = shown.filter((s) => silenceActive(s, now)).length;
  setText($('silence-count'), shown.length ? `${active} active` : '');
}
