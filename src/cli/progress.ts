// Progress lines for long commands (`vigil model fit`, `vigil forget`, the demo's history load) on stderr, so
// stdout keeps only the result: at most one line every interval, plus one whenever another tenth is done, never
// per item. The formatting is pure; the reporter takes its clock and its writer.
import type { Clock } from '../shared/clock.js';

export interface ProgressState {
  label: string;
  /** Items done so far (events, customers, seconds waited). */
  done: number;
  /** Items in all, when known. */
  total: number | null;
  unit: string;
  elapsedMs: number;
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1_000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `history: 42% (12,345 / 29,400 events, 6,170 events/s, 2.0 s elapsed, about 2.4 s left)`. */
export function formatProgress(p: ProgressState): string {
  const rate = p.elapsedMs > 0 ? (p.done * 1_000) / p.elapsedMs : 0;
  const parts: string[] = [];
  parts.push(p.total !== null ? `${count(p.done)} / ${count(p.total)} ${p.unit}` : `${count(p.done)} ${p.unit}`);
  if (rate > 0) parts.push(`${count(rate)} ${p.unit}/s`);
  parts.push(`${formatDuration(p.elapsedMs)} elapsed`);
  if (p.total !== null && rate > 0 && p.done < p.total) parts.push(`about ${formatDuration(((p.total - p.done) / rate) * 1_000)} left`);
  const pct = p.total !== null && p.total > 0 ? `${Math.min(100, Math.floor((p.done / p.total) * 100))}% ` : '';
  return `${p.label}: ${pct}(${parts.join(', ')})`;
}

export interface ProgressOptions {
  label: string;
  unit: string;
  total?: number | null;
  clock: Clock;
  write: (line: string) => void;
  /** At most one line per this many ms (2 s), besides one per tenth done. */
  intervalMs?: number;
  /** Off (e.g. --quiet): nothing is written. */
  enabled?: boolean;
}

export class Progress {
  private readonly startedAt: number;
  private lastAt: number;
  private lastTenth = 0;
  private done = 0;
  private total: number | null;

  constructor(private readonly o: ProgressOptions) {
    this.startedAt = o.clock.now();
    this.lastAt = this.startedAt;
    this.total = o.total ?? null;
  }

  /** Reports that `done` items are done (of `total`, if it changed); writes a line only when one is due. */
  update(done: number, total: number | null = this.total): void {
    this.done = done;
    this.total = total;
    const now = this.o.clock.now();
    const tenth = total ? Math.floor((done / total) * 10) : 0;
    if (now - this.lastAt < (this.o.intervalMs ?? 2_000) && tenth <= this.lastTenth) return;
    this.lastTenth = Math.max(this.lastTenth, tenth);
    this.lastAt = now;
    this.emit(now);
  }

  /** A step that is not a count (`fitting BG/NBD on 120,000 customers`): written at once, with the time so far. */
  step(message: string): void {
    const now = this.o.clock.now();
    this.lastAt = now;
    if (this.o.enabled !== false) this.o.write(`${this.o.label}: ${message} (${formatDuration(now - this.startedAt)} elapsed)\n`);
  }

  /** A message repeated while waiting (`waiting for the audit record`): written only when a line is due. */
  note(message: string): void {
    if (this.o.clock.now() - this.lastAt >= (this.o.intervalMs ?? 2_000)) this.step(message);
  }

  /** The last line, whatever the interval. */
  finish(): void {
    this.emit(this.o.clock.now());
  }

  private emit(now: number): void {
    if (this.o.enabled === false) return;
    this.o.write(`${formatProgress({ label: this.o.label, done: this.done, total: this.total, unit: this.o.unit, elapsedMs: now - this.startedAt })}\n`);
  }
}
