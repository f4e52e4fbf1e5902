// The source tree's shape as the team keeps it: no import circles between modules (type-only imports count too:
// they tie two files' meanings together just the same), every folder under src/ described in ARCHITECTURE.md, and
// no module over 400 lines without the reason at its top.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(new URL(import.meta.url).pathname));

const ROOT = join(SRC, '..');
/** Past this, a module says at its top why it is one file (the team's rule: about 300, at most ~400 without one). */
const MAX_LINES_WITHOUT_A_REASON = 400;

function allTsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'results') return [];
    if (statSync(path).isDirectory()) return allTsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** The files tsconfig.build.json compiles into dist/, as TypeScript itself reads the config. */
function buildFiles(): string[] {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } };
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.build.json'), {}, host);
  if (!parsed) throw new Error('tsconfig.build.json could not be read');
  return parsed.fileNames.map((f) => resolve(f));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports and re-exports of each file, as absolute .ts paths. */
export function importGraph(files: string[], read: (path: string) => string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps: string[] = [];
    for (const m of read(file).matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms)) {
      deps.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
    }
    graph.set(file, deps);
  }
  return graph;
}

/** The strongly connected components of more than one file (Tarjan): each is an import circle. */
export function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('the source tree', () => {
  it('has no import circles', () => {
    const found = circles(importGraph(sourceFiles(SRC), (p) => readFileSync(p, 'utf8')));
    expect(found.map((c) => c.map((f) => relative(SRC, f)))).toEqual([]);
  });

  it('finds a circle when there is one, type-only imports included', () => {
    const files = { '/s/a.ts': "import { b } from './b.js';", '/s/b.ts': "import type { C } from './c.js';", '/s/c.ts': "export type { A } from './a.js';", '/s/d.ts': "import { a } from './a.js';" };
    const found = circles(importGraph(Object.keys(files), (p) => files[p as keyof typeof files]));
    expect(found).toEqual([['/s/a.ts', '/s/b.ts', '/s/c.ts']]);
  });

  it('compiles no test helper into the build: a module only tests import is a *.testing.ts that the build excludes', () => {
    const built = buildFiles();
    expect(built).toContain(join(SRC, 'main.ts'));
    expect(built.filter((f) => f.endsWith('.test.ts') || f.endsWith('.testing.ts'))).toEqual([]);
    // Who imports each file: every source of the repository (src, tests, scripts, bench), dynamic imports included.
    const importers = new Map<string, string[]>();
    for (const dir of ['src', 'tests', 'scripts', 'bench']) {
      for (const file of allTsFiles(join(ROOT, dir))) {
        const text = readFileSync(file, 'utf8');
        const specs = [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms), ...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]);
        for (const spec of specs) {
          const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
          importers.set(target, [...(importers.get(target) ?? []), file]);
        }
      }
    }
    const isTest = (f: string) => f.endsWith('.test.ts') || f.endsWith('.testing.ts');
    const onlyForTests = built.filter((f) => (importers.get(f) ?? []).length > 0 && importers.get(f)!.every(isTest));
    expect(onlyForTests.map((f) => relative(SRC, f))).toEqual([]);
  });

  it('describes every src/ folder in ARCHITECTURE.md', () => {
    const doc = readFileSync(join(SRC, '..', 'ARCHITECTURE.md'), 'utf8');
    const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());
    expect(folders.length).toBeGreaterThan(5);
    expect(folders.filter((name) => !doc.includes(`**${name}/**`))).toEqual([]);
  });

  it('keeps modules short: one over 400 lines says at its top why ("on purpose")', () => {
    const long = sourceFiles(SRC)
      .map((f) => ({ f: relative(SRC, f), lines: readFileSync(f, 'utf8').split('\n') }))
      .filter(({ lines }) => lines.length > MAX_LINES_WITHOUT_A_REASON);
    expect(long.length).toBeGreaterThan(0);
    expect(long.filter(({ lines }) => !lines.slice(0, 12).some((l) => l.startsWith('//') && l.includes('on purpose'))).map(({ f }) => f)).toEqual([]);
  });
});
