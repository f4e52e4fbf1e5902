// Starts a worker thread on a module next to the caller, so it works from the build (dist/, the .js file) and under
// tsx (tests, the bench: the .ts file). Node 20 does not carry tsx's loader hooks into a worker, so there the worker
// registers them itself before importing the module.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';

/** `name` without extension, resolved against `callerUrl` (the caller's import.meta.url); `transferList`: ports in workerData. */
export function spawnModuleWorker(callerUrl: string, name: string, workerData: unknown, transferList?: Transferable[]): Worker {
  const typescript = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${typescript ? '.ts' : '.js'}`, callerUrl);
  if (!typescript) return new Worker(entry, { workerData, transferList });
  const tsx = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : tsxEsmApi(callerUrl);
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData, transferList });
}

/** vitest runs modules without import.meta.resolve: the ESM entry of tsx/esm/api read from tsx's package exports. */
function tsxEsmApi(callerUrl: string): string {
  const manifest = createRequire(callerUrl).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(manifest), pkg.exports['./esm/api'].import.default)).href;
}
