// Alert state that survives a restart: the engine works on memory, and every change is written behind to Redis.
import type { Redis } from 'ioredis';
import type { AlertRecord } from './alertStateMachine.js';
import type { AlertStore } from './alertStore.js';
import { WriteBehindHash } from './writeBehindHash.js';

export class RedisAlertStore implements AlertStore {
  private readonly hash: WriteBehindHash<AlertRecord>;

  constructor(redis: Redis, hashKey: string) {
    this.hash = new WriteBehindHash(redis, hashKey);
  }

  /** Reads every persisted alert into memory; call once before the engine starts. */
  load(): Promise<number> {
    return this.hash.load();
  }

  get(key: string): AlertRecord | undefined {
    return this.hash.get(key);
  }

  set(key: string, record: AlertRecord): void {
    this.hash.set(key, record);
  }

  delete(key: string): void {
    this.hash.delete(key);
  }

  entries(): IterableIterator<[string, AlertRecord]> {
    return this.hash.entries();
  }

  get size(): number {
    return this.hash.size;
  }

  persist(): Promise<void> {
    return this.hash.persist();
  }

  state(): { ok: boolean; detail: string } {
    const err = this.hash.error;
    return err === null ? { ok: true, detail: `${this.hash.size} active alerts persisted` } : { ok: false, detail: err };
  }
}
