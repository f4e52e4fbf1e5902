// Checks and suppressions per campaign and channel over a sliding window of minutes, with the reasons behind them:
// what the campaign alert and the wall read.
import type { BudgetChannel } from './allowance.js';
import type { ReasonCode } from './decision.js';

export const REASON_CODES: readonly ReasonCode[] = ['consent_withdrawn', 'complaint', 'unsubscribe', 'allowance_24h', 'allowance_7d', 'quiet_hours', 'reservations_full'];
export const REASON_TEXT: Record<ReasonCode, string> = {
  consent_withdrawn: 'consent withdrawn',
  complaint: 'recent complaint',
  unsubscribe: 'recent unsubscribe',
  allowance_24h: '24 h allowance reached',
  allowance_7d: '7-day allowance reached',
  quiet_hours: 'quiet hours',
  reservations_full: 'no room to reserve',
};

interface Ring {
  minutes: Int32Array;
  checked: Uint32Array;
  suppressed: Uint32Array;
  /** minutes.length × REASON_CODES.length counts. */
  codes: Uint32Array;
  lastMin: number;
}

export interface SuppressionCount {
  campaignId: string | null;
  channel: BudgetChannel;
  checked: number;
  suppressed: number;
  /** Reason codes by how many suppressions they were part of, most first. */
  reasons: { code: ReasonCode; count: number }[];
}

export class SuppressionTally {
  private readonly rings = new Map<string, Ring>();
  private readonly size: number;
  /**
   * The ring recorded into last: a batch records every one of its ids into the same campaign and channel, and
   * would otherwise build and look up their key for each.
   */
  private last: { campaignId: string | null; channel: BudgetChannel; key: string; ring: Ring } | null = null;

  constructor(windowMs: number, private readonly maxKeys = 100_000) {
    this.size = Math.max(1, Math.ceil(windowMs / 60_000));
  }

  record(campaignId: string | null, channel: BudgetChannel, codes: readonly ReasonCode[] | null, now: number): void {
    const ring = this.last && this.last.campaignId === campaignId && this.last.channel === channel ? this.last.ring : this.ringOf(campaignId, channel, now);
    if (!ring) return;
    const min = Math.floor(now / 60_000);
    const i = min % this.size;
    if (ring.minutes[i] !== min) {
      ring.minutes[i] = min;
      ring.checked[i] = ring.suppressed[i] = 0;
      ring.codes.fill(0, i * REASON_CODES.length, (i + 1) * REASON_CODES.length);
    }
    ring.lastMin = min;
    ring.checked[i]++;
    if (codes === null) return;
    ring.suppressed[i]++;
    for (const c of new Set(codes)) ring.codes[i * REASON_CODES.length + REASON_CODES.indexOf(c)]++;
  }

  /** Every campaign and channel with checks in the window, most suppressed first. */
  counts(now: number): SuppressionCount[] {
    const min = Math.floor(now / 60_000);
    const out: SuppressionCount[] = [];
    for (const [key, ring] of this.rings) {
      const [campaign, channel] = key.split('\u0000');
      let checked = 0;
      let suppressed = 0;
      const codes = new Array<number>(REASON_CODES.length).fill(0);
      for (let i = 0; i < this.size; i++) {
        if (ring.minutes[i] < 0 || ring.minutes[i] <= min - this.size || ring.minutes[i] > min) continue;
        checked += ring.checked[i];
        suppressed += ring.suppressed[i];
        for (let c = 0; c < REASON_CODES.length; c++) codes[c] += ring.codes[i * REASON_CODES.length + c];
      }
      if (checked === 0) continue;
      const reasons = REASON_CODES.map((code, c) => ({ code, count: codes[c] })).filter((r) => r.count > 0).sort((a, b) => b.count - a.count);
      out.push({ campaignId: campaign === '' ? null : campaign, channel: channel as BudgetChannel, checked, suppressed, reasons });
    }
    return out.sort((a, b) => b.suppressed - a.suppressed);
  }

  /** Drops campaigns and channels with nothing in the window. */
  sweep(now: number): void {
    const min = Math.floor(now / 60_000);
    for (const [key, ring] of this.rings) if (ring.lastMin <= min - this.size) this.rings.delete(key);
    if (this.last && !this.rings.has(this.last.key)) this.last = null;
  }

  /** The ring of a campaign and channel, made when there is room; it is kept as the last one recorded. */
  private ringOf(campaignId: string | null, channel: BudgetChannel, now: number): Ring | null {
    const key = `${campaignId ?? ''}\u0000${channel}`;
    let ring = this.rings.get(key);
    if (!ring) {
      if (this.rings.size >= this.maxKeys) this.sweep(now);
      if (this.rings.size >= this.maxKeys) return null;
      const n = this.size;
      ring = { minutes: new Int32Array(n).fill(-1), checked: new Uint32Array(n), suppressed: new Uint32Array(n), codes: new Uint32Array(n * REASON_CODES.length), lastMin: 0 };
      this.rings.set(key, ring);
    }
    this.last = { campaignId, channel, key, ring };
    return ring;
  }
}

/** "3,100 24 h allowance reached, 400 recent complaint": the top reasons, for alerts. */
export function topReasonsText(reasons: { code: ReasonCode; count: number }[], n = 3): string {
  return reasons
    .slice(0, n)
    .map((r) => `${REASON_TEXT[r.code]} (${r.count.toLocaleString('en-US')})`)
    .join(', ');
}
