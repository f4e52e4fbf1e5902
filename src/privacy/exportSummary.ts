// The plain-language summary at the top of a customer's export: what Vigil holds and, above all, the reasons behind
// its scores and its holding back, since those are what a person can act on. Pure: facts in, sentences out.

/** What the summary is built from; every field read from the stores by the export. */
export interface SummaryFacts {
  /** When the export was made, epoch ms. */
  now: number;
  /** The pseudonym the customer is stored under; null when ids are stored as they are. */
  pseudonym: string | null;
  events: { total: number; first: number | null; last: number | null };
  /** Outbound touches (email_sent, push_sent, sms_sent...) in the 7 days before `now`, by event type. */
  touches7d: Record<string, number>;
  /** Channels on which the contact budget holds marketing back now, with why and until when (null: no end). */
  heldBack: { channel: string; reasons: string[]; until: number | null }[];
  /** The churn model's latest estimate: live, or the last snapshot stored. */
  churn: { pAlive: number; risk: number; customerValue: number; reasons: string[]; source: 'live' | 'snapshot'; at: number } | null;
  engagement: { score: number } | null;
  fatigue: { score: number; reasons: string[] } | null;
  /** The live brand experience index (0–100, 50 neutral) and what pulls it down; absent or null when not live. */
  experience?: { index: number; reasons: string[] } | null;
  consent: { withdrawn: boolean; since: number | null };
  /** Alerts about the customer in the alert history, and their rules. */
  alerts: { count: number; rules: string[] };
  /** Why the live part is missing, when it is. */
  liveNote: string | null;
}

const TOUCH_NAMES: Record<string, [string, string]> = {
  email_sent: ['email', 'emails'],
  push_sent: ['push notification', 'push notifications'],
  sms_sent: ['text message', 'text messages'],
};
const CHANNEL_NAMES: Record<string, string> = { email: 'emails', push: 'push notifications', sms: 'text messages' };

/** "2024-03-10 14:05 UTC": unambiguous in any locale. */
export function utcMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function percent(p: number): string {
  return `${Math.round(p * 100)} %`;
}

/** The summary, one sentence per fact, in the order a person would ask. */
export function plainSummary(f: SummaryFacts): string[] {
  const out: string[] = [];
  if (f.pseudonym) out.push(`We store you under the pseudonym ${f.pseudonym}, never under your own id.`);
  if (f.events.total === 0) out.push('We hold no events about you.');
  else if (f.events.first !== null && f.events.last !== null) out.push(`We hold ${plural(f.events.total, 'event', 'events')} about you, from ${utcMinute(f.events.first)} to ${utcMinute(f.events.last)}.`);
  else out.push(`We hold ${plural(f.events.total, 'event', 'events')} about you.`);

  const touches = Object.entries(f.touches7d).filter(([, n]) => n > 0);
  const total = touches.reduce((s, [, n]) => s + n, 0);
  if (total === 0) out.push('We did not contact you in the last 7 days.');
  else {
    const parts = touches.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([type, n]) => plural(n, ...(TOUCH_NAMES[type] ?? [`${type} message`, `${type} messages`])));
    out.push(`You were contacted ${plural(total, 'time', 'times')} in the last 7 days (${list(parts)}).`);
  }

  // One sentence per distinct set of reasons: "email, push and SMS" held back for the same complaint reads once.
  const byReasons = new Map<string, { channels: string[]; until: number | null; reasons: string[] }>();
  for (const h of f.heldBack) {
    const key = `${h.reasons.join('\u0000')}\u0001${h.until}`;
    const entry = byReasons.get(key) ?? { channels: [], until: h.until, reasons: h.reasons };
    entry.channels.push(CHANNEL_NAMES[h.channel] ?? `${h.channel} messages`);
    byReasons.set(key, entry);
  }
  for (const { channels, until, reasons } of byReasons.values()) {
    const why = reasons.length > 0 ? ` because: ${reasons.join('; ')}` : '';
    const end = until === null ? '' : ` (until ${utcMinute(until)})`;
    out.push(`We are holding back marketing ${list(channels)}${why}${end}.`);
  }

  if (f.consent.withdrawn) {
    const since = f.consent.since ? ` on ${utcMinute(f.consent.since)}` : '';
    out.push(`You withdrew your consent${since}: since then we store nothing about what you do, score you no longer and hold back every marketing message.`);
  }

  if (f.churn) {
    const source = f.churn.source === 'live' ? '' : ` (as of ${utcMinute(f.churn.at)}, our latest stored estimate)`;
    const why = f.churn.reasons.length > 0 ? `, because: ${f.churn.reasons.join('; ')}` : ', with no particular warning sign';
    out.push(`Our model estimates a ${percent(f.churn.pAlive)} chance that you are still an active customer${source}${why}.`);
    out.push(`It puts your risk of leaving at ${percent(f.churn.risk)} and the value of your future purchases at ${f.churn.customerValue.toFixed(2)}.`);
  }
  if (f.engagement) out.push(`Your engagement with us over the last 7 days scores ${Math.round(f.engagement.score)} out of 100.`);
  if (f.fatigue && f.fatigue.reasons.length > 0) out.push(`We count you as contacted too often: ${f.fatigue.reasons.join('; ')}.`);
  if (f.experience) {
    const why = f.experience.reasons.length > 0 ? `, because: ${f.experience.reasons.join('; ')}` : '';
    out.push(`We estimate your experience with us (products, service, and what other customers say of what you bought) at ${Math.round(f.experience.index)} out of 100, 50 being neutral${why}.`);
  }

  if (f.alerts.count > 0) out.push(`Our operations team was alerted about you ${plural(f.alerts.count, 'time', 'times')} (${list(f.alerts.rules)}).`);
  if (f.liveNote) out.push(`Your live scores are not in this export: ${f.liveNote}.`);
  return out;
}
