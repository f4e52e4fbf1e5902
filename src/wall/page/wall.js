// The wall page's behaviour: one WebSocket, state replaced by snapshots and patched by flushes, rendered at most once a frame.
// Plain browser ES module with no build step; every text from the server goes in through textContent, never as HTML.
import uPlot from './uPlot.esm.js';
import { RE2JS } from './re2js.js';

const STALE_AFTER_MS = 5_000;
const PING_EVERY_MS = 15_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const HISTORY_POINTS = 600;
const MAX_FEED_ITEMS = 60;
/** Customer alerts of one rule and campaign collapse into one group card from this many on. */
const GROUP_MIN = 3;
const MAX_GROUP_CHIPS = 6;
const MAX_GROUP_MEMBERS_SHOWN = 40;
/** Ended silences stay listed (dimmed, with who and why) this long. */
const EXPIRED_SILENCE_KEEP_MS = 60 * 60_000;
const MAX_OVERLOAD_ROWS = 30;
/** Resolved alerts leave the page after this long, so a week-old screen does not hoard them. */
const RESOLVED_KEEP_MS = 60 * 60_000;

const params = new URLSearchParams(location.search);
const token = params.get('token');
const ackBy = params.get('by');

const state = {
  role: null,
  stats: null,
  history: { t: [], eps: [], lag: [] },
  atRisk: [],
  overload: [],
  alerts: new Map(),
  ackPending: new Set(),
  silences: [],
  expirePending: new Set(),
  /** Group cards the person opened, by key. */
  expanded: new Set(),
  /** Server clock minus ours, from hello: silences are stamped in server time. */
  serverOffset: 0,
  lastFrameAt: 0,
  connected: false,
  reconnectAt: 0,
  attempt: 0,
};

// ---------- formatting ----------

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
// Three significant digits: 1.02M active customers, not 1M.
const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });

function fmtCount(n) {
  if (!Number.isFinite(n)) return '–';
  return Math.abs(n) < 10_000 ? intFmt.format(n) : compactFmt.format(n);
}

function fmtNumber(n) {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 10_000) return compactFmt.format(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** [value, unit] so the unit can be drawn smaller. */
function durationParts(ms) {
  if (!Number.isFinite(ms)) return ['–', ''];
  if (ms < 1_000) return [intFmt.format(ms), 'ms'];
  if (ms < 60_000) return [(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1), 's'];
  if (ms < 3_600_000) return [`${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1_000)).padStart(2, '0')}`, 'min'];
  return [(ms / 3_600_000).toFixed(1), 'h'];
}

/** Short axis labels: 10 ms, 2.5 s, 3 min, 28 h, 35 d. */
function fmtAxisDuration(ms) {
  const trim = (n) => String(Number(n.toPrecision(2)));
  if (ms < 1_000) return `${trim(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1_000)} s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${trim(ms / 3_600_000)} h`;
  return `${trim(ms / 86_400_000)} d`;
}

function fmtAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function fmtUptime(seconds) {
  return fmtAge(seconds * 1_000);
}

// ---------- DOM helpers ----------

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Reasons as chips; beyond `limit` one "+n" chip whose tooltip lists the rest. */
function setChips(container, reasons, limit = Infinity) {
  const joined = reasons.join('\u0000');
  if (container.dataset.reasons === joined) return;
  container.dataset.reasons = joined;
  const shown = reasons.slice(0, limit).map((reason) => {
    const chip = el('span', 'chip', reason);
    chip.title = reason;
    return chip;
  });
  if (reasons.length > limit) {
    const more = el('span', 'chip more', `+${reasons.length - limit}`);
    more.title = reasons.slice(limit).join('\n');
    shown.push(more);
  }
  container.replaceChildren(...shown);
}

/** Keyed update in place: rows keep their identity, so a click or hover survives a re-render. */
function syncChildren(container, items, keyOf, create, update) {
  const wanted = new Set(items.map(keyOf));
  for (const child of [...container.children]) if (!wanted.has(child.dataset.key)) child.remove();
  const existing = new Map([...container.children].map((child) => [child.dataset.key, child]));
  items.forEach((item, index) => {
    const key = keyOf(item);
    let node = existing.get(key);
    if (!node) {
      node = create(item);
      node.dataset.key = key;
    }
    update(node, item);
    const at = container.children[index];
    if (at !== node) container.insertBefore(node, at ?? null);
  });
}

// ---------- state updates ----------

function pushHistory(stats) {
  const h = state.history;
  const t = stats.ts / 1_000;
  const last = h.t.length - 1;
  if (last >= 0 && t < h.t[last]) return;
  if (last >= 0 && t === h.t[last]) {
    h.eps[last] = stats.eventsPerSec;
    h.lag[last] = stats.lagMs;
    return;
  }
  h.t.push(t);
  h.eps.push(stats.eventsPerSec);
  h.lag.push(stats.lagMs);
  if (h.t.length > HISTORY_POINTS) {
    h.t.shift();
    h.eps.shift();
    h.lag.shift();
  }
}

function applySnapshot(snapshot) {
  state.stats = snapshot.stats;
  state.history = { t: [], eps: [], lag: [] };
  for (const stats of [...snapshot.statsHistory].sort((a, b) => a.ts - b.ts)) pushHistory(stats);
  pushHistory(snapshot.stats);
  state.atRisk = snapshot.atRisk;
  state.overload = snapshot.overload;
  state.alerts = new Map(snapshot.alerts.map((alert) => [alert.id, alert]));
  for (const id of state.ackPending) if (state.alerts.get(id)?.acknowledged) state.ackPending.delete(id);
  setSilences(snapshot.silences ?? []);
}

function setSilences(silences) {
  state.silences = silences;
  const now = serverNow();
  for (const id of state.expirePending) {
    const silence = silences.find((s) => s.id === id);
    if (!silence || silence.endsAt <= now) state.expirePending.delete(id);
  }
}

function applyFrame(frame) {
  switch (frame.type) {
    case 'snapshot':
      applySnapshot(frame);
      break;
    case 'stats':
      state.stats = frame.stats;
      pushHistory(frame.stats);
      break;
    case 'alert':
      state.alerts.set(frame.alert.id, frame.alert);
      if (frame.alert.acknowledged) state.ackPending.delete(frame.alert.id);
      break;
    case 'at_risk':
      state.atRisk = frame.atRisk;
      break;
    case 'overload':
      state.overload = frame.overload;
      break;
    case 'silences':
      setSilences(frame.silences);
      break;
  }
}

// ---------- rendering ----------

function renderTile(id, value, unit, sub, level) {
  const tile = $(id);
  const valueNode = tile.querySelector('.tile-value');
  const key = `${value}\u0000${unit}`;
  if (valueNode.dataset.shown !== key) {
    valueNode.dataset.shown = key;
    valueNode.replaceChildren(document.createTextNode(value));
    if (unit) valueNode.append(el('small', '', unit));
  }
  setText(tile.querySelector('.tile-sub'), sub);
  tile.classList.toggle('level-warning', level === 'warning');
  tile.classList.toggle('level-critical', level === 'critical');
}

function renderTiles() {
  const s = state.stats;
  if (!s) return;
  renderTile('tile-eps', fmtCount(s.eventsPerSec), '', `${fmtCount(s.eventsTotal)} events in total`);
  $('tile-eps').dataset.value = String(s.eventsPerSec);
  const [lagValue, lagUnit] = durationParts(s.lagMs);
  const lagLevel = s.lagMs >= 30_000 ? 'critical' : s.lagMs >= 5_000 ? 'warning' : null;
  renderTile('tile-lag', lagValue, lagUnit, `${fmtCount(s.pending)} pending in stream`, lagLevel);
  $('tile-lag').dataset.value = String(s.lagMs);
  renderTile('tile-active', fmtCount(s.activeCustomers), '', `up ${fmtUptime(s.uptimeS)}`);
  $('tile-active').dataset.value = String(s.activeCustomers);
  renderTile('tile-rejected', fmtCount(s.rejectedTotal), '', `${fmtCount(s.lateTotal)} late`);
  $('tile-rejected').dataset.value = String(s.rejectedTotal);
  renderTile('tile-ch', fmtCount(s.clickhouseBufferedRows), 'rows', 'waiting to be written');
  $('tile-ch').dataset.value = String(s.clickhouseBufferedRows);
}

// ---------- silences: which alerts they hide (the same matchers as src/alerts/silences.ts) ----------

function serverNow() {
  return Date.now() + state.serverOffset;
}

const regexCache = new Map();
function anchoredRegex(source) {
  if (!regexCache.has(source)) {
    if (regexCache.size >= 2_000) regexCache.clear();
    let re = null;
    try {
      // RE2, as the processor: linear time whatever the pattern and the label value.
      re = RE2JS.compile(`^(?:${source})$`);
    } catch {
      re = null;
    }
    regexCache.set(source, re);
  }
  return regexCache.get(source);
}

function matcherMatches(m, labels) {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return anchoredRegex(m.value)?.matches(v) ?? false;
    case '!~':
      return !(anchoredRegex(m.value)?.matches(v) ?? false);
    default:
      return false;
  }
}

