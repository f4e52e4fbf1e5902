// Quiet hours in a customer's own time zone: whether a moment falls in them and when they end.

const formats = new Map<string, Intl.DateTimeFormat | null>();

/** A formatter for a zone, or null when the runtime does not know the zone (cached either way). */
function formatter(zone: string): Intl.DateTimeFormat | null {
  let f = formats.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      f = null;
    }
    // Bounded by the zones the runtime knows (about 600): invalid names are not cached.
    if (f) formats.set(zone, f);
  }
  return f;
}

export function isValidTimeZone(zone: string): boolean {
  return zone.length > 0 && zone.length <= 64 && formatter(zone) !== null;
}

/** Minutes since local midnight in `zone` at `ms`. */
export function localMinuteOfDay(ms: number, zone: string): number {
  const f = formatter(zone) ?? formatter('UTC')!;
  let h = 0;
  let m = 0;
  for (const p of f.formatToParts(ms)) {
    if (p.type === 'hour') h = Number(p.value);
    else if (p.type === 'minute') m = Number(p.value);
  }
  return h * 60 + m;
}

export interface QuietHours {
  /** Local hour quiet hours start (inclusive). */
  start: number;
  /** Local hour they end (exclusive); below `start` means they span midnight. */
  end: number;
}

function inQuiet(minuteOfDay: number, q: QuietHours): boolean {
  const s = q.start * 60;
  const e = q.end * 60;
  if (s === e) return false;
  return s < e ? minuteOfDay >= s && minuteOfDay < e : minuteOfDay >= s || minuteOfDay < e;
}

/**
 * When the quiet hours holding `ms` end (epoch ms, at the start of the local minute `end`:00), or null when `ms` is
 * outside them. A daylight-saving change inside the quiet period is corrected by one re-read of the local clock.
 */
export function quietUntil(ms: number, zone: string, q: QuietHours): number | null {
  // No quiet hours configured: no local clock to read (formatToParts is the costliest step of a check).
  if (q.start === q.end) return null;
  // The answer depends on the UTC minute only (every offset in use is whole minutes): a batch of 10,000 ids in one
  // zone reads its clock once, not 20,000 times.
  const minute = Math.floor(ms / 60_000);
  const cached = lastAnswer.get(zone);
  if (cached && cached.minute === minute && cached.start === q.start && cached.end === q.end) return cached.until;
  const until = quietUntilUncached(ms, zone, q);
  // Bounded like `formats`: one entry per zone the runtime knows (an unknown zone is read as UTC, uncached).
  if (formats.get(zone)) lastAnswer.set(zone, { minute, start: q.start, end: q.end, until });
  return until;
}

/** The last answer per zone, for its UTC minute and quiet hours. */
const lastAnswer = new Map<string, { minute: number; start: number; end: number; until: number | null }>();

function quietUntilUncached(ms: number, zone: string, q: QuietHours): number | null {
  const local = localMinuteOfDay(ms, zone);
  if (!inQuiet(local, q)) return null;
  const minuteStart = ms - (((ms % 60_000) + 60_000) % 60_000);
  let until = minuteStart + (((q.end * 60 - local + 1440) % 1440) * 60_000);
  const drift = localMinuteOfDay(until, zone) - q.end * 60;
  if (drift !== 0 && Math.abs(drift) <= 120) until -= drift * 60_000;
  return until;
}

/** "08:00", the local end of quiet hours, for reasons. */
export function localTimeText(hour: number): string {
  return `${String(hour).padStart(2, '0')}:00`;
}
