// The one WebSocket: connect, reconnect with backoff and jitter, a ping to expose half-open connections, and send.
import type { SilenceInput } from '../../../contract/frames.js';
import type { ClientMessage } from '../../protocol.js';
import { scheduleRender } from './dom.js';
import { state, token } from './state.js';

const PING_EVERY_MS = 15_000;
const PONG_TIMEOUT_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

/**
 * What the page sends: the protocol's commands, with `silence` as it travels (its fields beside `type`, `by` for
 * createdBy, startsAt left to the source), which `parseSilenceInput` turns into the parsed `ClientMessage`.
 */
export type SilenceCommand = { type: 'silence'; by?: string } & Pick<SilenceInput, 'matchers' | 'endsAt' | 'comment'>;
export type OutgoingMessage = Exclude<ClientMessage, { type: 'silence' }> | SilenceCommand;

export interface ConnectionHandlers {
  message(data: string): void;
  /** The socket closed; the page gives back whatever waited on an answer. */
  dropped(): void;
}

let socket: WebSocket | null = null;
let pongDeadline = 0;
let reconnectTimer = 0;

function socketUrl(): string {
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = token ? `?token=${encodeURIComponent(token)}` : '';
  url.hash = '';
  return url.toString();
}

/** False when not connected: the caller says so to the person. */
export function send(message: OutgoingMessage): boolean {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

export function pongReceived(): void {
  pongDeadline = 0;
}

export function connect(handlers: ConnectionHandlers): void {
  window.clearTimeout(reconnectTimer);
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.addEventListener('open', () => {
    state.connected = true;
    state.attempt = 0;
    pongDeadline = 0;
    scheduleRender();
  });
  ws.addEventListener('message', (event) => handlers.message(event.data));
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = null;
    state.connected = false;
    handlers.dropped();
    state.attempt += 1;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (state.attempt - 1)) * (0.75 + Math.random() * 0.5);
    state.reconnectAt = Date.now() + delay;
    reconnectTimer = window.setTimeout(() => connect(handlers), delay);
    scheduleRender();
  });
}

function heartbeat(): void {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const now = Date.now();
  // A half-open connection looks fine until a write fails; an unanswered ping exposes it.
  if (pongDeadline && now > pongDeadline) {
    socket.close();
    return;
  }
  if (!pongDeadline) {
    send({ type: 'ping' });
    pongDeadline = now + PONG_TIMEOUT_MS;
  }
}

export function startHeartbeat(): void {
  window.setInterval(heartbeat, PING_EVERY_MS);
}
