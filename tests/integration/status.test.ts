// `vigil status` against a running processor's wall: readiness, lag, checkpoint age, alert counts, model version.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ownServices.js';
import type { ProcessorStatus } from '../../src/cli/status.js';
import { eventually } from '../helpers/wait.js';
import { isolatedSuite, startTestProcessor } from '../helpers/processor.js';

/** Runs the built CLI (dist/: `npx tsc -p tsconfig.build.json`) with the given environment overrides. */
function vigil(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['dist/cli/vigil.js', ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('vigil status', () => {
  const suite = isolatedSuite({ wall: { tokens: { viewer: ['status-viewer-token'] } } });

  it('prints a running processor\'s readiness, figures and model version as JSON, and exits 0', async () => {
    const { config, nc } = suite;
    const p = await startTestProcessor(config);
    try {
      for (let i = 0; i < 3; i++) nc.publish(`${config.nats.subjectPrefix}.email_sent`, new TextEncoder().encode(JSON.stringify({ id: `s${i}`, customerId: 'x', type: 'email_sent', ts: Date.now() + i })));
      await nc.flush();
      await eventually('an alert', () => p.pipeline.snapshot().alerts.length === 1, 20_000);
      await p.checkpointNow();
      const env = { VIGIL_WALL__HOST: '127.0.0.1', VIGIL_WALL__PORT: String(p.wallPort), VIGIL_WALL__TOKENS__VIEWER: 'status-viewer-token' };
      let result = await vigil(['status', '--json'], env);
      // The alert counts ride on the stats, published on the processor's tick: poll until they show the alert.
      await eventually('the alert in the status', async () => {
        result = await vigil(['status', '--json'], env);
        return result.code === 0 && (JSON.parse(result.stdout) as ProcessorStatus).alerts?.firing === 1;
      }, 60_000);
      const status = JSON.parse(result.stdout) as ProcessorStatus;
      expect(status.ready).toBe(true);
      expect(status.checks.nats).toEqual({ ok: true, detail: 'connected' });
      expect(status.modelVersion).toBe('bgnbd-gg:config');
      expect(status.checkpointAgeMs).toBeGreaterThanOrEqual(0);
      expect(status.checkpointAgeMs).toBeLessThan(10 * 60_000);
      expect(status.pending).toBe(0);
      expect(typeof status.lagMs).toBe('number');
      expect(status.alerts).toMatchObject({ firing: 1, acknowledged: 0, silenced: 0, unattended: 1 });
      expect(status.snapshotError).toBeUndefined();

      const table = await vigil(['status'], env);
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^ready +yes$/m);
      expect(table.stdout).toMatch(/^model +bgnbd-gg:config$/m);

      // Without the token the wall shows only ready/not ready and no snapshot: the status says so instead of guessing.
      const anonymous = await vigil(['status', '--json'], { ...env, VIGIL_WALL__TOKENS__VIEWER: '' });
      const bare = JSON.parse(anonymous.stdout) as ProcessorStatus;
      expect(anonymous.code).toBe(0);
      expect(bare.checks).toEqual({});
      expect(bare.alerts).toBeNull();
      expect(bare.snapshotError).toMatch(/401/);
    } finally {
      await p.stop();
    }
  });

  it('exits 2 with a clear message when no wall answers', async () => {
    const port = await freePort();
    const r = await vigil(['status'], { VIGIL_WALL__HOST: '127.0.0.1', VIGIL_WALL__PORT: String(port) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot reach the wall at http://127.0.0.1:${port}`);
    expect(r.stdout).toBe('');
  });
});
