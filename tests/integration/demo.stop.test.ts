// `npm run demo` stopped with Ctrl-C: the terminal sends SIGINT to the whole process group (script, processor,
// simulator) and the script's trap sends the processor SIGTERM. That is one request, and the processor stops cleanly.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ownServices.js';
import { eventually } from '../helpers/wait.js';
import { cleanUp, isolatedConfig, natsConnection } from '../helpers/processor.js';

describe('the demo stopped with Ctrl-C', () => {
  it('stops the processor cleanly (final checkpoint, exit 0) when the process group gets SIGINT', async () => {
    // Isolated names: the demo runs `vigil reset --yes` on its config, which must never be the shared default.
    const config = isolatedConfig();
    const logs = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
    const port = await freePort();
    const env = {
      ...process.env,
      DEMO_SKIP_INSTALL: '1',
      DEMO_LOG_DIR: logs,
      DEMO_CUSTOMERS: '20',
      DEMO_RATE: '5',
      DEMO_HISTORY_DAYS: '1',
      DEMO_DURATION_S: '0',
      VIGIL_NATS__STREAM: config.nats.stream,
      VIGIL_NATS__SUBJECT_PREFIX: config.nats.subjectPrefix,
      VIGIL_NATS__CONSUMER: config.nats.consumer,
      VIGIL_NATS__DEAD_LETTER_SUBJECT: config.nats.deadLetterSubject,
      VIGIL_NATS__ALERT_SUBJECT_PREFIX: config.nats.alertSubjectPrefix,
      VIGIL_CLICKHOUSE__DATABASE: config.clickhouse.database,
      VIGIL_REDIS__KEY_PREFIX: config.redis.keyPrefix,
      VIGIL_WALL__PORT: String(port),
      VIGIL_WALL__HOST: '127.0.0.1',
      VIGIL_LOG__LEVEL: 'info',
    };
    // Its own process group, as a terminal's foreground job is: the group is what Ctrl-C signals.
    const demo = spawn('bash', [resolve('scripts/demo.sh')], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout.on('data', (b: Buffer) => (out += b.toString()));
    demo.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => demo.on('exit', (code) => r(code)));
    let running = true;
    void exited.then(() => (running = false));
    const nc = await natsConnection();
    try {
      await eventually('the demo to say it is running', () => out.includes('Ctrl-C stops it.') || !running, 240_000);
      expect(out).toContain('Ctrl-C stops it.');
      process.kill(-demo.pid!, 'SIGINT');
      await eventually('the demo to exit', () => !running, 120_000);
      await exited;
      const processorLog = readFileSync(join(logs, 'processor.log'), 'utf8');
      expect(processorLog).toContain('"msg":"stopping: no more consumption, committing what was handled"');
      expect(processorLog).toContain('"msg":"stopped"');
      expect(processorLog).not.toContain('second signal');
      expect(processorLog).not.toContain('shutdown deadline passed');
      expect(out).toContain('processor stopped (exit 0)');
      // The final checkpoint is in the object store, under the demo's consumer name.
      const os = await nc.jetstream().views.os(config.processor.checkpointBucket);
      expect(await os.info(config.nats.consumer)).not.toBeNull();
    } finally {
      if (running) process.kill(-demo.pid!, 'SIGKILL');
      await cleanUp(config, nc);
      await nc.close();
      rmSync(logs, { recursive: true, force: true });
    }
  }, 400_000);
});
