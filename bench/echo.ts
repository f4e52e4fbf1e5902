// The floor under the contact budget's answers on this machine: a responder that answers a check-shaped request with
// a decision-shaped answer and decides nothing, run in the processor's process either on its main thread (beside the
// pipeline, as the budget is) or on a worker thread of its own (as a budget answered from shared memory would be).
// bench/run.ts's budget phase sends it the same 1,000 requests a second as the checks while the processor takes the
// same stream; what its answers wait is what any design on that thread waits before deciding anything.
import { connect } from 'nats';
import { runQueueMeter } from './machine.js';

export interface EchoStats {
  answered: number;
  /** Of each second, how long the answering thread was ready to run and waited for a core (Linux; else null). */
  runQueueMsPerS: number | null;
}

/** Answers `subject` on a connection of its own until the returned stop() is called. */
export async function startEcho(servers: string, subject: string, name: string): Promise<() => Promise<EchoStats>> {
  const nc = await connect({ servers, name });
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let answered = 0;
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      // What a check costs besides its decision: the request read, an answer of the budget's shape written.
      const req = JSON.parse(dec.decode(msg.data)) as { customerId: string; channel: string };
      msg.respond(enc.encode(JSON.stringify({ customerId: req.customerId, channel: req.channel, allowed: true, reasons: [], until: null, remaining: 1, reserved: true })));
      answered++;
    },
  });
  await nc.flush();
  const waiting = runQueueMeter();
  return async () => {
    const runQueueMsPerS = waiting.msPerS();
    await nc.drain();
    return { answered, runQueueMsPerS };
  };
}
