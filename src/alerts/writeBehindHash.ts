// A map kept in memory and written behind to one Redis hash: reads and writes never wait on Redis.
import type { Redis } from 'ioredis';
import { errorMessage } from '../shared/errors.js';
import { inSlices, SLICE_MS } from '../shared/slices.js';

/** What the alert stages need of a keyed store; memory in unit tests, Redis write-behind in production. */
export interface KeyedStore<T> {
  load(): Promise<number>;
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  delete(key: string): void;
  values(): IterableIterator<T>;
  persist(): Promise<void>;
  /** Takes what another writer changed in the store, keeping this one's own changes not yet written. */
  refresh?(): Promise<void>;
  readonly error: string | null;
}

export class MemoryHash<T> implements KeyedStore<T> {
  private readonly map = new Map<string, T>();
  readonly error = null;
  async load(): Promise<number> {
    return this.map.size;
  }
  get(key: string): T | undefined {
    return this.map.get(key);
  }
  set(key: string, value: T): void {
    this.map.set(key, value);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  values(): IterableIterator<T> {
    return this.map.values();
  }
  async persist(): Promise<void> {}
}

/** A map in memory whose `set` and `delete` mark keys dirty, for `persist()` to write behind to Redis. */
export abstract class WriteBehindMap<T> implements KeyedStore<T> {
  protected readonly map = new Map<string, T>();
  protected readonly dirty = new Set<string>();
  protected lastError: string | null = null;

  abstract load(): Promise<number>;
  abstract persist(): Promise<void>;

  get(key: string): T | undefined {
    return this.map.get(key);
  }

  set(key: string, value: T): void {
    this.map.set(key, value);
    this.dirty.add(key);
  }

  delete(key: string): void {
    this.map.delete(key);
    this.dirty.add(key);
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }

  /** null while the last persist reached Redis, else what went wrong. */
  get error(): string | null {
    return this.lastError;
  }
}

/**
 * `set` and `delete` mark keys dirty; `persist()` writes them in one MULTI round trip (the processor calls it with
 * every commit). While Redis is away the dirty keys wait for the next persist; what was last persisted is what a
 * restart loads. The values' JSON is written ahead, in slices of the event loop (thousands of changed alerts a commit
 * held it 15-35 ms); the MULTI is still built from the map as it is then, and sent, in one synchronous step, so a
 * persist never writes a value older than one an earlier call wrote, nor one an erasure took out of the map.
 */
export class WriteBehindHash<T> extends WriteBehindMap<T> {
  /** The JSON of dirty keys' current values, written ahead of the MULTI; a set or delete of a key drops its entry. */
  private readonly ahead = new Map<string, string>();

  constructor(
    private readonly redis: Redis,
    readonly hashKey: string,
    /** How a value is written (its JSON by default); load and refresh read it back with JSON.parse. */
    private readonly serialize: (value: T) => string = (value) => JSON.stringify(value),
    /** How long a slice of the JSON written ahead may hold the event loop (0: a turn after every key, for tests). */
    private readonly sliceMs = SLICE_MS,
  ) {
    super();
  }

  async load(): Promise<number> {
    const all = await this.redis.hgetall(this.hashKey);
    for (const [key, json] of Object.entries(all)) this.map.set(key, JSON.parse(json) as T);
    return this.map.size;
  }

  override set(key: string, value: T): void {
    super.set(key, value);
    this.ahead.delete(key);
  }

  override delete(key: string): void {
    super.delete(key);
    this.ahead.delete(key);
  }

  async refresh(): Promise<void> {
    const all = await this.redis.hgetall(this.hashKey);
    for (const [key, json] of Object.entries(all)) if (!this.dirty.has(key)) this.map.set(key, JSON.parse(json) as T);
    for (const key of [...this.map.keys()]) if (!(key in all) && !this.dirty.has(key)) this.map.delete(key);
  }

  entries(): IterableIterator<[string, T]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }

  get pendingWrites(): number {
    return this.dirty.size;
  }

  /** Writes the dirty keys; never rejects (a failure keeps them dirty for the next call). */
  async persist(): Promise<void> {
    if (this.dirty.size === 0) return;
    // A Set's iterator goes on over what is added and skips what is removed between the slices.
    const pending = this.dirty.values();
    await inSlices((more) => {
      for (let r = pending.next(); !r.done; r = pending.next()) {
        const value = this.map.get(r.value);
        if (value !== undefined && !this.ahead.has(r.value)) this.ahead.set(r.value, this.serialize(value));
        if (!more()) return false;
      }
      return true;
    }, this.sliceMs);
    if (this.dirty.size === 0) return;
    const keys = [...this.dirty];
    this.dirty.clear();
    const tx = this.redis.multi();
    for (const key of keys) {
      const value = this.map.get(key);
      if (value !== undefined) tx.hset(this.hashKey, key, this.ahead.get(key) ?? this.serialize(value));
      else tx.hdel(this.hashKey, key);
    }
    this.ahead.clear();
    try {
      await tx.exec();
      this.lastError = null;
    } catch (err) {
      for (const key of keys) this.dirty.add(key);
      this.lastError = `Redis write failed, ${this.dirty.size} changes waiting: ${errorMessage(err)}`;
    }
  }
}
