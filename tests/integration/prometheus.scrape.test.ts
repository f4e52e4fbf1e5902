// The real Prometheus (Debian's package) scrapes a running processor's /metrics with Vigil's rules loaded, and a
// recording rule over Vigil's own metrics gets a value.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processorSuite } from '../helpers/processor.js';
import { startPrometheus, type OwnInstance } from '../helpers/promStack.js';
import { eventually } from '../helpers/wait.js';

const enc = new TextEncoder();
const rules = readFileSync(new URL('../../dashboards/prometheus/vigil-rules.yml', import.meta.url), 'utf8');
const operations = JSON.parse(readFileSync(new URL('../../dashboards/operations/vigil-operations.json', import.meta.url), 'utf8')) as {
  panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[];
};

describe('Prometheus over a running processor', () => {
  const suite = processorSuite();
  let prom: OwnInstance;

  beforeAll(async () => {
    prom = await startPrometheus(
      `
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [vigil-rules.yml]
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: ['127.0.0.1:${suite.processor.wallPort}']
`,
      { 'vigil-rules.yml': rules },
    );
  });

  afterAll(async () => {
    await prom?.stop();
  });

  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.status === 'success' ? body.data.result : [];
  };

  it('evaluates vigil:events_processed:rate1m from the scraped counters while events flow', async () => {
    const { config, nc, processor: p } = suite;
    let n = 0;
    const publish = async () => {
      for (let i = 0; i < 50; i++) nc.publish(`${config.nats.subjectPrefix}.page_view`, enc.encode(JSON.stringify({ id: `e${n++}`, customerId: `c${n % 7}`, type: 'page_view', ts: Date.now() })));
      await nc.flush();
    };
    // Events keep coming until the rate over the scrapes is above zero: a rate needs two scrapes that differ.
    await eventually(
      'a positive recorded rate',
      async () => {
        await publish();
        const r = await query('vigil:events_processed:rate1m');
        return r.length === 1 && Number(r[0].value[1]) > 0;
      },
      90_000,
    );
    const [sample] = await query('vigil:events_processed:rate1m');
    expect(sample.metric.instance).toBe(`127.0.0.1:${p.wallPort}`);
    expect((await query('up{job="vigil"}'))[0].value[1]).toBe('1');
    const loaded = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { name: string }[] } };
    expect(loaded.data.groups.map((g) => g.name).sort()).toEqual(['vigil-alerts', 'vigil-recording']);
  });

  it("the operations dashboard's queries are valid PromQL over metrics the processor exports or the rules record", async () => {
    const live = await (await fetch(`http://127.0.0.1:${suite.processor.wallPort}/metrics`)).text();
    for (const panel of operations.panels) {
      expect(panel.datasource.uid, panel.title).toBe('vigil-prometheus');
      for (const { expr } of panel.targets) {
        const res = (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; error?: string };
        expect(res.status, `${panel.title}: ${expr} ${res.error ?? ''}`).toBe('success');
        for (const [name] of expr.matchAll(/\b(?:vigil|nodejs|process)_[a-z0-9_]+/g)) expect(live, `${panel.title}: ${name}`).toContain(name);
        for (const [name] of expr.matchAll(/\bvigil:[a-z0-9_:]+/g)) expect(rules, `${panel.title}: ${name}`).toContain(`record: ${name}`);
      }
    }
  });
});
