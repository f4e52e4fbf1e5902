// Applies sql/migrations/NNNN_name.sql in order, once each, recording version and checksum in
// <db>.schema_migrations; statements marked `-- requires: X` run only on servers that have the feature.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ClickHouseClient, compareVersions, parseVersion, quoteIdentifier, quoteString, toChDateTime } from './client.js';
import { VigilError, errorMessage } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';

/** Where the migrations ship: the same path from src/sinks/clickhouse and dist/sinks/clickhouse. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../sql/migrations/', import.meta.url));

/** Which servers a statement is for: `>= version` (`-- requires: 20.3`) or `< version` (`-- requires: < 20.3`). */
export interface Requirement {
  op: '>=' | '<';
  version: string;
}

export interface MigrationStatement {
  /** The SQL without comments, `{db}` still in place. */
  sql: string;
  requires: Requirement | null;
}

export interface Migration {
  version: number;
  name: string;
  /** sha256 of the file text (line endings normalized). */
  checksum: string;
  statements: MigrationStatement[];
}

export interface MigrateOptions {
  database: string;
  logger?: Logger;
  /** Defaults to the files in DEFAULT_MIGRATIONS_DIR. */
  migrations?: Migration[];
  /** Gate statements as if the server were this version (tests); defaults to `SELECT version()`. */
  serverVersion?: string;
  /**
   * The read-only analyst user that `{analyst_user}` / `{analyst_password}` statements create. Without a
   * password those statements wait (recorded as skipped) until a migration runs with one.
   */
  analyst?: AnalystUser;
}

export interface AnalystUser {
  user: string;
  /** Secret: rendered into the statement as a quoted literal, masked in every error message. */
  password: string;
}

export interface SkippedStatement {
  version: number;
  /** 0-based position of the statement in its migration. */
  statement: number;
  requires: Requirement;
}

export interface MigrateResult {
  serverVersion: string;
  /** Migrations applied by this run. */
  applied: number[];
  /** Migrations that were applied before and only had gated statements run now (the server was upgraded). */
  upgraded: number[];
  /** Gated statements this server does not run, in any migration. */
  skipped: SkippedStatement[];
  /** Statements this server could run but that wait for a setting: the analyst user without a password. */
  deferred: { version: number; statement: number; waitsFor: 'clickhouse.analyst.password' }[];
}

const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const REQUIRES = /^--\s*requires\s*:\s*(<|>=)?\s*(\d+(?:\.\d+)*)\s*$/;
const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits a migration's text into statements, dropping comments and reading `-- requires:` lines. */
export function parseMigration(version: number, name: string, text: string): Migration {
  const normalized = text.replace(/\r\n?/g, '\n');
  const statements: MigrationStatement[] = [];
  let sql = '';
  let requires: Requirement | null = null;
  let i = 0;
  const fail = (why: string): never => {
    throw new VigilError('MIGRATION_FAILED', `migration ${String(version).padStart(4, '0')}_${name}: ${why}`);
  };
  const end = (): void => {
    const trimmed = sql.trim();
    if (trimmed) statements.push({ sql: trimmed, requires });
    else if (requires) fail(`a "-- requires" line is followed by no statement`);
    sql = '';
    requires = null;
  };
  while (i < normalized.length) {
    const c = normalized[i];
    if (c === '-' && normalized[i + 1] === '-') {
      const eol = normalized.indexOf('\n', i);
      const comment = normalized.slice(i, eol === -1 ? undefined : eol).trim();
      if (/^--\s*requires\b/.test(comment)) {
        const m = REQUIRES.exec(comment);
        if (!m) fail(`cannot read ${JSON.stringify(comment)} (expected "-- requires: 20.3" or "-- requires: < 20.3")`);
        if (requires) fail(`two "-- requires" lines for one statement`);
        requires = { op: m![1] === '<' ? '<' : '>=', version: m![2] };
      }
      i = eol === -1 ? normalized.length : eol + 1;
      sql += '\n';
    } else if (c === '/' && normalized[i + 1] === '*') {
      const close = normalized.indexOf('*/', i + 2);
      if (close === -1) fail('unterminated /* comment');
      i = close + 2;
      sql += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < normalized.length && normalized[j] !== c) j += normalized[j] === '\\' ? 2 : 1;
      if (j >= normalized.length) fail(`unterminated ${c} quote`);
      sql += normalized.slice(i, j + 1);
      i = j + 1;
    } else if (c === ';') {
      end();
      i++;
    } else {
      sql += c;
      i++;
    }
  }
  end();
  if (statements.length === 0) fail('no statements');
  return { version, name, checksum: createHash('sha256').update(normalized).digest('hex'), statements };
}

