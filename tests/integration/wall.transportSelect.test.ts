// Transport choice where uWebSockets.js has no binary (Node 22/24 report ABI 127/137): `auto` falls back to ws and says
// why; `uws` fails with a clear WALL_TRANSPORT_UNAVAILABLE instead of crashing or quietly using the package's slow imitation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/shared/logger.js';
import { VigilError } from '../../src/shared/errors.js';

const realAbi = process.versions.modules;

describe('selecting the wall transport on a Node without a uWS binary', () => {
  beforeAll(() => {
    Object.defineProperty(process.versions, 'modules', { value: '127', configurable: true });
  });
  afterAll(() => {
    Object.defineProperty(process.versions, 'modules', { value: realAbi, configurable: true });
  });

  it('auto picks ws, and uws throws WALL_TRANSPORT_UNAVAILABLE naming the missing binary', async () => {
    // Imported here, not at the top: the module must not have loaded uWS under the real ABI first.
    const { selectTransport } = await import('../../src/wall/transport/select.js');
    expect(selectTransport('auto', silentLogger).name).toBe('ws');
    let thrown: unknown;
    try {
      selectTransport('uws', silentLogger);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(VigilError);
    expect((thrown as VigilError).code).toBe('WALL_TRANSPORT_UNAVAILABLE');
    expect((thrown as VigilError).message).toContain('ABI 127');
  });
});
