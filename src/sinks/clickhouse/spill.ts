// The sink's second tier: batches ClickHouse cannot take now, written to local disk, one file per batch, and read
// back when their turn comes. A file is plain JSONEachRow (one row per line, the rows the insert encodes), so an
// operator can also load one by hand: `clickhouse-client --query 'INSERT INTO vigil.events FORMAT JSONEachRow' < f`.
//
// Layout of a spill directory (one per ClickHouse database, `<clickhouse.spill.dir>/<database>/`):
//   <table>-<seq, 12 digits>-<rows>.jsonl   a complete batch: written as .tmp, fsynced, renamed, directory fsynced
//   <name>.jsonl.tmp                        a write the process did not finish (crash): never acknowledged upstream
//   corrupt/                                files set aside: incomplete writes and files whose content does not match
//   lock                                    {"pid", "host", "since"} of the process using the directory
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { VigilError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

export interface SpillFile {
  path: string;
  table: string;
  /** The batch's place in the sink's order: files of one table are inserted in seq order. */
  seq: number;
  rows: number;
  bytes: number;
}

/** A spill file whose content is not the complete batch its name promises; it is set aside, never inserted. */
export class SpillCorruptError extends Error {
  constructor(
    readonly file: SpillFile,
    reason: string,
  ) {
    super(`spill file ${file.path} is corrupt: ${reason}`);
    this.name = 'SpillCorruptError';
  }
}

const FILE = /^([A-Za-z_][A-Za-z0-9_]*)-(\d{12})-(\d+)\.jsonl$/;
const LOCK = 'lock';
export const CORRUPT_DIR = 'corrupt';

export function spillFileName(table: string, seq: number, rows: number): string {
  return `${table}-${String(seq).padStart(12, '0')}-${rows}.jsonl`;
}

/** The batch as the file holds it: JSONEachRow, every line ending with a newline. */
export function serializeRows(rows: readonly object[]): string {
  let out = '';
  for (const row of rows) out += JSON.stringify(row) + '\n';
  return out;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SpillStore {
  private locked = false;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /**
   * Creates the directory, takes its lock, sets incomplete writes aside (returning where they went) and lists the
   * complete files in seq order.
   * Synchronous, so the sink queues what an earlier run left before anything new can be pushed.
   * Throws CLICKHOUSE_SPILL_UNAVAILABLE when the directory cannot be used or another live process holds it.
   */
  open(): { files: SpillFile[]; setAside: string[] } {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (err) {
      throw new VigilError('CLICKHOUSE_SPILL_UNAVAILABLE', `cannot create the spill directory ${this.dir} (clickhouse.spill.dir): ${errorMessage(err)}`, { cause: err });
    }
    this.lock();
    const files: SpillFile[] = [];
    const setAside: string[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      const path = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        // A crash mid-write: flush() never resolved for these rows, so they were never acknowledged and JetStream
        // redelivers them. Kept aside for inspection rather than deleted.
        const aside = this.setAsideSync(path);
        setAside.push(aside);
        this.log.warn({ file: path, keptAt: aside }, 'incomplete spill file from an interrupted write set aside; its rows were never acknowledged and are redelivered');
        continue;
      }
      const m = FILE.exec(name);
      if (!m) {
        if (name !== LOCK && name !== CORRUPT_DIR) this.log.warn({ file: path }, 'unexpected file in the spill directory left alone');
        continue;
      }
      files.push({ path, table: m[1], seq: Number(m[2]), rows: Number(m[3]), bytes: statSync(path).size });
    }
    return { files: files.sort((a, b) => a.seq - b.seq), setAside };
  }

  /** Writes one batch durably: temporary file, fsync, rename, fsync of the directory. */
  async write(table: string, seq: number, rows: number, data: string): Promise<SpillFile> {
    const path = join(this.dir, spillFileName(table, seq, rows));
    const tmp = `${path}.tmp`;
    try {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(data, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await this.syncDir();
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return { path, table, seq, rows, bytes: Buffer.byteLength(data, 'utf8') };
  }

  /** The rows of a file; SpillCorruptError when it is not exactly the complete batch its name promises. */
  async read(file: SpillFile): Promise<object[]> {
    const text = await readFile(file.path, 'utf8');
    if (file.rows > 0 && !text.endsWith('\n')) throw new SpillCorruptError(file, 'the last line is cut off (no final newline)');
    const lines = text.split('\n');
    lines.pop();
    if (lines.length !== file.rows) throw new SpillCorruptError(file, `${lines.length} lines where the name says ${file.rows} rows`);
    const rows: object[] = [];
    for (let i = 0; i < lines.length; i++) {
      let row: unknown;
      try {
        row = JSON.parse(lines[i]);
      } catch (err) {
        throw new SpillCorruptError(file, `line ${i + 1} is not JSON (${errorMessage(err)})`);
      }
      if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new SpillCorruptError(file, `line ${i + 1} is not a JSON object`);
      rows.push(row);
    }
    return rows;
  }

  /** Deletes a file whose batch is in ClickHouse. */
  async remove(file: SpillFile): Promise<void> {
    await unlink(file.path);
  }

  /** Moves a file into corrupt/ and returns where it went. */
  async setAside(path: string): Promise<string> {
    const target = this.asideName(path);
    await mkdir(join(this.dir, CORRUPT_DIR), { recursive: true });
    await rename(path, target);
    return target;
  }

  /** Gives the directory up (clean close or abort); the files stay for the next start. */
  release(): void {
    if (!this.locked) return;
    this.locked = false;
    try {
      unlinkSync(join(this.dir, LOCK));
    } catch {
      // already gone
    }
  }

  private setAsideSync(path: string): string {
    const target = this.asideName(path);
    mkdirSync(join(this.dir, CORRUPT_DIR), { recursive: true });
    renameSync(path, target);
    return target;
  }

  private asideName(path: string): string {
    return join(this.dir, CORRUPT_DIR, `${Date.now()}-${basename(path)}`);
  }

  /**
   * One process per directory: two sinks sharing one would both insert and delete the same files. A lock left by a
   * process that is gone (a crash), by this process (a test restarting a sink) or from another host name (a new
   * container over the same volume, where the old one cannot be running) is taken over.
   */
  private lock(): void {
    const path = join(this.dir, LOCK);
    const mine = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
    try {
      writeFileSync(path, mine, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new VigilError('CLICKHOUSE_SPILL_UNAVAILABLE', `cannot write to the spill directory ${this.dir}: ${errorMessage(err)}`, { cause: err });
      }
      let holder: { pid?: unknown; host?: unknown } = {};
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as typeof holder;
      } catch {
        // unreadable: a crash while writing it; take it over
      }
      if (typeof holder.pid === 'number' && holder.pid !== process.pid && holder.host === hostname() && processAlive(holder.pid)) {
        throw new VigilError(
          'CLICKHOUSE_SPILL_UNAVAILABLE',
          `the spill directory ${this.dir} is in use by process ${holder.pid}; give each processor its own clickhouse.spill.dir`,
        );
      }
      this.log.info({ dir: this.dir, previous: holder }, 'spill directory lock taken over from a process that is gone');
      writeFileSync(path, mine);
    }
    this.locked = true;
  }

  private async syncDir(): Promise<void> {
    const fh = await open(this.dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

