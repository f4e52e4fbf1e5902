// Just enough of k6's API for `tsc -p load-tests/tsconfig.k6.json` to type-check wall.k6.js; k6 itself is not installed here.
// Covers only what wall.k6.js uses (k6/ws is the long-stable WebSocket module).

declare module 'k6' {
  export function check<T>(value: T, checks: Record<string, (value: T) => boolean>): boolean;
  export function sleep(seconds: number): void;
}

declare module 'k6/ws' {
  export interface Socket {
    on(event: 'open' | 'close', handler: () => void): void;
    on(event: 'message', handler: (data: string) => void): void;
    on(event: 'error', handler: (event: { error(): string }) => void): void;
    send(data: string): void;
    close(): void;
    setTimeout(handler: () => void, ms: number): void;
    setInterval(handler: () => void, ms: number): void;
  }
  export interface Response {
    status: number;
    error: string;
  }
  export interface Params {
    headers?: Record<string, string>;
    tags?: Record<string, string>;
  }
  export function connect(url: string, params: Params, handler: (socket: Socket) => void): Response;
}

declare module 'k6/metrics' {
  export class Counter {
    constructor(name: string);
    add(value: number, tags?: Record<string, string>): void;
  }
  export class Trend {
    constructor(name: string, isTime?: boolean);
    add(value: number, tags?: Record<string, string>): void;
  }
}

/** k6 passes `-e KEY=value` and the environment here. */
declare const __ENV: Record<string, string | undefined>;
