// Finds and loads the wall page and uPlot once at start, so every request is served from memory and no path from a URL
// ever reaches the file system. The page lives in src/wall/page; `tsc` does not copy it, so dist/ falls back to the source tree.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticAsset {
  contentType: string;
  body: Buffer;
}

export interface WallAssets {
  pageDir: string;
  /** index.html */
  page: StaticAsset;
  /** Served under /assets/<name>: the page's own files, uPlot's and re2js. */
  files: Map<string, StaticAsset>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Where the page files are: next to this module (src/wall/page under tsx and vitest, or dist/wall/page if a build step
 * copies them), else ../../src/wall/page relative to dist/wall/ (plain `npm run build`).
 */
export function locatePageDir(): string {
  const candidates = [new URL('./page/', import.meta.url), new URL('../../src/wall/page/', import.meta.url)].map((url) => fileURLToPath(url));
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`the wall page was not found; looked in ${candidates.join(' and ')}`);
  return found;
}

export async function loadWallAssets(pageDir = locatePageDir()): Promise<WallAssets> {
  const files = new Map<string, StaticAsset>();
  for (const name of await readdir(pageDir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType) files.set(name, { contentType, body: await readFile(join(pageDir, name)) });
  }
  const page = files.get('index.html');
  if (!page) throw new Error(`${pageDir} has no index.html`);
  files.delete('index.html');
  // Resolved through the package, so hoisting or a workspace layout does not matter.
  const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
  for (const name of ['uPlot.esm.js', 'uPlot.min.css']) {
    files.set(name, { contentType: CONTENT_TYPES[extname(name)], body: await readFile(join(uplotDist, name)) });
  }
  // The page matches silences as the processor does, on RE2: a JavaScript RegExp could stall every screen on one pattern.
  // Its package exports only its entry points: the ES module build sits beside the CommonJS one.
  const re2jsDist = dirname(createRequire(import.meta.url).resolve('re2js'));
  files.set('re2js.js', { contentType: CONTENT_TYPES['.js'], body: await readFile(join(re2jsDist, 'index.js')) });
  return { pageDir, page, files };
}
