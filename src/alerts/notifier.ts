// The notification stages after evaluation, in order: silence, group, pace (dedup and repeat), deliver.
import type { AlertView } from '../contract/frames.js';
import { GroupPacer, groupKeyOf, type GroupState, type Notification, type RoutingPolicy } from './grouping.js';
import { newSilence, silences, validateSilence, type Silence, type SilenceInput } from './silences.js';
import type { KeyedStore } from './writeBehindHash.js';

export interface Receiver {
  send(n: Notification): void;
}

/** What a pipeline asks of the notifier. */
export type AlertNotifier = Pick<Notifier, 'onAlert' | 'tick' | 'silencedBy' | 'addSilence' | 'expireSilence' | 'listSilences' | 'forgetSubject'>;

export class Notifier {
  private readonly pacer: GroupPacer;
  private readonly touched = new Set<string>();
  silenced = 0;
  sent = 0;

  constructor(
    private readonly policy: RoutingPolicy,
    private readonly silenceStore: KeyedStore<Silence>,
    private readonly groupStore: KeyedStore<GroupState>,
    private readonly receivers: Receiver[],
  ) {
    this.pacer = new GroupPacer(policy);
  }

  /** Loads silences and the groups' notification log, so a restart neither re-sends nor forgets. */
  async load(): Promise<void> {
    await Promise.all([this.silenceStore.load(), this.groupStore.load()]);
    this.pacer.restore([...this.groupStore.values()]);
  }

  /** Silences another processor added or expired (a cluster shares them in Redis): taken without a restart. */
  async reloadSilences(): Promise<void> {
    await this.silenceStore.refresh?.();
  }

  /** The ids of the silences that hide an alert with these labels now (empty: not silenced). */
  silencedBy(labels: Record<string, string>, now: number): string[] {
    const ids: string[] = [];
    for (const s of this.silenceStore.values()) if (silences(s, labels, now)) ids.push(s.id);
    return ids;
  }

  /** An alert state change from the engine. A silenced alert is shown on the wall but never notified. */
  onAlert(view: AlertView, now: number): void {
    if (this.silencedBy(view.labels, now).length > 0) {
      this.silenced++;
      return;
    }
    this.pacer.add(view, now);
    this.touched.add(groupKeyOf(view.labels, this.policy.groupBy).key);
  }

  /** Sends what is due; call on every evaluation tick. */
  tick(now: number): Notification[] {
    const due = this.pacer.due(now);
    for (const n of due) {
      this.touched.add(n.groupKey);
      for (const r of this.receivers) r.send(n);
      this.sent++;
    }
    return due;
  }

  addSilence(input: SilenceInput, now: number): { ok: true; silence: Silence } | { ok: false; error: string } {
    const error = validateSilence(input);
    if (error) return { ok: false, error };
    const silence = newSilence(input, now);
    this.silenceStore.set(silence.id, silence);
    return { ok: true, silence };
  }

  /** Ends a silence now (kept for the record until it is pruned); false when there is no such silence. */
  expireSilence(id: string, now: number): boolean {
    const s = this.silenceStore.get(id);
    if (!s) return false;
    this.silenceStore.set(id, { ...s, endsAt: Math.min(s.endsAt, now) });
    return true;
  }

  /** Silences that have not ended, and the ones ended in the last day (for the wall's list). */
  listSilences(now: number): Silence[] {
    const recent: Silence[] = [];
    for (const s of this.silenceStore.values()) {
      if (s.endsAt < now - 86_400_000) this.silenceStore.delete(s.id);
      else recent.push(s);
    }
    return recent.sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * Erasure: the subject's alerts leave every group, a group goes whole when one of its label values is the
   * subject's key exactly, and silences with an `=` matcher whose value is the key exactly go too; the next persist
   * writes that behind. Exact, never a substring: erasing customer `c` leaves every other group and silence alone.
   * Returns how many entries changed.
   */
  forgetSubject(kind: string, key: string): number {
    let n = 0;
    for (const g of [...this.pacer.groups.values()]) {
      let changed = false;
      for (const [fp, a] of Object.entries(g.alerts)) {
        if (a.subject.kind === kind && a.subject.key === key) {
          delete g.alerts[fp];
          this.pacer.contentChanged(g);
          changed = true;
        }
      }
      if (Object.values(g.labels).some((v) => v === key) || (changed && Object.keys(g.alerts).length === 0)) {
        this.pacer.groups.delete(g.key);
        changed = true;
      }
      if (changed) {
        this.touched.add(g.key);
        n++;
      }
    }
    for (const s of [...this.silenceStore.values()]) {
      if (s.matchers.some((m) => m.op === '=' && m.value === key)) {
        this.silenceStore.delete(s.id);
        n++;
      }
    }
    return n;
  }

  /** Writes silences and the touched groups behind to their store; never rejects. */
  async persist(): Promise<void> {
    for (const key of this.touched) {
      const g = this.pacer.groups.get(key);
      if (g) this.groupStore.set(key, g);
      else this.groupStore.delete(key);
    }
    this.touched.clear();
    await Promise.all([this.silenceStore.persist(), this.groupStore.persist()]);
  }

  get error(): string | null {
    return this.silenceStore.error ?? this.groupStore.error;
  }
}

