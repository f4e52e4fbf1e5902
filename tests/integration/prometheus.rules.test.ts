// Vigil's health rules pass the real promtool: the file checks, and its unit tests (vigil-rules.test.yml) hold.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { promtool } from '../helpers/promStack.js';

const dir = fileURLToPath(new URL('../../dashboards/prometheus/', import.meta.url));

describe('dashboards/prometheus/vigil-rules.yml', () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', `${dir}vigil-rules.yml`]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it('passes its unit tests (promtool test rules)', () => {
    const r = promtool(['test', 'rules', `${dir}vigil-rules.test.yml`]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });
});
