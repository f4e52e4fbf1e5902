import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './load.js';

/** Every leaf key path of the config, with maps (caps, eventWeights) and the rule list as one key each. */
function keyPaths(o: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const path = `${prefix}${k}`;
    const opaque = path === 'signals.caps' || path === 'signals.eventWeights' || path === 'budget.bounds';
    return v && typeof v === 'object' && !Array.isArray(v) && !opaque ? keyPaths(v as Record<string, unknown>, `${path}.`) : [path];
  });
}

describe('docs/config.md', () => {
  it('documents every config key', () => {
    const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
    const missing = keyPaths(parseConfig({})).filter((k) => !doc.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });
});
