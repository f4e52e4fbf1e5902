// Builds the wall page for the browser: src/wall/page/src/main.ts and all it imports (the contract's frame types, the
// silence matcher of alerts/matchers.ts) bundled by esbuild into one ES module, wall.js. uPlot and re2js stay the
// separate assets assets.ts serves. `npm run build` writes the page to dist/wall/page (`node dist/wall/pageBundle.js`);
// run from the sources (tsx, vitest) the wall bundles it in memory at start, so it always serves the code as it is.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';

/** The page's entry point, relative to the page's source folder. */
export const PAGE_ENTRY = 'src/main.ts';
/** Files served as they are, beside the bundle. */
export const PAGE_STATIC_FILES = ['index.html', 'wall.css'];
export const PAGE_BUNDLE = 'wall.js';

/** The page's bare imports, and the asset each is served as (assets.ts): loaded once by the browser, not bundled. */
const SERVED_SEPARATELY: Record<string, string> = { uplot: './uPlot.esm.js', re2js: './re2js.js' };

const servedSeparately: Plugin = {
  name: 'wall-served-separately',
  setup(build) {
    build.onResolve({ filter: /^(uplot|re2js)$/ }, (args) => ({ path: SERVED_SEPARATELY[args.path], external: true }));
  },
};

/** wall.js as text. Rejects when the page does not bundle for the browser, e.g. when it reaches a Node module. */
export async function bundleWallPage(sourceDir: string): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    throw new Error('the wall page is not built and esbuild, which builds it, is not installed: run `npm run build` where the dev dependencies are', { cause: err });
  }
  const result = await esbuild.build({
    entryPoints: [join(sourceDir, PAGE_ENTRY)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
    write: false,
    banner: { js: '// The wall page, bundled from src/wall/page/src by src/wall/pageBundle.ts: edit those, not this.' },
    plugins: [servedSeparately],
  });
  return result.outputFiles[0].text;
}

/** The page as served: its static files and the bundle, written to `outDir`. */
export async function writeWallPage(sourceDir: string, outDir: string): Promise<void> {
  if (resolve(sourceDir) === resolve(outDir)) throw new Error(`the wall page would be built into its own sources (${sourceDir})`);
  const bundle = await bundleWallPage(sourceDir);
  await mkdir(outDir, { recursive: true });
  for (const name of PAGE_STATIC_FILES) await copyFile(join(sourceDir, name), join(outDir, name));
  await writeFile(join(outDir, PAGE_BUNDLE), bundle);
}

// `node dist/wall/pageBundle.js`: from the build in dist/wall/, the sources are ../../src/wall/page and the page goes to ./page.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sourceDir = fileURLToPath(new URL('../../src/wall/page/', import.meta.url));
  const outDir = fileURLToPath(new URL('./page/', import.meta.url));
  writeWallPage(sourceDir, outDir).then(
    () => console.log(`wall page built into ${outDir}`),
    (err: Error) => {
      console.error(`the wall page did not build: ${err.message}`);
      process.exitCode = 1;
    },
  );
}
