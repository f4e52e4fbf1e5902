// The wall page builds for the browser: one ES module importing only the assets the wall serves beside it, and no
// Node module (which is why the silence matcher lives in alerts/matchers.ts, apart from silences.ts and node:crypto).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleWallPage, writeWallPage } from './pageBundle.js';

const PAGE_SOURCES = fileURLToPath(new URL('./page/', import.meta.url));
const temps: string[] = [];

/** A page folder whose entry point is `main`, written where relative imports reach src/ as the real page's do. */
function pageWith(main: string): string {
  const dir = mkdtempSync(join(PAGE_SOURCES, '..', '.page-test-'));
  temps.push(dir);
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'main.ts'), main);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the wall page bundle', () => {
  it('is one ES module whose only imports are uPlot and re2js, served beside it', async () => {
    const bundle = await bundleWallPage(PAGE_SOURCES);
    const imports = [...bundle.matchAll(/^\s*import\b[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]).sort();
    expect(imports).toEqual(['./re2js.js', './uPlot.esm.js']);
    expect(bundle).not.toMatch(/\brequire\(|node:/);
    // The processor's matcher, not a copy: its refusal text comes from alerts/matchers.ts.
    expect(bundle).toContain('src/alerts/matchers.ts');
  });

  it('refuses a page that reaches a Node module, as silences.ts would with node:crypto', async () => {
    await expect(bundleWallPage(pageWith("import { newSilence } from '../../../alerts/silences.js';\nconsole.log(newSilence);\n"))).rejects.toThrow(/node:crypto/);
    await expect(bundleWallPage(pageWith("import { compileMatchers } from '../../../alerts/matchers.js';\nconsole.log(compileMatchers);\n"))).resolves.toContain('compileMatchers');
  });

  it('writes index.html, wall.css and wall.js, and never into its own sources', async () => {
    const out = mkdtempSync(join(tmpdir(), 'vigil-page-'));
    temps.push(out);
    await writeWallPage(PAGE_SOURCES, out);
    for (const name of ['index.html', 'wall.css']) expect(readFileSync(join(out, name), 'utf8')).toBe(readFileSync(join(PAGE_SOURCES, name), 'utf8'));
    expect(readFileSync(join(out, 'wall.js'), 'utf8')).toContain('function renderAlerts');
    await expect(writeWallPage(PAGE_SOURCES, PAGE_SOURCES)).rejects.toThrow(/its own sources/);
    expect(existsSync(join(PAGE_SOURCES, 'wall.js'))).toBe(false);
  });
});
