// Where brand experience leaves the processor: a customer's snapshot row when its index moved past the snapshot step,
// each touched product's and segment's row once a minute, and the wall's worst products and segments.
import type { VigilConfig } from '../config/schema.js';
import { EXPERIENCE_CELLS, type ExperienceCell } from '../contract/frames.js';
import type { ExperienceSnapshot, PipelineOutputs } from '../contract/outputs.js';
import type { CustomerSignals } from '../contract/pipeline.js';
import { MINUTE_MS } from '../shared/clock.js';
import type { CustomerWindows } from '../windows/customerWindows.js';
import type { ExperienceTable } from '../windows/experienceTable.js';
import type { AggregateExperience } from './experience.js';

export interface ExperienceOutputDeps {
  config: VigilConfig;
  outputs: Pick<PipelineOutputs, 'experience'>;
  products: ExperienceTable;
  segments: ExperienceTable;
  windows: CustomerWindows;
  /**
   * Whether product and segment rows are written here: on a single processor; a partition of a cluster holds only
   * its own customers' share of a product, and its rows would stand for the whole product in experience_snapshots.
   */
  aggregateRows: boolean;
}

export class ExperienceOutput {
  /** The wall-clock minute of the last product and segment rows: at most one round of them a minute. */
  private rowsMinute = -1;

  constructor(private readonly deps: ExperienceOutputDeps) {}

  /**
   * A derived customer's row, when its index moved by more than signals.snapshotStep × 100 points since its last row
   * (a customer without one compares against 50, no evidence); nothing when the outputs take no experience rows.
   */
  customer(slot: number, s: CustomerSignals): void {
    const write = this.deps.outputs.experience;
    if (write === undefined) return;
    const state = this.deps.windows.experience;
    const e = s.experience;
    if (!(Math.abs(e.index - state.lastSnapshotIndex(slot)) > this.deps.config.signals.snapshotStep * 100)) return;
    state.markSnapshot(slot, e.index);
    const r = s.view.experience;
    write.call(this.deps.outputs, {
      ts: this.deps.windows.latestTs(slot),
      scope: 'customer',
      key: s.view.customerId,
      segment: s.view.segment,
      index: e.index,
      product: e.product,
      interactive: e.interactive,
      others: e.others,
      volume: r.pBad + r.pGood + r.cBad + r.cGood,
      reasons: e.reasons,
    });
  }

  /** Once a wall-clock minute: a row for every product and segment with evidence since its last row. */
  tick(now: number): void {
    const write = this.deps.outputs.experience;
    const minute = Math.floor(now / MINUTE_MS);
    if (write === undefined || !this.deps.aggregateRows || minute === this.rowsMinute) return;
    this.rowsMinute = minute;
    for (const table of [this.deps.products, this.deps.segments]) {
      table.rowsDue((slot, latestTs) => {
        const s = table.signalAt(slot, latestTs);
        if (s) write.call(this.deps.outputs, aggregateRow(s, latestTs));
      });
    }
  }

  /** The wall's cells: the worst products and segments with at least signals.experience.cellMinVolume, as of `atMs`. */
  cells(atMs: number): ExperienceCell[] {
    const min = this.deps.config.signals.experience.cellMinVolume;
    return [...this.deps.products.worst(EXPERIENCE_CELLS, atMs, min), ...this.deps.segments.worst(EXPERIENCE_CELLS, atMs, min)].map(toCell);
  }
}

export function toCell(s: AggregateExperience): ExperienceCell {
  return { kind: s.kind, key: s.key, index: s.index, trend: s.trend, volume: s.volume, reason: s.reasons[0] ?? null };
}

function aggregateRow(s: AggregateExperience, ts: number): ExperienceSnapshot {
  return { ts, scope: s.kind, key: s.key, segment: s.kind === 'segment' ? s.key : null, index: s.index, product: s.product, interactive: s.interactive, others: s.others, volume: s.volume, reasons: s.reasons };
}
