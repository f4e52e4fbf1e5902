// Alert state on a real Redis: an acknowledged alert is still firing and still acknowledged after a restart,
// and the restart does not notify it again.
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { VigilConfig } from '../../src/config/schema.js';
import type { AlertView } from '../../src/contract/frames.js';
import { eventually } from '../helpers/wait.js';
import { chQuery, cleanUp, isolatedConfig, isolatedSuite, natsConnection, startTestProcessor } from '../helpers/processor.js';
import { WallTestClient } from '../helpers/wallClient.js';

const enc = new TextEncoder();

describe('alert state across a restart', () => {
  const suite = isolatedSuite();

  it('keeps a firing, acknowledged alert and does not re-fire it', async () => {
    const { config, nc } = suite;
    let p = await startTestProcessor(config);
    const client = await WallTestClient.connect(`ws://127.0.0.1:${p.wallPort}/ws`);
    await client.waitFor((m) => m.type === 'snapshot');
    const now = Date.now();
    for (let i = 0; i < 3; i++) {
      nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: `m${i}`, customerId: 'ana', type: 'email_sent', ts: now + i })));
    }
    await nc.flush();
    const fired = await client.waitFor<{ type: 'alert'; alert: AlertView }>((m) => m.type === 'alert' && (m.alert as AlertView).state === 'firing', 10_000);
    client.send({ type: 'ack', alertId: fired.alert.id });
    await client.waitFor((m) => m.type === 'alert' && (m.alert as AlertView).acknowledged !== null, 5_000);
    client.socket.close();
    await p.stop();

    p = await startTestProcessor(config);
    try {
      const alerts = p.pipeline.snapshot().alerts;
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ id: fired.alert.id, state: 'firing', acknowledged: { by: expect.any(String) } });
      // a few evaluation ticks with no state for the customer yet: the alert is left as it was, not resolved or re-fired.
      // Each tick sends the wall a stats frame, and an alert it changed would go out as an alert frame by the next flush.
      const wall = await WallTestClient.connect(`ws://127.0.0.1:${p.wallPort}/ws`);
      await wall.waitFor((m) => m.type === 'snapshot');
      await wall.until(() => (wall.items.filter((m) => m.type === 'stats').length >= 5 ? true : undefined), 10_000, 'five evaluation ticks');
      expect(wall.items.filter((m) => m.type === 'alert')).toEqual([]);
      wall.socket.close();
      expect(p.pipeline.snapshot().alerts[0].state).toBe('firing');
      await p.stop();
      const rows = await chQuery<{ state: string; acknowledged_by: string }>(`SELECT state, acknowledged_by FROM ${config.clickhouse.database}.alerts FINAL ORDER BY ts_ms`);
      expect(rows.map((r) => r.state)).toEqual(['firing', 'firing']);
      expect(rows[1].acknowledged_by).not.toBe('');
    } finally {
      await p.stop();
    }
  });
});

describe('alert rules reload', () => {
  it('applies new rules without a restart', async () => {
    const config = isolatedConfig();
    const nc = await natsConnection();
    const p = await startTestProcessor(config);
    try {
      const rules = config.alerts.rules.map((r) => (r.name === 'customer_contact_fatigue' ? { ...r, name: 'strict_fatigue', threshold: 0.5, resolveThreshold: 0.4 } : r));
      p.reloadRules(rules);
      nc.publish(`${config.nats.subjectPrefix}.email_sent`, enc.encode(JSON.stringify({ id: 'one', customerId: 'bo', type: 'email_sent', ts: Date.now() })));
      await nc.flush();
      await eventually('the reloaded rule to fire', () => p.pipeline.snapshot().alerts.some((a) => a.rule === 'strict_fatigue'), 10_000);
      expect(p.pipeline.snapshot().alerts.map((a) => a.rule)).toEqual(['strict_fatigue']);
    } finally {
      await p.stop();
      await cleanUp(config, nc);
      await nc.close();
    }
  });
});