// The page's clock is the server's estimated from frame timestamps; a silence made "now" can look a few ms
// in the future from here, so starting within this tolerance counts as started.
const CLOCK_TOLERANCE_MS = 2_000;

function silenceActive(silence, now) {
  return now >= silence.startsAt - CLOCK_TOLERANCE_MS && now < silence.endsAt;
}

function matchesAll(matchers, labels) {
  return matchers.every((m) => matcherMatches(m, labels ?? {}));
}

/** alert id → the active silences that match it; the page's own view, so an expired silence unmarks at once. */
function silencedMap(now) {
  const active = state.silences.filter((s) => silenceActive(s, now));
  const out = new Map();
  if (active.length === 0) return out;
  for (const alert of state.alerts.values()) {
    const hits = active.filter((s) => matchesAll(s.matchers, alert.labels));
    if (hits.length) out.set(alert.id, hits);
  }
  return out;
}

function matcherText(m) {
  return `${m.name} ${m.op} ${m.value}`;
}

function clockTime(ms) {
  return new Date(ms - state.serverOffset).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
}

// ---------- the alert feed ----------

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

/** Unacknowledged, unsilenced firing first; then firing that someone owns (acknowledged or silenced); pending; resolved. */
function alertRank(alert, silenced) {
  if (alert.state === 'firing') return alert.acknowledged || silenced.has(alert.id) ? 1 : 0;
  return alert.state === 'pending' ? 2 : 3;
}

function itemOrder(a, b) {
  return a.rank - b.rank || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.updatedAt - a.updatedAt;
}

/**
 * Entity and processor alerts are one card each. Customer alerts of one rule and campaign become one group card once
 * there are GROUP_MIN of them, so 300 tired customers of one campaign are one line, not 300 cards over the campaign alert.
 * The counts come from the processor's totals (stats.alerts) when it sends them: a snapshot holds only the latest alerts.
 */
