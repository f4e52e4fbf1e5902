// What a running processor holds on one customer right now (windows, signals with their reasons, the contact budget's
// decisions and suppressions, active alerts), behind a narrow port so the export does not depend on how the runtime
// is put together; `pipelineLookup` is the adapter over the pipelines a processor runs.
import type { AlertRecord } from '../alerts/alertStateMachine.js';
import type { ContactBudget, Suppression } from '../budget/contactBudget.js';
import { customerPressure } from '../budget/requests.js';
import type { CustomerSignals } from '../contract/pipeline.js';
import { MINUTE_MS } from '../shared/clock.js';
import type { CustomerView } from '../windows/customerWindows.js';

/** One customer's live state as plain data (copied: nothing in it changes after the call). */
export interface LiveCustomer {
  /** The id as the processor holds it (the pseudonym under pseudonymization). */
  storedId: string;
  /** Event time the signals are computed at (the processor's watermark), epoch ms. */
  asOf: number;
  windows: CustomerView;
  engagement: CustomerSignals['engagement'];
  churn: CustomerSignals['churn'];
  fatigue: CustomerSignals['fatigue'];
  /** Brand experience: the index, its components (product, interactive, others' voice), trend and reasons. */
  experience: CustomerSignals['experience'];
  /** The contact budget's decision per channel now for a marketing message (nothing reserved), and the suppressions held. */
  budget: { channels: Record<string, unknown>; suppressions: Suppression[] } | null;
  /** Active alerts whose subject is the customer. */
  alerts: AlertRecord[];
}

/** The port the export reads live state through; null when no live state holds the customer. */
export interface LiveCustomerLookup {
  signals(storedId: string): LiveCustomer | null | Promise<LiveCustomer | null>;
}

/** The part of a Pipeline the adapter reads (its public API), so this module does not import the pipeline. */
export interface LivePipeline {
  readonly windows: { find(customerId: string): number };
  readonly budget: ContactBudget;
  readonly alerts: { activeRecords(): Iterable<{ record: AlertRecord }> };
  watermark(now?: number): number;
  customerSignals(slot: number, nowMin: number): CustomerSignals;
}

/**
 * The lookup over the pipelines this process runs (one, or one per partition it holds): the first that holds the
 * customer answers. `budgetEnabled` false leaves the budget out (its decisions would say nothing).
 */
export function pipelineLookup(pipelines: () => readonly LivePipeline[], budgetEnabled = true): LiveCustomerLookup {
  return {
    signals(storedId) {
      for (const p of pipelines()) {
        const slot = p.windows.find(storedId);
        if (slot === -1) continue;
        const asOf = p.watermark();
        const s = p.customerSignals(slot, Math.floor(asOf / MINUTE_MS));
        const budget = budgetEnabled
          ? { channels: customerPressure(p.budget, storedId, (id) => id).channels as Record<string, unknown>, suppressions: p.budget.suppressionsOf(storedId) }
          : null;
        const alerts = [...p.alerts.activeRecords()].map((a) => a.record).filter((r) => r.subject.kind === 'customer' && r.subject.key === storedId);
        // The view is the scorer's scratch object, valid until the next call, and the signals compute their reasons
        // lazily behind getters: each is read field by field into plain data.
        const { churn: c, engagement: e, fatigue: f, experience: x } = s;
        return jsonCopy({
          storedId, asOf, windows: s.view,
          engagement: { score: e.score, weighted7d: e.weighted7d, weighted24h: e.weighted24h, trendPerDay: e.trendPerDay, trendRelative: e.trendRelative },
          churn: { risk: c.risk, pAlive: c.pAlive, expectedPurchases30d: c.expectedPurchases30d, expectedPurchases90d: c.expectedPurchases90d, customerValue: c.customerValue, valueAtRisk: c.valueAtRisk, reasons: c.reasons },
          fatigue: { score: f.score, touches24h: f.touches24h, touches7d: f.touches7d, capFactor: f.capFactor, reasons: f.reasons },
          experience: { index: x.index, product: x.product, interactive: x.interactive, others: x.others, trend: x.trend, reasons: x.reasons },
          budget, alerts,
        });
      }
      return null;
    },
  };
}

function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
