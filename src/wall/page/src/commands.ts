// A responder's one-click commands: acknowledge an alert, expire a silence. The answer arrives as frames.
import { scheduleRender, toast } from './dom.js';
import { send } from './connection.js';
import { ackBy, state } from './state.js';

export function acknowledge(alertId: string | undefined, node: HTMLButtonElement | null): void {
  if (!alertId || state.ackPending.has(alertId)) return;
  const message = ackBy ? { type: 'ack' as const, alertId, by: ackBy } : { type: 'ack' as const, alertId };
  if (!send(message)) {
    toast('Not connected: the acknowledgement was not sent.');
    return;
  }
  state.ackPending.add(alertId);
  if (node) node.disabled = true;
  scheduleRender();
}

export function expireSilence(id: string | undefined, node: HTMLButtonElement): void {
  if (!id || state.expirePending.has(id)) return;
  if (!send({ type: 'expire_silence', id })) {
    toast('Not connected: the silence was not expired.');
    return;
  }
  state.expirePending.add(id);
  node.disabled = true;
  scheduleRender();
}
