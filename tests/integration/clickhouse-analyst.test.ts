// The read-only analyst user on the server scripts/services.sh runs. On 18.16 users are XML only: the user comes
// from scripts/clickhouse-analyst.sh (users.d); from 20.8 migration 0012 creates it with CREATE USER and GRANT.
// Either way the analyst reads the Vigil database and nothing else, and changes nothing.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteString, type ClickHouseClient } from '../../src/sinks/clickhouse/client.js';
import { loadMigrations, migrate, renderStatement } from '../../src/sinks/clickhouse/migrate.js';
import { ChdbClient } from '../helpers/clickhouse-chdb.js';
import { CLICKHOUSE_URL, eventually, testClickHouseClient, testDatabaseName } from '../helpers/clickhouse.js';

const run = promisify(execFile);
const USERS_D = '/etc/clickhouse-server/users.d';
const tag = randomBytes(3).toString('hex');
const user = `vigil_analyst_t${tag}`;
const password = `pw-${randomBytes(12).toString('hex')}`;
const db = testDatabaseName();
const otherDb = testDatabaseName();
const file = `${USERS_D}/vigil-analyst-test-${tag}.xml`;

/** A statement as the analyst, over HTTP with basic authentication; the error text when the server refuses it. */
async function asAnalyst(sql: string, pw = password): Promise<{ ok: boolean; text: string }> {
  const res = await fetch(`${CLICKHOUSE_URL}/`, { method: 'POST', body: sql, headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` } });
  return { ok: res.ok, text: await res.text() };
}

function writable(dir: string): boolean {
  try {
    accessSync(existsSync(dir) ? dir : '/etc/clickhouse-server', constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

let admin: ClickHouseClient;

beforeAll(async () => {
  admin = testClickHouseClient(db);
  await migrate(admin, { database: db });
  await admin.command(`CREATE DATABASE IF NOT EXISTS ${otherDb}`);
  await admin.command(`CREATE TABLE ${otherDb}.secret (x UInt8) ENGINE = Memory`);
  await admin.insert('events', [{ id: 'e1', customer_id: 'c1', type: 'page_view', ts: 1_700_000_000, ts_ms: 1_700_000_000_000, channel: '', value: 0, segment: '', campaign_id: '', props: '', received_at: 1_700_000_000, stream_seq: 1 }]);
});

afterAll(async () => {
  rmSync(file, { force: true });
  await admin.command(`DROP DATABASE IF EXISTS ${db}`);
  await admin.command(`DROP DATABASE IF EXISTS ${otherDb}`);
  await admin.close();
});

describe('the analyst user on an XML-configured server (scripts/clickhouse-analyst.sh)', () => {
  it.runIf(writable(USERS_D))('reads the Vigil database, and may not write, change the schema or read another database', async () => {
    await run('bash', ['scripts/clickhouse-analyst.sh', file], {
      env: { ...process.env, VIGIL_CLICKHOUSE__ANALYST__USER: user, VIGIL_CLICKHOUSE__DATABASE: db, VIGIL_CLICKHOUSE__ANALYST__PASSWORD: password },
    });
    const xml = readFileSync(file, 'utf8');
    expect(xml).not.toContain(password);
    expect(xml).toContain('<password_sha256_hex>');

    // The server reloads users.d on its own, within seconds.
    await eventually('the analyst can log in', async () => (await asAnalyst('SELECT 1')).ok, 30_000);
    const read = await asAnalyst(`SELECT count() FROM ${db}.events FINAL`);
    expect(read).toEqual({ ok: true, text: '1\n' });
    // Query settings stay allowed (readonly = 2): Grafana's plugin and @clickhouse/client send some.
    expect((await asAnalyst(`SELECT count() FROM ${db}.events SETTINGS max_threads = 1`)).ok).toBe(true);

    const refused = [
      `INSERT INTO ${db}.events (id) VALUES ('x')`,
      `ALTER TABLE ${db}.events DELETE WHERE 1`,
      `CREATE TABLE ${db}.t (x UInt8) ENGINE = Memory`,
      `DROP TABLE ${db}.events`,
      `SELECT * FROM ${otherDb}.secret`,
    ];
    for (const sql of refused) {
      const r = await asAnalyst(sql);
      expect(r.ok, sql).toBe(false);
      expect(r.text, sql).toMatch(/readonly|Cannot execute query in readonly mode|Access denied|not allowed|ACCESS_DENIED/i);
    }
    expect((await asAnalyst('SELECT 1', 'wrong-password')).ok).toBe(false);
    const [{ n }] = await admin.query<{ n: string }>(`SELECT count() AS n FROM ${db}.events`);
    expect(n).toBe('1');
  });
});

describe('the analyst user on servers with SQL access control (migration 0012)', () => {
  const statements = loadMigrations().flatMap((m) => m.statements.filter((s) => s.sql.includes('{analyst_')));

  it('are CREATE USER ... readonly and GRANT SELECT on the database only, gated to 20.8, with the password as a quoted literal', () => {
    expect(statements.map((s) => s.requires)).toEqual([
      { op: '>=', version: '20.8' },
      { op: '>=', version: '20.8' },
    ]);
    const rendered = statements.map((s) => renderStatement(s.sql, 'vigil', { user: 'vigil_analyst', password: "it's" }));
    expect(rendered[0]).toBe("CREATE USER IF NOT EXISTS vigil_analyst IDENTIFIED WITH sha256_password BY 'it\\'s' SETTINGS readonly = 2");
    expect(rendered[1]).toBe('GRANT SELECT ON vigil.* TO vigil_analyst');
  });

  it('parse on a current engine (chdb has no user storage to run them in)', async () => {
    const chdb = new ChdbClient('unused');
    try {
      for (const s of statements) {
        const [row] = await chdb.query<{ q: string }>(`SELECT formatQuery(${quoteString(renderStatement(s.sql, 'vigil', { user: 'vigil_analyst', password: 'x' }))}) AS q`);
        expect(row.q).toMatch(/^(CREATE USER IF NOT EXISTS vigil_analyst|GRANT SELECT ON vigil\.\* TO vigil_analyst)/);
      }
    } finally {
      await chdb.close();
    }
  });
});
