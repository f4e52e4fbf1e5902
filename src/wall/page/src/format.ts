// Numbers, durations and ages as the wall prints them.

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
// Three significant digits: 1.02M active customers, not 1M.
const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });

export function fmtCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return Math.abs(n) < 10_000 ? intFmt.format(n) : compactFmt.format(n);
}

export function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const abs = Math.abs(n);
  if (abs >= 10_000) return compactFmt.format(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** [value, unit] so the unit can be drawn smaller. */
export function durationParts(ms: number): [string, string] {
  if (!Number.isFinite(ms)) return ['–', ''];
  if (ms < 1_000) return [intFmt.format(ms), 'ms'];
  if (ms < 60_000) return [(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1), 's'];
  if (ms < 3_600_000) return [`${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1_000)).padStart(2, '0')}`, 'min'];
  return [(ms / 3_600_000).toFixed(1), 'h'];
}

/** Short axis labels: 10 ms, 2.5 s, 3 min, 28 h, 35 d. */
export function fmtAxisDuration(ms: number): string {
  const trim = (n: number) => String(Number(n.toPrecision(2)));
  if (ms < 1_000) return `${trim(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1_000)} s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${trim(ms / 3_600_000)} h`;
  return `${trim(ms / 86_400_000)} d`;
}

export function fmtAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1_000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function fmtUptime(seconds: number): string {
  return fmtAge(seconds * 1_000);
}
