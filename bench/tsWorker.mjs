// Starts a TypeScript worker thread through tsx: in Node 20 a worker does not inherit the parent's --import hooks.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