function feedItems(silenced) {
  const items = [];
  const groups = new Map();
  const groupOf = (rule, campaign) => {
    const key = `${rule}|${campaign}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { rule, campaign, members: [], counts: null }));
    return group;
  };
  for (const alert of state.alerts.values()) {
    if (alert.subject.kind === 'customer') groupOf(alert.rule, alert.labels?.campaign ?? '').members.push(alert);
    else items.push(alertItem(alert, silenced));
  }
  for (const counts of state.stats?.alerts?.customerGroups ?? []) groupOf(counts.rule, counts.campaign ?? '').counts = counts;
  for (const [key, group] of groups) {
    const total = group.counts ? group.counts.firing + group.counts.pending : 0;
    if (Math.max(group.members.length, total) < GROUP_MIN) {
      for (const alert of group.members) items.push(alertItem(alert, silenced));
      continue;
    }
    const members = group.members.map((alert) => ({ alert, rank: alertRank(alert, silenced) }));
    members.sort((x, y) => x.rank - y.rank || y.alert.value - x.alert.value);
    const c = group.counts;
    // Without members on this screen the rank comes from the counts: someone must look while any firing alert is unowned.
    const countsRank = c ? (c.firing > c.acknowledged + c.silenced ? 0 : c.firing > 0 ? 1 : 2) : 3;
    items.push({
      kind: 'group',
      key: `group:${key}`,
      groupKey: key,
      rule: group.rule,
      campaign: group.campaign,
      members: members.map((m) => m.alert),
      counts: c,
      rank: Math.min(countsRank, ...members.map((m) => m.rank)),
      severity: members.map((m) => m.alert.severity).sort((x, y) => SEVERITY_RANK[x] - SEVERITY_RANK[y])[0] ?? 'warning',
      updatedAt: Math.max(0, ...group.members.map((a) => a.updatedAt)),
    });
  }
  return items.sort(itemOrder);
}

function alertItem(alert, silenced) {
  return { kind: 'alert', key: alert.id, alert, rank: alertRank(alert, silenced), severity: alert.severity, updatedAt: alert.updatedAt };
}

function button(className, text, testid, onClick) {
  const node = el('button', className, text);
  node.type = 'button';
  if (testid) node.dataset.testid = testid;
  node.addEventListener('click', onClick);
  return node;
}

function createFeedItem(item) {
  return item.kind === 'group' ? createGroupCard() : createAlertCard();
}

function updateFeedItem(node, item, ctx) {
  if (item.kind === 'group') updateGroupCard(node, item, ctx);
  else updateAlertCard(node, item.alert, ctx);
}

function createAlertCard() {
  const card = el('article', 'alert');
  card.dataset.testid = 'alert-card';
  const head = el('div', 'alert-head');
  const sev = el('span', 'sev');
  const st = el('span', 'state');
  st.dataset.testid = 'alert-state';
  const silencedBadge = el('span', 'badge silenced-badge', 'silenced');
  silencedBadge.dataset.testid = 'alert-silenced';
  const age = el('span', 'age');
  const title = el('div', 'alert-title');
  title.dataset.testid = 'alert-subject';
  head.append(sev, st, silencedBadge, title, age);
  const summary = el('div', 'alert-summary');
  // One line under the head: the value against its threshold, then the reasons.
  const detail = el('div', 'alert-detail');
  const value = el('span', 'alert-value');
  value.dataset.testid = 'alert-value';
  const chips = el('span', 'chips');
  detail.append(value, chips);
  const foot = el('div', 'alert-foot');
  const ackButton = button('button small ack-button', 'Acknowledge', 'alert-ack-button', () => acknowledge(card.dataset.alertId, ackButton));
  const silenceButton = button('button small secondary', 'Silence…', 'alert-silence-button', () => {
    const alert = state.alerts.get(card.dataset.alertId);
    if (alert) openSilenceDialog(alertSilenceTarget(alert));
  });
  const acked = el('span', 'acked-by');
  acked.dataset.testid = 'alert-acknowledged';
  const silencedNote = el('span', 'silenced-note');
  foot.append(ackButton, silenceButton, acked, silencedNote);
  card.append(head, summary, detail, foot);
  card.parts = { sev, st, silencedBadge, age, title, summary, value, chips, ackButton, silenceButton, acked, silencedNote, foot };
  return card;
}

function updateAlertCard(card, alert, ctx) {
  const p = card.parts;
  const now = Date.now();
  const silences = ctx.silenced.get(alert.id) ?? [];
  card.className = `alert sev-${alert.severity} state-${alert.state}${alert.acknowledged ? ' acked' : ''}${silences.length ? ' silenced' : ''}`;
  card.dataset.alertId = alert.id;
  card.dataset.state = alert.state;
  card.dataset.silenced = silences.length ? 'true' : 'false';
  setText(p.sev, alert.severity);
  setText(p.st, alert.state);
  p.silencedBadge.hidden = silences.length === 0;
  const since = alert.state === 'resolved' && alert.endsAt ? `resolved ${fmtAge(now - alert.endsAt)} ago` : `${fmtAge(now - alert.startsAt)}`;
  setText(p.age, since);
  const titleKey = `${alert.rule}|${alert.subject.kind}|${alert.subject.key}`;
  if (p.title.dataset.shown !== titleKey) {
    p.title.dataset.shown = titleKey;
    // The rule's name already says what kind of subject it is about (campaign overload, customer churn risk).
    p.title.replaceChildren(document.createTextNode(alert.subject.key), el('span', 'subject-kind', ` · ${alert.rule.replaceAll('_', ' ')}`));
    p.title.title = `${alert.subject.kind} ${alert.subject.key} · ${alert.rule}`;
  }
  // The engine's default summary repeats the title and the value line; show only a rule's own words.
  const ownSummary = alert.summary && !alert.summary.startsWith(`${alert.subject.kind} ${alert.subject.key}:`) ? alert.summary : '';
  setText(p.summary, ownSummary);
  p.summary.hidden = !ownSummary;
  const valueKey = `${alert.value}|${alert.threshold}`;
  if (p.value.dataset.shown !== valueKey) {
    p.value.dataset.shown = valueKey;
    p.value.replaceChildren(el('b', '', fmtNumber(alert.value)), document.createTextNode(` vs ${fmtNumber(alert.threshold)}`));
    p.value.title = `value ${alert.value} against the threshold ${alert.threshold}`;
  }
  setChips(p.chips, alert.reasons, 2);
  const responder = state.role === 'responder';
  const canAck = responder && !alert.acknowledged && alert.state !== 'resolved';
  p.ackButton.hidden = !canAck;
  const pending = state.ackPending.has(alert.id);
  p.ackButton.disabled = pending;
  setText(p.ackButton, pending ? 'Acknowledging…' : 'Acknowledge');
  const canSilence = responder && alert.state !== 'resolved' && silences.length === 0;
  p.silenceButton.hidden = !canSilence;
  p.acked.hidden = !alert.acknowledged;
  setText(p.acked, alert.acknowledged ? `✓ Acknowledged by ${alert.acknowledged.by} · ${fmtAge(now - alert.acknowledged.at)} ago` : '');
  p.silencedNote.hidden = silences.length === 0;
  if (silences.length) {
    const s = silences[0];
    setText(p.silencedNote, `Silenced by ${s.createdBy} until ${clockTime(s.endsAt)}`);
    p.silencedNote.title = s.comment;
  }
  // Viewers get no empty button row: only acknowledged or silenced alerts keep a footer, to say by whom.
  p.foot.hidden = !canAck && !canSilence && !alert.acknowledged && silences.length === 0;
}

function createGroupCard() {
  const card = el('article', 'alert group');
  card.dataset.testid = 'alert-group';
  const head = el('div', 'alert-head');
  const sev = el('span', 'sev');
  const st = el('span', 'state');
  const count = el('span', 'badge count-badge');
  count.dataset.testid = 'alert-group-count';
  const silencedBadge = el('span', 'badge silenced-badge');
  const age = el('span', 'age');
  const title = el('div', 'alert-title');
  title.dataset.testid = 'alert-group-title';
  // A group's title is long (rule and campaign) and its head holds the count: the title gets its own line.
  head.append(sev, st, count, silencedBadge, age);
  const summary = el('div', 'alert-summary');
  summary.dataset.testid = 'alert-group-summary';
  const chips = el('div', 'chips members-chips');
  const foot = el('div', 'alert-foot');
  const ackAll = button('button small ack-button', 'Acknowledge all', 'alert-group-ack', () => acknowledgeGroup(card.dataset.key));
  const silenceButton = button('button small secondary', 'Silence group…', 'alert-group-silence', () => {
    const group = currentGroup(card.dataset.key);
    if (group) openSilenceDialog(groupSilenceTarget(group));
  });
  const toggle = button('button link', 'Show all', 'alert-group-toggle', () => {
    const key = card.dataset.key;
    if (state.expanded.has(key)) state.expanded.delete(key);
    else state.expanded.add(key);
    scheduleRender();
  });
  foot.append(ackAll, silenceButton, toggle);
  const members = el('div', 'members');
  members.dataset.testid = 'alert-group-members';
  card.append(head, title, summary, chips, foot, members);
  card.parts = { sev, st, count, silencedBadge, age, title, summary, chips, ackAll, silenceButton, toggle, foot, members };
  return card;
}

/** The group behind a card, recomputed from state, so a click acts on what is true now rather than at the last render. */
function currentGroup(key) {
  return feedItems(silencedMap(serverNow())).find((item) => item.key === key && item.kind === 'group') ?? null;
}

function updateGroupCard(card, group, ctx) {
  const p = card.parts;
  const now = Date.now();
  const members = group.members;
  const by = (predicate) => members.filter(predicate).length;
  const known = {
    firing: by((a) => a.state === 'firing'),
    pending: by((a) => a.state === 'pending'),
    acknowledged: by((a) => a.state === 'firing' && a.acknowledged),
    silenced: by((a) => a.state !== 'resolved' && ctx.silenced.has(a.id)),
  };
  // The processor's totals cover alerts this screen never received; the page's own count covers the moment in between.
  const c = group.counts;
  const firing = Math.max(known.firing, c?.firing ?? 0);
  const pendingCount = Math.max(known.pending, c?.pending ?? 0);
  const acked = Math.max(known.acknowledged, c?.acknowledged ?? 0);
  const silencedCount = Math.max(known.silenced, c?.silenced ?? 0);
  const resolved = by((a) => a.state === 'resolved');
  const total = firing + pendingCount;
  const active = members.filter((a) => a.state !== 'resolved');
  const unackedFiring = members.filter((a) => a.state === 'firing' && !a.acknowledged && !state.ackPending.has(a.id));
  const allSilenced = total > 0 && silencedCount >= total;
  const topState = firing ? 'firing' : pendingCount ? 'pending' : 'resolved';
  card.className = `alert group sev-${group.severity} state-${topState}${topState === 'firing' && firing <= acked + silencedCount ? ' acked' : ''}${allSilenced ? ' silenced' : ''}`;
  card.dataset.groupKey = group.groupKey;
  card.dataset.count = String(total);
  setText(p.sev, group.severity);
  setText(p.st, topState);
  setText(p.count, `${fmtCount(total)} customer${total === 1 ? '' : 's'}`);
  p.silencedBadge.hidden = silencedCount === 0;
  setText(p.silencedBadge, allSilenced ? 'silenced' : `${fmtCount(silencedCount)} silenced`);
  setText(p.age, active.length ? `since ${fmtAge(now - Math.min(...active.map((a) => a.startsAt)))}` : '');
  const titleKey = `${group.rule}|${group.campaign}`;
  if (p.title.dataset.shown !== titleKey) {
    p.title.dataset.shown = titleKey;
    p.title.replaceChildren(
      document.createTextNode(group.rule.replaceAll('_', ' ')),
      el('span', 'subject-kind', group.campaign ? ' · campaign ' : ' · no campaign'),
      document.createTextNode(group.campaign),
    );
  }
  const parts = [`${fmtCount(firing)} firing`];
  if (pendingCount) parts.push(`${fmtCount(pendingCount)} pending`);
  if (acked) parts.push(`${fmtCount(acked)} acknowledged`);
  if (silencedCount) parts.push(`${fmtCount(silencedCount)} silenced`);
  if (resolved) parts.push(`${resolved} resolved`);
  if (active.length < total) parts.push(`${active.length} listed here`);
  setText(p.summary, parts.join(' · '));
  const shownChips = active.slice(0, MAX_GROUP_CHIPS).map((a) => `${a.subject.key} ${fmtNumber(a.value)}`);
  const hiddenCount = total - shownChips.length;
  setChips(p.chips, hiddenCount > 0 ? [...shownChips, `+${fmtCount(hiddenCount)} more`] : shownChips);
  const responder = state.role === 'responder';
  p.ackAll.hidden = !responder || unackedFiring.length === 0;
  setText(p.ackAll, unackedFiring.length < firing - acked ? `Acknowledge ${unackedFiring.length} listed` : `Acknowledge all ${unackedFiring.length}`);
  p.silenceButton.hidden = !responder || total === 0 || allSilenced;
  const open = state.expanded.has(card.dataset.key ?? group.key);
  p.toggle.hidden = members.length === 0;
  setText(p.toggle, open ? 'Hide' : `Show ${members.length}`);
  p.members.hidden = !open;
  if (open) {
    const shown = members.slice(0, MAX_GROUP_MEMBERS_SHOWN);
    syncChildren(p.members, shown, (a) => a.id, createMemberRow, (row, alert) => updateMemberRow(row, alert, ctx));
    if (members.length > shown.length) {
      const more = el('div', 'member more', `… and ${members.length - shown.length} more`);
      more.dataset.key = '__more';
      p.members.append(more);
    }
  } else if (p.members.childElementCount) {
    p.members.replaceChildren();
  }
}

function createMemberRow() {
  const row = el('div', 'member');
  row.dataset.testid = 'alert-member';
  const who = el('span', 'cust');
  const value = el('span', 'member-value');
  const state_ = el('span', 'member-state');
  const note = el('span', 'member-note');
  const ack = button('button ack-button small', 'Ack', 'alert-ack-button', () => acknowledge(row.dataset.alertId, ack));
  row.append(who, value, state_, note, ack);
  row.parts = { who, value, state: state_, note, ack };
  return row;
}

function updateMemberRow(row, alert, ctx) {
  const p = row.parts;
  row.dataset.alertId = alert.id;
  const silences = ctx.silenced.get(alert.id) ?? [];
  row.className = `member state-${alert.state}${silences.length ? ' silenced' : ''}`;
  setText(p.who, alert.subject.key);
  setText(p.value, fmtNumber(alert.value));
  setText(p.state, alert.state);
  const note = alert.acknowledged ? `✓ ${alert.acknowledged.by}` : silences.length ? 'silenced' : '';
  setText(p.note, note);
  p.note.title = alert.reasons.join('\n');
  const canAck = state.role === 'responder' && !alert.acknowledged && alert.state !== 'resolved';
  p.ack.hidden = !canAck;
  p.ack.disabled = state.ackPending.has(alert.id);
}

function renderAlerts() {
  const now = Date.now();
  for (const [id, alert] of state.alerts) {
    if (alert.state === 'resolved' && now - (alert.endsAt ?? alert.updatedAt) > RESOLVED_KEEP_MS) state.alerts.delete(id);
  }
  const ctx = { silenced: silencedMap(serverNow()) };
  const items = feedItems(ctx.silenced);
  const shown = items.slice(0, MAX_FEED_ITEMS);
  syncChildren($('alert-feed'), shown, (item) => item.key, createFeedItem, (node, item) => updateFeedItem(node, item, ctx));
  $('alert-empty').hidden = shown.length > 0;
  const all = [...state.alerts.values()];
  // The processor's totals cover alerts this screen never received; they arrive once a second, so until they catch up
  // with a change the page has already seen, its own count is the better one.
  const knownActive = all.filter((a) => a.state !== 'resolved').length;
  const totals = state.stats?.alerts && state.stats.alerts.firing + state.stats.alerts.pending >= knownActive ? state.stats.alerts : null;
  const firing = totals?.firing ?? all.filter((a) => a.state === 'firing').length;
  const pendingCount = totals?.pending ?? all.filter((a) => a.state === 'pending').length;
  const unattended = totals?.unattended ?? all.filter((a) => a.state === 'firing' && !a.acknowledged && !ctx.silenced.has(a.id)).length;
  const silencedCount = totals?.silenced ?? ctx.silenced.size;
  const parts = [`${fmtCount(firing)} firing${unattended !== firing ? ` (${fmtCount(unattended)} need someone)` : ''}`, `${fmtCount(pendingCount)} pending`];
  if (silencedCount) parts.push(`${fmtCount(silencedCount)} silenced`);
  setText($('alert-counts'), firing + pendingCount === 0 && all.length === 0 ? '' : parts.join(' · '));
  renderSilences(ctx);
}

// ---------- the silence list ----------

function createSilenceItem() {
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
  item.parts = { matchers, meta, comment, expire };
  return item;
}

function updateSilenceItem(item, silence, now, covered) {
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

function renderSilences(ctx) {
  const now = serverNow();
  const shown = state.silences
    .filter((s) => s.endsAt > now - EXPIRED_SILENCE_KEEP_MS)
    .sort((a, b) => Number(a.endsAt <= now) - Number(b.endsAt <= now) || a.endsAt - b.endsAt);
  const matched = new Map();
  for (const hits of ctx.silenced.values()) for (const s of hits) matched.set(s.id, (matched.get(s.id) ?? 0) + 1);
  const coverage = (silence) => {
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

function createRiskRow() {
  const row = el('tr');
  row.dataset.testid = 'at-risk-row';
  const who = el('td');
  const cust = el('span', 'cust');
  cust.dataset.testid = 'at-risk-customer';
  const why = el('div', 'why');
  why.dataset.testid = 'at-risk-reasons';
  who.append(cust, why);
  const risk = el('td', 'num');
  const cell = el('div', 'riskcell');
  const bar = el('span', 'bar');
  const fill = el('i');
  bar.append(fill);
  const pct = el('span', 'pct');
  pct.dataset.testid = 'at-risk-pct';
  cell.append(bar, pct);
  risk.append(cell);
  const value = el('td', 'num');
  value.dataset.testid = 'at-risk-value';
  row.append(who, risk, value);
  row.parts = { cust, why, fill, pct, value };
  return row;
}

function updateRiskRow(row, entry) {
  const p = row.parts;
  const percent = Math.round(entry.risk * 100);
  setText(p.cust, entry.customerId);
  const reasons = entry.reasons.join(' · ');
  setText(p.why, reasons);
  p.why.title = entry.reasons.join('\n');
  setText(p.pct, `${percent}%`);
  p.fill.style.width = `${Math.min(100, Math.max(0, percent))}%`;
  row.classList.toggle('risk-high', entry.risk >= 0.8);
  setText(p.value, fmtNumber(entry.valueAtRisk));
}

function renderAtRisk() {
  syncChildren($('risk-body'), state.atRisk, (e) => e.customerId, createRiskRow, updateRiskRow);
  $('risk-empty').hidden = state.atRisk.length > 0;
  setText($('risk-count'), state.atRisk.length ? String(state.atRisk.length) : '');
}

function surgeLevel(z) {
  return z >= 4 ? 'critical' : z >= 2 ? 'warning' : null;
}

function createOverloadRow() {
  const row = el('tr');
  row.dataset.testid = 'overload-row';
  const where = el('td');
  const kind = el('span', 'kind');
  const key = el('span', 'where');
  where.append(kind, key);
  const touches = el('td', 'num');
  const overloaded = el('td', 'num hot');
  const negatives = el('td', 'num hot');
  const heldBack = el('td', 'num hot');
  heldBack.dataset.testid = 'overload-held-back';
  const z = el('td', 'num z');
  z.dataset.testid = 'overload-surge';
  row.append(where, touches, overloaded, negatives, heldBack, z);
  row.parts = { kind, key, touches, overloaded, negatives, heldBack, z };
  return row;
}

function renderOverload() {
  const cells = [...state.overload]
    .sort((a, b) => b.surgeZ - a.surgeZ || b.overloadedCustomers - a.overloadedCustomers || (b.suppressed ?? 0) - (a.suppressed ?? 0) || b.negatives1h - a.negatives1h)
    .slice(0, MAX_OVERLOAD_ROWS);
  const maxOverloaded = Math.max(1, ...cells.map((c) => c.overloadedCustomers));
  const maxHeldBack = Math.max(1, ...cells.map((c) => c.suppressed ?? 0));
  const maxNegatives = Math.max(1, ...cells.map((c) => c.negatives1h));
  syncChildren(
    $('overload-body'),
    cells,
    (c) => `${c.kind}:${c.key}`,
    createOverloadRow,
    (row, c) => {
      const p = row.parts;
      setText(p.kind, c.kind);
      setText(p.key, c.key);
      p.key.title = c.key;
      setText(p.touches, fmtCount(c.touches24h));
      setText(p.overloaded, fmtCount(c.overloadedCustomers));
      p.overloaded.style.setProperty('--heat', (c.overloadedCustomers / maxOverloaded).toFixed(3));
      setText(p.negatives, fmtCount(c.negatives1h));
      p.negatives.style.setProperty('--heat', (c.negatives1h / maxNegatives).toFixed(3));
      // Sends the contact budget held back (a dash where no sender asks); the title says of how many and where.
      setText(p.heldBack, c.checked ? fmtCount(c.suppressed ?? 0) : '–');
      p.heldBack.style.setProperty('--heat', ((c.suppressed ?? 0) / maxHeldBack).toFixed(3));
      const byChannel = Object.entries(c.suppressedByChannel ?? {}).map(([ch, n]) => `${ch} ${fmtCount(n)}`).join(', ');
      p.heldBack.title = c.checked ? `${fmtCount(c.suppressed ?? 0)} of ${fmtCount(c.checked)} checked${byChannel ? `: ${byChannel}` : ''}` : '';
      setText(p.z, c.surgeZ.toFixed(1));
      const level = surgeLevel(c.surgeZ);
      p.z.className = `num z${level ? ` level-${level}` : ''}`;
      p.z.dataset.level = level ?? 'normal';
    },
  );
  $('overload-empty').hidden = cells.length > 0;
}

// ---------- charts ----------

const charts = {};
const Y_STEPS = [1, 2, 5].flatMap((m) => Array.from({ length: 13 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);

/**
 * `log`: a logarithmic y axis (for lag, which spans milliseconds when live and hours while a backlog or a history is
 * replayed: on a linear axis one replay flattens the live minutes to zero for the next ten minutes).
 */
function chartOptions(color, formatValue, width, height, log = false) {
  const fontPx = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const axis = {
    stroke: '#8193a7',
    grid: { stroke: 'rgba(255,255,255,0.06)', width: 1 },
    ticks: { stroke: 'rgba(255,255,255,0.12)', width: 1 },
    font: `${Math.round(fontPx * 0.72)}px system-ui, sans-serif`,
  };
  const clock = (_u, splits) => splits.map((s) => new Date(s * 1_000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }));
  return {
    width,
    height,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true },
      y: log
        ? { distr: 3, log: 10, range: (_u, min, max) => uPlot.rangeLog(1, Math.max(1_000, max), 10, true) }
        : { range: (_u, min, max) => [0, max > 0 ? Math.max(max * 1.15, 5) : 10] },
    },
    axes: [
      { ...axis, space: fontPx * 3.6, size: fontPx * 2.8, values: clock },
      // Whole-number steps only: an idle processor shows 0 … 10, not 0, 0, 0, 1, 1, 1.
      { ...axis, space: fontPx * 2.2, size: fontPx * 4.2, ...(log ? {} : { incrs: Y_STEPS }), values: (_u, values) => values.map((v) => (v == null ? '' : formatValue(v))) },
    ],
    series: [{}, { stroke: color, width: Math.max(2, fontPx / 8), fill: `${color}22`, points: { show: false } }],
  };
}

function ensureChart(name, containerId, color, formatValue, log = false) {
  if (charts[name]) return charts[name];
  const box = $(containerId);
  const { width, height } = box.getBoundingClientRect();
  if (width < 10 || height < 10) return null;
  const chart = new uPlot(chartOptions(color, formatValue, width, height, log), [[], []], box);
  new ResizeObserver(() => {
    const rect = box.getBoundingClientRect();
    if (rect.width >= 10 && rect.height >= 10) chart.setSize({ width: rect.width, height: rect.height });
  }).observe(box);
  charts[name] = chart;
  return chart;
}

function renderCharts() {
  const h = state.history;
  const eps = ensureChart('eps', 'chart-events', '#38bdf8', (v) => fmtCount(v));
  const lag = ensureChart('lag', 'chart-lag', '#a78bfa', fmtAxisDuration, true);
  eps?.setData([h.t, h.eps]);
  // A log axis has no zero: a lag under 1 ms is drawn at 1 ms.
  lag?.setData([h.t, h.lag.map((ms) => Math.max(1, ms))]);
}

// ---------- status ----------

function renderStatus() {
  const now = Date.now();
  const conn = $('conn');
  const connState = state.connected ? 'live' : state.attempt > 0 ? 'offline' : 'connecting';
  conn.dataset.state = connState;
  setText(conn.querySelector('span'), connState === 'live' ? 'live' : connState === 'offline' ? 'offline' : 'connecting');
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

let renderQueued = false;

const RENDERERS = [renderStatus, renderTiles, renderCharts, renderAlerts, renderAtRisk, renderOverload];

function render() {
  renderQueued = false;
  // One panel failing must not freeze the others: each renders on its own, and the error is reported once.
  for (const renderPanel of RENDERERS) {
    try {
      renderPanel();
    } catch (err) {
      if (!renderPanel.failed) console.error(`wall: ${renderPanel.name} failed`, err);
      renderPanel.failed = true;
    }
  }
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  // rAF pauses in a hidden tab; a timer keeps the state fresh for when it shows again.
  if (document.hidden) setTimeout(render, 250);
  else requestAnimationFrame(render);
}

let toastTimer = 0;
function toast(message, kind = 'error') {
  const node = $('toast');
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 6_000);
}

// ---------- connection ----------

let socket = null;
let pongDeadline = 0;
let reconnectTimer = 0;

function socketUrl() {
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = token ? `?token=${encodeURIComponent(token)}` : '';
  url.hash = '';
  return url.toString();
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function acknowledge(alertId, node) {
  if (!alertId || state.ackPending.has(alertId)) return;
  const message = ackBy ? { type: 'ack', alertId, by: ackBy } : { type: 'ack', alertId };
  if (!send(message)) {
    toast('Not connected: the acknowledgement was not sent.');
    return;
  }
  state.ackPending.add(alertId);
  if (node) node.disabled = true;
  scheduleRender();
}

function acknowledgeGroup(key) {
  const group = currentGroup(key);
  if (!group) return;
  for (const alert of group.members) if (alert.state === 'firing' && !alert.acknowledged) acknowledge(alert.id, null);
}

function expireSilence(id, node) {
  if (!id || state.expirePending.has(id)) return;
  if (!send({ type: 'expire_silence', id })) {
    toast('Not connected: the silence was not expired.');
    return;
  }
  state.expirePending.add(id);
  node.disabled = true;
  scheduleRender();
}

// ---------- the silence form ----------

/** Labels offered as matchers, in this order, when the alert has them. */
const MATCHER_LABELS = ['alertname', 'campaign', 'channel', 'segment', 'subject_key', 'severity'];

const silenceForm = { target: null, submitting: false };

/** A single alert: its rule plus what it is about (the customer, or the campaign, channel or segment). */
function alertSilenceTarget(alert) {
  const kind = alert.subject.kind;
  const about = kind === 'campaign' || kind === 'channel' || kind === 'segment' ? kind : 'subject_key';
  return {
    title: `Silence ${alert.rule.replaceAll('_', ' ')} for ${kind} ${alert.subject.key}`,
    labels: alert.labels ?? {},
    checked: new Set(['alertname', about]),
  };
}

/** A group card: its rule and campaign, which is every customer alert of the group and those still to come. */
function groupSilenceTarget(group) {
  const labels = { alertname: group.rule };
  if (group.campaign) labels.campaign = group.campaign;
  return {
    title: `Silence ${group.rule.replaceAll('_', ' ')}${group.campaign ? ` for campaign ${group.campaign}` : ''}`,
    labels,
    checked: new Set(Object.keys(labels)),
  };
}

function chosenMatchers() {
  return [...$('silence-matchers').querySelectorAll('input[type=checkbox]:checked')].map((box) => ({ name: box.dataset.name, op: '=', value: box.dataset.value }));
}

function updateSilencePreview() {
  const matchers = chosenMatchers();
  const node = $('silence-preview');
  if (matchers.length === 0) {
    setText(node, 'Choose at least one label.');
    node.dataset.count = '0';
    return;
  }
  const count = [...state.alerts.values()].filter((a) => a.state !== 'resolved' && matchesAll(matchers, a.labels)).length;
  node.dataset.count = String(count);
  setText(node, `Matches ${count} active alert${count === 1 ? '' : 's'} on the wall now, and any new ones while it lasts.`);
}

function openSilenceDialog(target) {
  silenceForm.target = target;
  silenceForm.submitting = false;
  setText($('silence-title'), target.title);
  const fieldset = $('silence-matchers');
  for (const row of fieldset.querySelectorAll('label')) row.remove();
  for (const name of MATCHER_LABELS) {
    const value = target.labels[name];
    if (value === undefined || value === '') continue;
    const row = el('label', 'matcher');
    const box = el('input');
    box.type = 'checkbox';
    box.checked = target.checked.has(name);
    box.dataset.name = name;
    box.dataset.value = value;
    box.dataset.testid = `silence-matcher-${name}`;
    box.addEventListener('change', updateSilencePreview);
    row.append(box, el('code', '', `${name} = ${value}`));
    fieldset.append(row);
  }
  $('silence-comment').value = '';
  $('silence-by').value = ackBy ?? '';
  $('silence-error').hidden = true;
  $('silence-submit').disabled = false;
  setText($('silence-submit'), 'Silence');
  updateSilencePreview();
  $('silence-dialog').showModal();
  $('silence-comment').focus();
}

function silenceFormError(message) {
  silenceForm.submitting = false;
  const node = $('silence-error');
  node.textContent = message;
  node.hidden = false;
  $('silence-submit').disabled = false;
  setText($('silence-submit'), 'Silence');
}

function submitSilence(event) {
  event.preventDefault();
  if (silenceForm.submitting) return;
  const matchers = chosenMatchers();
  const comment = $('silence-comment').value.trim();
  if (matchers.length === 0) return silenceFormError('Choose at least one label to match.');
  if (!comment) return silenceFormError('Say why: the comment is what the next person on call reads.');
  const by = $('silence-by').value.trim();
  const durationMs = Number($('silence-duration').value);
  const message = { type: 'silence', matchers, endsAt: serverNow() + durationMs, comment };
  if (by) message.by = by;
  if (!send(message)) return silenceFormError('Not connected: the silence was not sent. Try again when the wall is live.');
  silenceForm.submitting = true;
  $('silence-error').hidden = true;
  $('silence-submit').disabled = true;
  setText($('silence-submit'), 'Silencing…');
}

function closeSilenceDialog() {
  silenceForm.submitting = false;
  silenceForm.target = null;
  $('silence-dialog').close();
}

$('silence-form').addEventListener('submit', submitSilence);
$('silence-comment').addEventListener('input', () => {
  if (!silenceForm.submitting) $('silence-error').hidden = true;
});
$('silence-cancel').addEventListener('click', closeSilenceDialog);

function onServerMessage(data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return;
  }
  if (Array.isArray(message)) {
    for (const frame of message) applyFrame(frame);
    state.lastFrameAt = Date.now();
  } else if (message.type === 'hello') {
    state.role = message.role;
    state.serverOffset = message.serverTime - Date.now();
  } else if (message.type === 'snapshot') {
    applySnapshot(message);
    state.lastFrameAt = Date.now();
  } else if (message.type === 'pong') {
    pongDeadline = 0;
  } else if (message.type === 'acked') {
    // The alert frame with `acknowledged` set follows through the source; until then the button stays pending.
  } else if (message.type === 'silenced') {
    // The silence list with it follows as a `silences` frame.
    if (silenceForm.submitting) {
      closeSilenceDialog();
      toast(`Silenced until ${clockTime(message.silence.endsAt)}.`, 'ok');
    }
  } else if (message.type === 'silence_expired') {
    toast('Silence expired: matching alerts are notified again.', 'ok');
  } else if (message.type === 'error') {
    if (message.alertId) state.ackPending.delete(message.alertId);
    if (message.silenceId) state.expirePending.delete(message.silenceId);
    // Over the wall's message rate some commands were dropped without an answer of their own: give every button back.
    const dropped = message.code === 'RATE_LIMITED';
    if (dropped) {
      state.ackPending.clear();
      state.expirePending.clear();
    }
    if ((message.command === 'silence' || dropped) && silenceForm.submitting) silenceFormError(`${message.message}`);
    else toast(`${message.code}: ${message.message}`);
  }
  scheduleRender();
}

function connect() {
  clearTimeout(reconnectTimer);
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.addEventListener('open', () => {
    state.connected = true;
    state.attempt = 0;
    pongDeadline = 0;
    scheduleRender();
  });
  ws.addEventListener('message', (event) => onServerMessage(event.data));
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = null;
    state.connected = false;
    state.ackPending.clear();
    state.expirePending.clear();
    if (silenceForm.submitting) silenceFormError('The connection dropped before the silence was confirmed; check the list, then try again.');
    state.attempt += 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (state.attempt - 1)) * (0.75 + Math.random() * 0.5);
    state.reconnectAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
    scheduleRender();
  });
}

function heartbeat() {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const now = Date.now();
  // A half-open connection looks fine until a write fails; an unanswered ping exposes it.
  if (pongDeadline && now > pongDeadline) {
    socket.close();
    return;
  }
  if (!pongDeadline) {
    send({ type: 'ping' });
    pongDeadline = now + PONG_TIMEOUT_MS;
  }
}

// The clock, ages and the stale marker move even when no frame arrives.
setInterval(scheduleRender, 1_000);
setInterval(heartbeat, PING_EVERY_MS);
document.addEventListener('visibilitychange', scheduleRender);
connect();
scheduleRender();
