// The wall's contact-budget routes over whichever budget answers: the single pipeline's, or the cluster's router.
import type { PressureApi, PressureOutcome } from '../contract/frames.js';
import { parseBatch, type BatchRequest } from '../budget/requests.js';

/** A malformed batch is an error answer; a well-formed one is answered by `batch` (synchronously if it is). */
export function pressureRoutes(maxBatch: number, customer: (id: string) => unknown, batch: (req: BatchRequest) => unknown): PressureApi {
  return {
    customer,
    check: (body): PressureOutcome | Promise<PressureOutcome> => {
      const parsed = parseBatch(body, maxBatch);
      if (!parsed.ok) return parsed;
      const result = batch(parsed.value);
      return result instanceof Promise ? result.then((r: unknown) => ({ ok: true, result: r })) : { ok: true, result };
    },
  };
}
