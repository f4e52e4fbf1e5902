// The sampler the alert engine re-checks active alerts with at each tick: a rule's current value for a subject, read
// from the sources the evaluate step hands in (customer signals, processor stats, suppressions, entity statistics).
import type { ProcessorStats } from '../contract/frames.js';
import type { CustomerSignals } from '../contract/pipeline.js';
import type { EntityStats } from '../signals/entityStats.js';
import type { AggregateExperience } from '../signals/experience.js';
import { customerSample } from './customerRules.js';
import { entitySample, processorSample, productSample, type SuppressionSource } from './entityRules.js';
import type { Sampler } from './engine.js';

export interface SampleSources {
  /** A customer's signals as of the tick's minute; null when the processor holds no state for it. */
  customer(customerId: string): CustomerSignals | null;
  stats(): ProcessorStats;
  suppressions: SuppressionSource;
  entities: EntityStats;
  /** A product's experience now; absent where no products are held (the cluster leader): unknown. */
  product?(productId: string): AggregateExperience | null;
}

export function ruleSampler(src: SampleSources, nowMin: number): Sampler {
  return (rule, subject) => {
    if (subject.kind === 'customer') {
      const signals = src.customer(subject.key);
      return signals === null ? 'unknown' : customerSample(rule, signals);
    }
    if (subject.kind === 'processor') return processorSample(rule, src.stats());
    if (subject.kind === 'product') {
      const p = src.product?.(subject.key) ?? null;
      return p === null ? 'unknown' : productSample(rule, p, null);
    }
    if (rule.signal === 'suppressed_customers') {
      const s = subject.kind === 'campaign' ? src.suppressions.one(subject.key) : null;
      return s ? { value: s.value, reasons: s.reasons, trigger: null } : null;
    }
    const s = src.entities.signal(subject.kind, subject.key, nowMin);
    return s ? entitySample(rule, s, null) : 'unknown';
  };
}
