// What the server says, typed by the wall's protocol (src/wall/protocol.ts): frames update the state, answers the forms.
import type { ServerMessage } from '../../protocol.js';
import { pongReceived } from './connection.js';
import { scheduleRender, toast } from './dom.js';
import { clockTime } from './matching.js';
import { closeSilenceDialog, silenceFormError, silenceSubmitting } from './silenceForm.js';
import { applyFrame, applySnapshot, state } from './state.js';

export function onServerMessage(data: string): void {
  let message: ServerMessage;
  try {
    // The server's own output: its shape is the protocol's, checked where it is made.
    message = JSON.parse(data) as ServerMessage;
  } catch {
    return;
  }
  if (Array.isArray(message)) {
    for (const frame of message) applyFrame(frame);
    state.lastFrameAt = Date.now();
  } else if (message.type === 'hello') {
    state.role = message.role;
    state.serverOffset = message.serverTime - Date.now();
  } else if (message.type === 'snapshot') {
    applySnapshot(message);
    state.lastFrameAt = Date.now();
  } else if (message.type === 'pong') {
    pongReceived();
  } else if (message.type === 'acked') {
    // The alert frame with `acknowledged` set follows through the source; until then the button stays pending.
  } else if (message.type === 'silenced') {
    // The silence list with it follows as a `silences` frame.
    if (silenceSubmitting()) {
      closeSilenceDialog();
      toast(`Silenced until ${clockTime(message.silence.endsAt)}.`, 'ok');
    }
  } else if (message.type === 'silence_expired') {
    toast('Silence expired: matching alerts are notified again.', 'ok');
  } else if (message.type === 'error') {
    if (message.alertId) state.ackPending.delete(message.alertId);
    if (message.silenceId) state.expirePending.delete(message.silenceId);
    // Over the wall's message rate some commands were dropped without an answer of their own: give every button back.
    const dropped = message.code === 'RATE_LIMITED';
    if (dropped) {
      state.ackPending.clear();
      state.expirePending.clear();
    }
    if ((message.command === 'silence' || dropped) && silenceSubmitting()) silenceFormError(`${message.message}`);
    else toast(`${message.code}: ${message.message}`);
  }
  scheduleRender();
}

/** The socket closed: nothing pending will be answered. */
export function onConnectionDropped(): void {
  state.ackPending.clear();
  state.expirePending.clear();
  if (silenceSubmitting()) silenceFormError('The connection dropped before the silence was confirmed; check the list, then try again.');
}
