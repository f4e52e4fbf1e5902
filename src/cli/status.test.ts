import { describe, expect, it } from 'vitest';
import { formatDuration, renderStatusTable, runStatus, type ProcessorStatus } from './status.js';

const base: ProcessorStatus = {
  wall: 'http://127.0.0.1:8080',
  ready: true,
  checks: { nats: { ok: true, detail: 'connected' }, clickhouse: { ok: false, detail: 'unreachable' } },
  lagMs: 850,
  pending: 12,
  checkpointAgeMs: 65_000,
  modelVersion: 'bgnbd-gg:config',
  alerts: { firing: 3, pending: 1, acknowledged: 2, silenced: 0, unattended: 1 },
};

function fakeFetch(routes: Record<string, { status: number; body: unknown } | Error>): typeof fetch {
  return (async (url: string | URL) => {
    const r = routes[new URL(String(url)).pathname];
    if (!r) throw new Error('no route');
    if (r instanceof Error) throw r;
    return new Response(JSON.stringify(r.body), { status: r.status });
  }) as typeof fetch;
}

function capture() {
  const io = { out: '', err: '', stdout: (s: string) => void (io.out += s), stderr: (s: string) => void (io.err += s) };
  return io;
}

describe('vigil status', () => {
  it('renders one aligned row per figure, with each check indented under ready', () => {
    expect(renderStatusTable(base)).toBe(
      [
        'wall                 http://127.0.0.1:8080',
        'ready                yes',
        '  nats               ok  connected',
        '  clickhouse         FAIL  unreachable',
        'lag                  850 ms',
        'pending              12',
        'checkpoint age       1 min 05 s',
        'model                bgnbd-gg:config',
        'alerts firing        3',
        'alerts pending       1',
        'alerts acknowledged  2',
        'alerts silenced      0',
        'alerts unattended    1',
        '',
      ].join('\n'),
    );
  });

  it('shows a dash for what the wall did not say, and why', () => {
    const table = renderStatusTable({ ...base, ready: false, checks: {}, lagMs: null, pending: null, checkpointAgeMs: null, modelVersion: null, alerts: null, snapshotError: '/api/v1/snapshot answered 401' });
    expect(table).toMatch(/^ready +NO$/m);
    expect(table).toMatch(/^lag +-$/m);
    expect(table).toMatch(/^checkpoint age +-$/m);
    expect(table).toMatch(/^alerts +-$/m);
    expect(table).toMatch(/^note +\/api\/v1\/snapshot answered 401$/m);
  });

  it('formats durations in the unit a person reads', () => {
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(3 * 3_600_000 + 4 * 60_000)).toBe('3 h 04 min');
  });

  it('exits 1 when the processor is not ready, with the snapshot figures still shown', async () => {
    const io = capture();
    const code = await runStatus(['--json'], io, fakeFetch({
      '/readyz': { status: 503, body: { ready: false, checks: { nats: { ok: false, detail: 'disconnected' } }, checkpointAgeMs: null, modelVersion: 'm1' } },
      '/api/v1/snapshot': { status: 200, body: { stats: { lagMs: 5, pending: 7, alerts: { firing: 1, pending: 0, acknowledged: 0, silenced: 0, unattended: 1 } } } },
    }));
    expect(code).toBe(1);
    const s = JSON.parse(io.out) as ProcessorStatus;
    expect(s).toMatchObject({ ready: false, pending: 7, modelVersion: 'm1', alerts: { unattended: 1 }, checks: { nats: { ok: false } } });
  });

  it('exits 2 with a message naming the address when the wall cannot be reached', async () => {
    const io = capture();
    const code = await runStatus([], io, fakeFetch({ '/readyz': new Error('connect ECONNREFUSED') }));
    expect(code).toBe(2);
    expect(io.out).toBe('');
    expect(io.err).toMatch(/cannot reach the wall at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/);
  });

  it('takes an answer that is not a readiness as unreachable, never as ready', async () => {
    const io = capture();
    expect(await runStatus([], io, fakeFetch({ '/readyz': { status: 200, body: ['x'] } }))).toBe(2);
  });
});
