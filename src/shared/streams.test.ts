// ensureStreamConfig over a JetStream manager that answers as the server does when two processors create the same
// stream at once: the look says missing, the add is refused (the other's stream is there by then), the next look
// finds it.
import type { JetStreamManager, StreamConfig, StreamInfo } from 'nats';
import { describe, expect, it } from 'vitest';
import { JS_ERR } from './natsErrors.js';
import { ensureStreamConfig } from './streams.js';

const notFound = () => Object.assign(new Error('stream not found'), { api_error: { code: 404, err_code: JS_ERR.streamNotFound, description: 'stream not found' } });
const overlap = () => Object.assign(new Error('subjects overlap with an existing stream'), { api_error: { code: 400, err_code: 10065, description: 'subjects overlap with an existing stream' } });
const WANTED: Partial<StreamConfig> = { subjects: ['ev.>'], max_age: 1_000 };
const differs = (c: StreamConfig) => c.subjects.join() !== WANTED.subjects!.join() || c.max_age !== WANTED.max_age;

/** A manager whose info() answers `looks` in turn (an error is thrown) and whose add() answers `adds` in turn. */
function manager(looks: (StreamConfig | Error)[], adds: (Error | null)[]) {
  const calls: string[] = [];
  const jsm = {
    streams: {
      info: async (name: string) => {
        calls.push(`info ${name}`);
        const next = looks.shift();
        if (next === undefined || next instanceof Error) throw next ?? notFound();
        return { config: next } as StreamInfo;
      },
      add: async (cfg: Partial<StreamConfig>) => {
        calls.push(`add ${cfg.name} ${cfg.subjects!.join()}`);
        const next = adds.shift();
        if (next) throw next;
        return { config: cfg } as StreamInfo;
      },
      update: async (name: string, cfg: Partial<StreamConfig>) => {
        calls.push(`update ${name} ${cfg.max_age}`);
        return { config: cfg } as StreamInfo;
      },
    },
  } as unknown as JetStreamManager;
  return { jsm, calls };
}

describe('ensureStreamConfig', () => {
  it('adopts the stream another processor created between its look and its add', async () => {
    const { jsm, calls } = manager([notFound(), { name: 'S', subjects: ['ev.>'], max_age: 1_000 } as StreamConfig], [overlap()]);
    expect(await ensureStreamConfig(jsm, 'S', WANTED, differs)).toBe('kept');
    expect(calls).toEqual(['info S', 'add S ev.>', 'info S']);
  });

  it('brings the other processor’s stream to the wanted configuration when it differs', async () => {
    const { jsm, calls } = manager([notFound(), { name: 'S', subjects: ['ev.>'], max_age: 5 } as StreamConfig], [overlap()]);
    expect(await ensureStreamConfig(jsm, 'S', WANTED, differs)).toBe('updated');
    expect(calls).toEqual(['info S', 'add S ev.>', 'info S', 'update S 1000']);
  });

  it('creates a missing stream, keeps a matching one, updates one that differs', async () => {
    expect(await ensureStreamConfig(manager([notFound()], [null]).jsm, 'S', WANTED, differs)).toBe('created');
    expect(await ensureStreamConfig(manager([{ subjects: ['ev.>'], max_age: 1_000 } as StreamConfig], []).jsm, 'S', WANTED, differs)).toBe('kept');
    expect(await ensureStreamConfig(manager([{ subjects: ['other.>'], max_age: 1_000 } as StreamConfig], []).jsm, 'S', WANTED, differs)).toBe('updated');
  });

  it('gives the add’s error when the stream is still missing after it: a real overlap, with another stream', async () => {
    const { jsm, calls } = manager([notFound(), notFound()], [overlap(), overlap()]);
    await expect(ensureStreamConfig(jsm, 'S', WANTED, differs)).rejects.toThrow(/subjects overlap/);
    expect(calls).toEqual(['info S', 'add S ev.>', 'info S', 'add S ev.>']);
  });

  it('passes on an error of the look that is not "not found"', async () => {
    const { jsm } = manager([new Error('timeout')], []);
    await expect(ensureStreamConfig(jsm, 'S', WANTED, differs)).rejects.toThrow('timeout');
  });
});
