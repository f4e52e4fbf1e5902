// The checks the budget's thread settled, as it sends them to the main thread (budgetThread.ts): columns of typed
// arrays and one list of ids rather than an object per check, so that a 10,000-id batch costs both threads a copy of
// a few arrays instead of cloning, and then walking, 10,000 objects.
import { BUDGET_CHANNELS } from './allowance.js';
import type { BudgetReport } from './reservations.js';
import { REASON_CODES } from './suppressionTally.js';

export interface SettledChecks {
  ids: string[];
  /** Per check, its index in BUDGET_CHANNELS. */
  channel: Uint8Array;
  /** Per check, its index in `campaigns`. */
  campaign: Uint32Array;
  campaigns: (string | null)[];
  at: Float64Array;
  /** Per check, its reason codes as bits of REASON_CODES; -1 when it allowed. */
  codes: Int16Array;
  /** Per check, RESERVED | KNOWN | REFRESH. */
  flags: Uint8Array;
  /** Per check, how many ControlMessages the thread had applied when it settled it (ReportFence). */
  seen: Uint32Array;
}

const RESERVED = 1;
const KNOWN = 2;
const REFRESH = 4;

/** Collects reports in plain arrays and hands them over as columns. */
export class SettledChecksBuilder {
  private ids: string[] = [];
  private channel: number[] = [];
  private campaign: number[] = [];
  private campaigns: (string | null)[] = [];
  private at: number[] = [];
  private codes: number[] = [];
  private flags: number[] = [];
  private seen: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  add(r: BudgetReport, seen: number): void {
    this.ids.push(r.customerId);
    this.channel.push(BUDGET_CHANNELS.indexOf(r.channel));
    // A batch's checks all name one campaign: the last one listed is nearly always it.
    let c = this.campaigns.length - 1;
    if (c < 0 || this.campaigns[c] !== r.campaignId) {
      c = this.campaigns.indexOf(r.campaignId);
      if (c === -1) c = this.campaigns.push(r.campaignId) - 1;
    }
    this.campaign.push(c);
    this.at.push(r.at);
    let bits = -1;
    if (r.codes !== null) {
      bits = 0;
      for (const code of r.codes) bits |= 1 << REASON_CODES.indexOf(code);
    }
    this.codes.push(bits);
    this.flags.push((r.reserved ? RESERVED : 0) | (r.known ? KNOWN : 0) | (r.refresh ? REFRESH : 0));
    this.seen.push(seen);
  }

  /** The columns of what was added since the last take, and a fresh start. */
  take(): SettledChecks {
    const out: SettledChecks = {
      ids: this.ids,
      channel: Uint8Array.from(this.channel),
      campaign: Uint32Array.from(this.campaign),
      campaigns: this.campaigns,
      at: Float64Array.from(this.at),
      codes: Int16Array.from(this.codes),
      flags: Uint8Array.from(this.flags),
      seen: Uint32Array.from(this.seen),
    };
    this.ids = [];
    this.channel = [];
    this.campaign = [];
    this.campaigns = [];
    this.at = [];
    this.codes = [];
    this.flags = [];
    this.seen = [];
    return out;
  }
}

/** Check `i` of `s` as a report (`into`, reused from check to check), and how many messages the thread had applied. */
export function reportAt(s: SettledChecks, i: number, into: BudgetReport): BudgetReport {
  into.customerId = s.ids[i];
  into.channel = BUDGET_CHANNELS[s.channel[i]];
  into.campaignId = s.campaigns[s.campaign[i]];
  into.at = s.at[i];
  const bits = s.codes[i];
  into.codes = bits === -1 ? null : REASON_CODES.filter((_, k) => (bits & (1 << k)) !== 0);
  const f = s.flags[i];
  into.reserved = (f & RESERVED) !== 0;
  into.known = (f & KNOWN) !== 0;
  into.refresh = (f & REFRESH) !== 0;
  return into;
}

export function emptyReport(): BudgetReport {
  return { customerId: '', channel: 'email', campaignId: null, at: 0, codes: null, reserved: false, known: false, refresh: false };
}
