// Where active alerts live: an interface, so the engine runs on memory in unit tests and on Redis in production.
import type { AlertRecord } from './alertStateMachine.js';

export interface AlertStore {
  get(key: string): AlertRecord | undefined;
  set(key: string, record: AlertRecord): void;
  delete(key: string): void;
  /** Every active (pending or firing) alert with its key. */
  entries(): IterableIterator<[string, AlertRecord]>;
  readonly size: number;
}

export class MemoryAlertStore implements AlertStore {
  private readonly map = new Map<string, AlertRecord>();
  get(key: string): AlertRecord | undefined {
    return this.map.get(key);
  }
  set(key: string, record: AlertRecord): void {
    this.map.set(key, record);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  entries(): IterableIterator<[string, AlertRecord]> {
    return this.map.entries();
  }
  get size(): number {
    return this.map.size;
  }
}