/** Reads every NNNN_name.sql in `dir`, in version order. */
export function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((file) => {
      const m = FILE_NAME.exec(file);
      if (!m) throw new VigilError('MIGRATION_FAILED', `migration file ${file} is not named NNNN_lower_snake.sql`);
      return parseMigration(Number(m[1]), m[2], readFileSync(join(dir, file), 'utf8'));
    })
    .sort((a, b) => a.version - b.version);
  for (let k = 1; k < migrations.length; k++) {
    if (migrations[k].version === migrations[k - 1].version) {
      throw new VigilError('MIGRATION_FAILED', `two migrations numbered ${migrations[k].version} in ${dir}`);
    }
  }
  return migrations;
}

/** Whether a server of `serverVersion` runs a statement with this requirement. */
export function satisfies(serverVersion: string, requires: Requirement | null): boolean {
  if (!requires) return true;
  const cmp = compareVersions(serverVersion, requires.version);
  return requires.op === '>=' ? cmp >= 0 : cmp < 0;
}

/** The SQL sent for a statement: `{db}` is the database name, `{analyst_user}` / `{analyst_password}` the analyst's. */
export function renderStatement(sql: string, database: string, analyst?: AnalystUser): string {
  let out = sql.replaceAll('{db}', database);
  if (analyst) out = out.replaceAll('{analyst_user}', quoteIdentifier(analyst.user)).replaceAll('{analyst_password}', quoteString(analyst.password));
  return out;
}

/** Whether a statement needs the analyst user's settings to be rendered. */
export function needsAnalyst(sql: string): boolean {
  return sql.includes('{analyst_');
}

interface AppliedRow {
  version: number;
  checksum: string;
  skipped: number[];
}

/**
 * Brings `database` up to date. Idempotent: migrations already recorded are not run again (their
 * checksum must still match the file), except their gated statements that an upgraded server now
 * supports. Every statement must be idempotent itself (IF NOT EXISTS...): a run interrupted halfway
 * repeats the whole migration.
 */
