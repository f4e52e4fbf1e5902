// Picks the wall's transport from config: `auto` prefers uWebSockets.js when its native binary loads on this Node, else `ws`.
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import type { TransportFactory, TransportName } from './types.js';
import { createUwsTransport, loadUws } from './uws.js';
import { createWsTransport } from './ws.js';

export type TransportChoice = 'auto' | TransportName;

export interface SelectedTransport {
  name: TransportName;
  factory: TransportFactory;
}

/** `uws` throws VigilError WALL_TRANSPORT_UNAVAILABLE where the binary cannot load; `auto` falls back to `ws` and says why. */
export function selectTransport(choice: TransportChoice, logger: Logger): SelectedTransport {
  if (choice === 'ws') {
    logger.info({ transport: 'ws' }, 'wall transport: ws (configured)');
    return { name: 'ws', factory: createWsTransport };
  }
  try {
    const factory = createUwsTransport(loadUws());
    logger.info({ transport: 'uws' }, choice === 'auto' ? 'wall transport: uws (auto: native binary loaded)' : 'wall transport: uws (configured)');
    return { name: 'uws', factory };
  } catch (err) {
    if (choice === 'uws') throw err;
    logger.warn({ transport: 'ws', reason: errorMessage(err) }, 'wall transport: ws (auto: uWebSockets.js unavailable)');
    return { name: 'ws', factory: createWsTransport };
  }
}
