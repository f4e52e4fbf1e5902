import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';

describe('wall config: safe by default', () => {
  it('listens on loopback with no tokens, and refuses an open wall elsewhere unless allowOpen says so', () => {
    const defaults = parseConfig({});
    expect(defaults.wall.host).toBe('127.0.0.1');
    expect(defaults.wall.allowOpen).toBe(false);
    expect(() => parseConfig({ wall: { host: '0.0.0.0' } })).toThrow(/wall\.host: 0\.0\.0\.0 is not a loopback address and no tokens are set/);
    expect(() => parseConfig({ wall: { host: '10.1.2.3' } })).toThrow(/allowOpen/);
    expect(parseConfig({ wall: { host: '0.0.0.0', allowOpen: true } }).wall.host).toBe('0.0.0.0');
    expect(parseConfig({ wall: { host: '0.0.0.0', tokens: { viewer: ['viewer-token-1'] } } }).wall.host).toBe('0.0.0.0');
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) expect(parseConfig({ wall: { host } }).wall.host).toBe(host);
  });
});
