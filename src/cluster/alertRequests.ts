// What a person does on any wall reaches the processor it concerns: an acknowledgement goes to the processor that
// holds the alert (`<prefix>.ack`), and a silence added or expired tells the others to reload theirs (`<prefix>.silences`).
import type { Msg } from 'nats';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { encodeJson, parseJson, type ClusterBus } from './clusterBus.js';

export interface AlertRequestsOptions {
  bus: ClusterBus;
  processorId: string;
  clock: Clock;
  log: Logger;
  /** True when this processor holds the alert and acknowledged it. */
  acknowledgeLocal(alertId: string, by: string): Promise<boolean>;
  /** How long an acknowledgement waits for the processor that holds the alert. */
  ackTimeoutMs: number;
  counters: { acksForwarded: number; acksAnswered: number };
}

export class AlertRequests {
  private readonly silenceListeners = new Set<() => void>();

  constructor(private readonly o: AlertRequestsOptions) {}

  /** The acknowledgements and silence changes other processors send. */
  listen(): ReturnType<ClusterBus['on']>[] {
    const { bus } = this.o;
    return [bus.on(`${bus.prefix}.ack`, (m) => void this.answerAck(m)), bus.on(`${bus.prefix}.silences`, (m) => this.onSilences(m))];
  }

  /** Acknowledges here when this processor holds the alert, else asks the one that does; false when none answers. */
  async acknowledge(alertId: string, by: string): Promise<boolean> {
    if (await this.o.acknowledgeLocal(alertId, by)) return true;
    if (this.o.bus.closed) return false;
    this.o.counters.acksForwarded++;
    try {
      const reply = await this.o.bus.request<{ ok?: unknown }>(`${this.o.bus.prefix}.ack`, { alertId, by, from: this.o.processorId }, this.o.ackTimeoutMs);
      return reply?.ok === true;
    } catch {
      return false;
    }
  }

  /** This processor added or expired a silence: the others reload theirs. */
  silencesChanged(): void {
    this.o.bus.publish(`${this.o.bus.prefix}.silences`, { from: this.o.processorId, at: this.o.clock.now() });
  }

  /** Called when another processor added or expired a silence. Returns an unsubscribe. */
  onSilencesChanged(cb: () => void): () => void {
    this.silenceListeners.add(cb);
    return () => this.silenceListeners.delete(cb);
  }

  private async answerAck(m: Msg): Promise<void> {
    const req = parseJson<{ alertId?: unknown; by?: unknown; from?: unknown }>(m.data);
    if (!req || req.from === this.o.processorId || typeof req.alertId !== 'string' || typeof req.by !== 'string' || !m.reply) return;
    try {
      // Only the holder answers: the others stay silent, so the asker hears true or times out.
      if (await this.o.acknowledgeLocal(req.alertId, req.by)) {
        m.respond(encodeJson({ ok: true, processorId: this.o.processorId }));
        this.o.counters.acksAnswered++;
      }
    } catch (err) {
      this.o.log.warn({ err: errorMessage(err), alertId: req.alertId }, 'acknowledging for another processor failed');
    }
  }

  private onSilences(m: Msg): void {
    const msg = parseJson<{ from?: unknown }>(m.data);
    if (!msg || msg.from === this.o.processorId) return;
    for (const cb of this.silenceListeners) this.o.bus.guard('silences listener', cb);
  }
}