export async function migrate(client: ClickHouseClient, opts: MigrateOptions): Promise<MigrateResult> {
  const { database } = opts;
  if (!DB_NAME.test(database)) throw new VigilError('MIGRATION_FAILED', `not a database name: ${JSON.stringify(database)}`);
  const log = (opts.logger ?? silentLogger).child({ stage: 'clickhouse-migrate', database });
  const migrations = opts.migrations ?? loadMigrations();

  let serverVersion: string;
  try {
    serverVersion = opts.serverVersion ?? (await client.serverVersion());
    parseVersion(serverVersion);
  } catch (err) {
    throw new VigilError('MIGRATION_FAILED', `cannot read the ClickHouse server version: ${errorMessage(err)}`, { cause: err });
  }

  await run(client, `CREATE DATABASE IF NOT EXISTS ${database}`, 'create the database');
  await run(
    client,
    `CREATE TABLE IF NOT EXISTS ${database}.schema_migrations
     (version UInt32, name String, checksum String, skipped Array(UInt32), server_version String, applied_at DateTime('UTC'), revision UInt64)
     ENGINE = MergeTree() ORDER BY (version, revision)`,
    'create schema_migrations',
  );

  let recorded: AppliedRow[];
  try {
    const rows = await client.query<{ version: number | string; checksum: string; skipped: (number | string)[] }>(
      `SELECT version, argMax(checksum, revision) AS checksum, argMax(skipped, revision) AS skipped
       FROM ${database}.schema_migrations GROUP BY version`,
    );
    recorded = rows.map((r) => ({ version: Number(r.version), checksum: r.checksum, skipped: r.skipped.map(Number) }));
  } catch (err) {
    throw new VigilError('MIGRATION_FAILED', `cannot read ${database}.schema_migrations: ${errorMessage(err)}`, { cause: err });
  }
  const byVersion = new Map(recorded.map((r) => [r.version, r]));

  const result: MigrateResult = { serverVersion, applied: [], upgraded: [], skipped: [], deferred: [] };
  const analyst = opts.analyst?.password ? opts.analyst : undefined;
  for (const migration of migrations) {
    const label = `${String(migration.version).padStart(4, '0')}_${migration.name}`;
    const previous = byVersion.get(migration.version);
    if (previous && previous.checksum !== migration.checksum) {
      throw new VigilError(
        'MIGRATION_FAILED',
        `migration ${label} was changed after it was applied to ${database} (checksum ${previous.checksum.slice(0, 12)} recorded, ${migration.checksum.slice(0, 12)} now): add a new migration instead`,
      );
    }
    // A new migration runs every statement this server supports; an applied one only those it skipped before.
    const candidates = previous ? previous.skipped : migration.statements.map((_, k) => k);
    const skipped: number[] = [];
    let ran = 0;
    for (const k of candidates) {
      const statement = migration.statements[k];
      if (!statement) continue;
      if (!satisfies(serverVersion, statement.requires)) {
        skipped.push(k);
        continue;
      }
      if (needsAnalyst(statement.sql) && !analyst) {
        skipped.push(k);
        result.deferred.push({ version: migration.version, statement: k, waitsFor: 'clickhouse.analyst.password' });
        continue;
      }
      await run(client, renderStatement(statement.sql, database, analyst), `migration ${label} statement ${k + 1}`, serverVersion, analyst?.password, addsColumn(statement.sql));
      ran++;
    }
    for (const k of skipped) {
      const requires = migration.statements[k].requires;
      // `< X` statements are for older servers only: a newer one will never need them.
      if (requires?.op === '>=' && !satisfies(serverVersion, requires)) result.skipped.push({ version: migration.version, statement: k, requires });
    }
    if (previous && ran === 0) continue;
    await record(client, database, migration, skipped, serverVersion);
    if (previous) {
      result.upgraded.push(migration.version);
      log.info({ migration: label, statements: ran, serverVersion }, 'ran gated statements the upgraded server now supports');
    } else {
      result.applied.push(migration.version);
      log.info({ migration: label, statements: ran, skipped: skipped.length, serverVersion }, 'applied migration');
    }
  }
  if (result.applied.length === 0 && result.upgraded.length === 0) log.debug({ serverVersion }, 'schema up to date');
  return result;
}

/**
 * The column a plain `ADD COLUMN` (without IF NOT EXISTS, which 18.16 lacks) adds: repeating such a statement after a
 * run interrupted before its record must find the column there and go on.
 */
export function addsColumn(sql: string): string | null {
  const m = /^ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s+(?!IF\s+NOT\s+EXISTS\b)([A-Za-z_][A-Za-z0-9_]*)\s/i.exec(sql);
  return m ? m[1] : null;
}

async function run(client: ClickHouseClient, sql: string, what: string, serverVersion?: string, secret?: string, column?: string | null): Promise<void> {
  try {
    await client.command(sql);
  } catch (err) {
    if (column && new RegExp(`Cannot add column ${column}: column with this name already exists`).test(errorMessage(err))) return;
    const on = serverVersion ? ` on ClickHouse ${serverVersion}` : '';
    // A server may quote the statement back in its error; the password must not travel on into logs.
    const detail = secret ? errorMessage(err).split(secret).join('[redacted]') : errorMessage(err);
    throw new VigilError('MIGRATION_FAILED', `${what} failed${on}: ${detail}`, secret ? undefined : { cause: err });
  }
}

let lastRevision = 0;

async function record(client: ClickHouseClient, database: string, migration: Migration, skipped: number[], serverVersion: string): Promise<void> {
  // Strictly increasing within the process, so the newest record of a version wins argMax.
  const now = Date.now();
  lastRevision = Math.max(now, lastRevision + 1);
  const row = {
    version: migration.version,
    name: migration.name,
    checksum: migration.checksum,
    skipped,
    server_version: serverVersion,
    applied_at: toChDateTime(now),
    revision: lastRevision,
  };
  try {
    await client.insert(`${database}.schema_migrations`, [row]);
  } catch (err) {
    throw new VigilError('MIGRATION_FAILED', `recording migration ${migration.version} failed: ${errorMessage(err)}`, { cause: err });
  }
}
