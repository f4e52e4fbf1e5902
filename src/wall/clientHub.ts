// Fans the source's frames out to every open WebSocket: coalesced, serialized once per flush, and never blocked by a slow
// screen (a client over maxBufferedBytes is skipped, then resynced by snapshot). Two lanes share one coalescer: stats,
// at-risk and overload go out at most once per frameIntervalMs; alert and silence changes go out on the next turn of the
// event loop, and are held back (and coalesced per alert id) only while they come faster than one per alertIntervalMs.
import { Histogram } from '../shared/histogram.js';
import type { WallFrame, WallSource } from '../contract/frames.js';
import { systemClock, type Cancel, type SchedulingClock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { acknowledgeAlert } from './ack.js';
import type { Role } from './auth.js';
import { FrameCoalescer } from './coalescer.js';
import { TokenBucket } from './rateLimit.js';
import { DEFAULT_ACK_BY, parseClientMessage, type ServerMessage } from './protocol.js';
import { addSilence, expireSilence } from './silenceCommands.js';
import { shapeFrame } from './shape.js';
import type { WallConnection } from './transport/types.js';

export interface ClientContext {
  role: Role;
}

export interface ClientHubOptions {
  source: WallSource;
  logger: Logger;
  frameIntervalMs: number;
  /**
   * The urgent lane's pace: a second alert or silence flush within this long of the previous one is a storm and waits
   * out the rest of it. Shorter than frameIntervalMs, so alerts that straddle two turns of the loop are not held back
   * a whole stats interval; frameIntervalMs when absent.
   */
  alertIntervalMs?: number;
  maxBufferedBytes: number;
  atRiskListSize: number;
  /** Commands per second per client; bursts of BURST_SECONDS' worth. */
  maxMessagesPerSecond: number;
  /** Time for pacing, the rate limit and serverTime, and the timers of both lanes; the real clock by default. */
  clock?: SchedulingClock;
}

/** The token bucket holds this many seconds' worth of commands, so a screen's "acknowledge all" passes at once. */
const BURST_SECONDS = 4;
/** Commands received while the client's socket is over maxBufferedBytes, before it is closed (1008): it sends but does not read. */
const MAX_COMMANDS_WHILE_OVER = 8;
/** At most one RATE_LIMITED error per client per this many milliseconds. */
const RATE_ERROR_INTERVAL_MS = 1_000;

type Client = WallConnection<ClientContext>;

interface ClientState {
  /** Skipped at least one flush: its next message must be a fresh snapshot, not the frames it missed. */
  behind: boolean;
  bucket: TokenBucket;
  /** Commands dropped in a row by the rate limit: a client that keeps over the rate for a whole burst is closed. */
  droppedInARow: number;
  lastRateErrorAt: number;
  /** Commands received in a row while the socket was over maxBufferedBytes. */
  commandsWhileOver: number;
}

export class ClientHub {
  /** How long each flush to the connected clients took (vigil_wall_fanout_duration_seconds). */
  readonly fanoutDurations = new Histogram();
  private readonly clients = new Map<Client, ClientState>();
  private readonly pending = new FrameCoalescer();
  private unsubscribe: (() => void) | null = null;
  /** The coalesced lane: stats, at_risk, overload (and resync checks for clients that are behind). */
  private timer: Cancel | null = null;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  /** The urgent lane: alert and silence changes. */
  private urgentTimer: Cancel | null = null;
  private lastUrgentFlushAt = Number.NEGATIVE_INFINITY;
  private urgentPending = false;
  /**
   * The last snapshot text per role, reused until the next flush that carries frames. A snapshot plus every later
   * flush is the current state, so a client opening in between may get it: 300 screens reconnecting after a restart
   * cost one snapshot, not 300.
   */
  private readonly snapshotCache = new Map<Role, Buffer>();

  private readonly clock: SchedulingClock;

  constructor(private readonly options: ClientHubOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    this.unsubscribe ??= this.options.source.subscribe((frame) => this.onFrame(frame));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.timer?.();
    this.timer = null;
    this.urgentTimer?.();
    this.urgentTimer = null;
    this.clients.clear();
    this.snapshotCache.clear();
  }

  open(conn: Client): void {
    const rate = this.options.maxMessagesPerSecond;
    this.clients.set(conn, { behind: false, bucket: new TokenBucket(rate, rate * BURST_SECONDS, this.clock.now()), droppedInARow: 0, lastRateErrorAt: Number.NEGATIVE_INFINITY, commandsWhileOver: 0 });
    this.reply(conn, { type: 'hello', role: conn.context.role, serverTime: this.clock.now(), frameIntervalMs: this.options.frameIntervalMs });
    const snapshot = this.snapshotBytes(conn.context.role);
    if (snapshot === null) {
      this.reply(conn, { type: 'error', code: 'INTERNAL', message: 'the snapshot is unavailable; reconnect shortly' });
      conn.close(1011, 'snapshot unavailable');
      return;
    }
    conn.send(snapshot);
  }

  close(conn: Client): void {
    this.clients.delete(conn);
  }

  message(conn: Client, text: string): void {
    const state = this.clients.get(conn);
    if (!state || !this.admit(conn, state)) return;
    const parsed = parseClientMessage(text, this.clock.now());
    if (!parsed.ok) {
      this.reply(conn, { type: 'error', code: 'BAD_REQUEST', message: parsed.reason });
      return;
    }
    const message = parsed.message;
    if (message.type === 'ping') {
      this.reply(conn, { type: 'pong', serverTime: this.clock.now() });
      return;
    }
    const { source, logger } = this.options;
    const role = conn.context.role;
    switch (message.type) {
      case 'ack': {
        void acknowledgeAlert(source, logger, role, message.alertId, message.by ?? DEFAULT_ACK_BY).then((outcome) => {
          if (outcome.ok) this.reply(conn, { type: 'acked', alertId: outcome.alertId, by: outcome.by });
          else this.reply(conn, { type: 'error', code: outcome.code, message: outcome.message, command: 'ack', alertId: message.alertId });
        });
        return;
      }
      case 'silence': {
        void addSilence(source, logger, role, message.silence).then((outcome) => {
          if (outcome.ok) this.reply(conn, { type: 'silenced', silence: outcome.silence });
          else this.reply(conn, { type: 'error', code: outcome.code, message: outcome.message, command: 'silence' });
        });
        return;
      }
      case 'expire_silence': {
        void expireSilence(source, logger, role, message.id).then((outcome) => {
          if (outcome.ok) this.reply(conn, { type: 'silence_expired', id: outcome.id });
          else this.reply(conn, { type: 'error', code: outcome.code, message: outcome.message, command: 'expire_silence', silenceId: message.id });
        });
        return;
      }
    }
  }

  /**
   * Whether a command is worth any work: over the rate it is dropped (with at most one RATE_LIMITED error a second),
   * and a client that keeps sending while it reads nothing, or over the rate for a whole burst, is closed with 1008.
   */
  private admit(conn: Client, state: ClientState): boolean {
    if (conn.bufferedAmount() > this.options.maxBufferedBytes) {
      if (++state.commandsWhileOver > MAX_COMMANDS_WHILE_OVER) this.evict(conn, 'not reading its messages');
      return false;
    }
    state.commandsWhileOver = 0;
    const now = this.clock.now();
    if (state.bucket.take(now)) {
      state.droppedInARow = 0;
      return true;
    }
    if (++state.droppedInARow > this.options.maxMessagesPerSecond * BURST_SECONDS) {
      this.evict(conn, 'too many messages');
      return false;
    }
    // A clock set back does not silence the error for as long as it jumped.
    if (now - state.lastRateErrorAt >= RATE_ERROR_INTERVAL_MS || now < state.lastRateErrorAt) {
      state.lastRateErrorAt = now;
      this.reply(conn, { type: 'error', code: 'RATE_LIMITED', message: `over ${this.options.maxMessagesPerSecond} messages a second; dropped` });
    }
    return false;
  }

  private evict(conn: Client, why: string): void {
    this.options.logger.warn({ why }, 'closing a wall client (1008)');
    this.clients.delete(conn);
    conn.close(1008, why);
  }

  /** Replies go through the same bound as frames: a client that is not reading gets none. */
  private reply(conn: Client, message: ServerMessage): void {
    if (conn.bufferedAmount() > this.options.maxBufferedBytes) return;
    conn.send(JSON.stringify(message));
  }

  private onFrame(frame: WallFrame): void {
    this.pending.add(frame);
    if (frame.type === 'alert' || frame.type === 'silences') {
      this.urgentPending = true;
      this.scheduleUrgent();
    } else {
      this.schedule(0);
    }
  }

  /** Leading edge: the first frame after a quiet interval goes out on the next turn of the loop, later ones wait for the interval. */
  private schedule(minDelayMs: number): void {
    if (this.timer) return;
    const dueIn = Math.max(minDelayMs, this.untilIntervalEnds(this.lastFlushAt));
    this.timer = this.clock.schedule(() => {
      this.timer = null;
      this.flush();
    }, dueIn);
  }

  /** What is left of the interval that began at `since`: never more than one interval, even if the clock was set back. */
  private untilIntervalEnds(since: number, intervalMs = this.options.frameIntervalMs): number {
    return Math.min(intervalMs, Math.max(0, since + intervalMs - this.clock.now()));
  }

  /**
   * Alert and silence changes do not wait behind the stats interval: they leave on the next turn of the loop (so the
   * changes of one batch of events still share a message). Only a storm, a second urgent flush within alertIntervalMs
   * of the previous one, waits for the rest of that interval, and then its alerts are coalesced per id.
   */
  private scheduleUrgent(): void {
    if (this.urgentTimer) return;
    // 0 is the next turn of the loop (setImmediate on the real clock).
    this.urgentTimer = this.clock.schedule(() => {
      this.urgentTimer = null;
      if (this.urgentPending) this.flush();
    }, this.untilIntervalEnds(this.lastUrgentFlushAt, this.options.alertIntervalMs ?? this.options.frameIntervalMs));
  }

  /** Sends everything pending, whichever lane asked: an urgent flush carries the pending stats along, and vice versa. */
  private flush(): void {
    const now = this.clock.now();
    const frames = this.pending.drain();
    if (frames.length > 0) this.snapshotCache.clear();
    if (this.urgentPending) this.lastUrgentFlushAt = now;
    if (frames.some((frame) => frame.type !== 'alert' && frame.type !== 'silences') || !this.urgentPending) this.lastFlushAt = now;
    this.urgentPending = false;
    if (this.clients.size === 0) return;
    const started = performance.now();
    this.fanOut(frames);
    this.fanoutDurations.observeMs(performance.now() - started);
  }

  private fanOut(frames: WallFrame[]): void {
    // Serialized and UTF-8 encoded once for every client: 300 screens cost one JSON.stringify and one encoding per
    // flush, not 300 (a string handed to each socket would be encoded again for each, about 5× the CPU of a Buffer).
    // With source.forRole (pseudonyms revealed to responders) once per role instead: at most two.
    const batches = new Map<Role, Buffer | null>();
    const batchFor = (role: Role): Buffer | null => {
      if (!batches.has(role)) {
        batches.set(role, frames.length > 0 ? Buffer.from(JSON.stringify(frames.map((frame) => this.forRole(shapeFrame(frame, this.options.atRiskListSize), role))), 'utf8') : null);
      }
      return batches.get(role)!;
    };
    const snapshots = new Map<Role, Buffer | null>();
    let anyBehind = false;
    for (const [conn, state] of this.clients) {
      if (conn.bufferedAmount() > this.options.maxBufferedBytes) {
        if (!state.behind) this.options.logger.debug({ buffered: conn.bufferedAmount() }, 'wall client is slow; skipping it until it drains');
        state.behind = true;
        anyBehind = true;
        continue;
      }
      const role = conn.context.role;
      if (state.behind) {
        if (!snapshots.has(role)) snapshots.set(role, this.snapshotBytes(role));
        const snapshot = snapshots.get(role)!;
        state.behind = snapshot === null || !conn.send(snapshot);
      } else {
        const batch = batchFor(role);
        if (batch !== null) state.behind = !conn.send(batch);
      }
      anyBehind ||= state.behind;
    }
    // Skipped clients are checked again even if the source stays quiet, so a drained screen resyncs without waiting for news.
    if (anyBehind) this.schedule(this.options.frameIntervalMs);
  }

  private forRole<F extends WallFrame>(frame: F, role: Role): F {
    return this.options.source.forRole ? (this.options.source.forRole(frame, role) as F) : frame;
  }

  private snapshotBytes(role: Role): Buffer | null {
    const cached = this.snapshotCache.get(role);
    if (cached !== undefined) return cached;
    try {
      const bytes = Buffer.from(JSON.stringify(this.forRole(shapeFrame(this.options.source.snapshot(), this.options.atRiskListSize), role)), 'utf8');
      this.snapshotCache.set(role, bytes);
      return bytes;
    } catch (err) {
      this.options.logger.error({ err: errorMessage(err) }, 'the wall source failed to produce a snapshot');
      return null;
    }
  }
}
