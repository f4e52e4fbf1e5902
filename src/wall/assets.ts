// Finds and loads the wall page and uPlot once at start, so every request is served from memory and no path from a URL
// ever reaches the file system. The page is TypeScript (src/wall/page/src) bundled into wall.js by pageBundle.ts:
// dist/wall/page holds it built (`npm run build`); run from the sources, or from a dist without it, it is bundled here.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWallPage, PAGE_BUNDLE, PAGE_ENTRY } from './pageBundle.js';

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

/** Where the page is: built (index.html beside wall.js) or its sources, to be bundled at start. */
export interface PageLocation {
  dir: string;
  built: boolean;
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
 * The built page next to this module (dist/wall/page after `npm run build`), else the sources: ./page under tsx and
 * vitest, ../../src/wall/page from a dist/ that `tsc` alone made.
 */
export function locatePage(): PageLocation {
  const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
  const built = here('./page/');
  if (existsSync(join(built, 'index.html')) && existsSync(join(built, PAGE_BUNDLE))) return { dir: built, built: true };
  const sources = [here('./page/'), here('../../src/wall/page/')];
  const found = sources.find((dir) => existsSync(join(dir, PAGE_ENTRY)));
  if (!found) throw new Error(`the wall page was not found; looked for it built in ${built} and for its sources in ${sources.join(' and ')}`);
  return { dir: found, built: false };
}

/** Bundled once per process and folder: every wall a test starts serves the same page. */
const bundles = new Map<string, Promise<string>>();

export async function loadWallAssets(location = locatePage()): Promise<WallAssets> {
  const pageDir = location.dir;
  const files = new Map<string, StaticAsset>();
  for (const entry of await readdir(pageDir, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (entry.isFile() && contentType) files.set(entry.name, { contentType, body: await readFile(join(pageDir, entry.name)) });
  }
  const page = files.get('index.html');
  if (!page) throw new Error(`${pageDir} has no index.html`);
  files.delete('index.html');
  if (!location.built) {
    let bundle = bundles.get(pageDir);
    if (!bundle) {
      bundle = bundleWallPage(pageDir);
      bundles.set(pageDir, bundle);
      // A failed bundle is not kept: the next start tries again.
      bundle.catch(() => bundles.delete(pageDir));
    }
    files.set(PAGE_BUNDLE, { contentType: CONTENT_TYPES['.js'], body: Buffer.from(await bundle) });
  }
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
