// A live processor's /metrics passes `promtool check metrics` (base units, counters with _total, Node's process
// metrics under their standard names) and carries the histograms operators need.
import { describe, expect, it } from 'vitest';
import { processorSuite } from '../helpers/processor.js';
import { promtool } from '../helpers/promStack.js';
import { eventually } from '../helpers/wait.js';

const enc = new TextEncoder();

describe('/metrics', () => {
  const suite = processorSuite();

  it('passes promtool check metrics on a live processor that has handled events and committed', async () => {
    const { config, nc, processor: p } = suite;
    for (let i = 0; i < 20; i++) nc.publish(`${config.nats.subjectPrefix}.session_start`, enc.encode(JSON.stringify({ id: `m${i}`, customerId: `c${i % 4}`, type: 'session_start', ts: Date.now() })));
    await nc.flush();
    const scrape = async () => (await fetch(`http://127.0.0.1:${p.wallPort}/metrics`)).text();
    // Observed once per customer derived (each derive tick scores a touched customer once): 4 customers, at least 4.
    const derived = (text: string) => Number(/^vigil_event_to_signal_seconds_bucket\{le="\+Inf"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    await eventually('events handled, derived, committed and inserted', async () => {
      const text = await scrape();
      return p.pipeline.counts.processed === 20 && derived(text) >= 4 && /^vigil_commit_duration_seconds_count [1-9]/m.test(text) && /^vigil_clickhouse_insert_duration_seconds_count [1-9]/m.test(text);
    }, 30_000);
    const text = await scrape();
    const r = promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'vigil_event_lag_seconds', 'vigil_wall_fanout_duration_seconds_count', 'vigil_budget_check_duration_seconds_bucket{endpoint="check",le="+Inf"}']) {
      expect(text, name).toContain(name);
    }
    expect(text).not.toMatch(/vigil_process_|_ms\b/);
    expect(derived(text)).toBeGreaterThanOrEqual(4);
    expect(derived(text)).toBeLessThanOrEqual(20);
  });
});
