// The largest self-time entries of a V8 CPU profile (.cpuprofile) as a Markdown table: the before/after
// profile tables come from here. `node --import tsx bench/profileTable.ts <file.cpuprofile> [N=15]`
// `--long-tasks` instead: the N longest stretches of samples in one phase of the loop (what held it, e.g. the
// checkpoint in a live phase), each with the frames that took most of it.
// A `.heapprofile` (written beside each phase's CPU profile) gives the N largest allocation sites instead: bytes
// sampled per function with the caller that allocated most through it, what the collector's share comes from.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A frame's file (from the repository's src/, bench/ or node_modules/) and line, or '' for the engine's own. */
function whereOf({ url, lineNumber }: { url: string; lineNumber: number }): string {
  const file = url.replace(/^file:\/\//, '').replace(/^.*?\/(src|bench|node_modules)\//, '$1/');
  return file ? `${file}:${lineNumber + 1}` : '';
}

/** Self time per function (name, file and line), summed over every node that is that function, largest first. */
export function selfTimes(profile: Profile): { name: string; where: string; ms: number; share: number }[] {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const us = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byNode.get(id);
    if (!node) return;
    total += dt;
    const { functionName } = node.callFrame;
    const where = whereOf(node.callFrame);
    const key = `${functionName}@${where}`;
    const entry = us.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    entry.us += dt;
    us.set(key, entry);
  });
  return [...us.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, share: total > 0 ? e.us / total : 0 }));
}

const frameName = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop() ?? ''}:${n.callFrame.lineNumber + 1}`;

/**
 * Stretches of samples between idle ones or changes of the outermost frame (a turn of the loop), longest first, with
 * the time each frame on their stacks was present.
 */
export function longTasks(profile: Profile): { startMs: number; ms: number; frames: [string, number][] }[] {
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const tasks: { startMs: number; ms: number; outer: number; frames: Map<string, number> }[] = [];
  let current: (typeof tasks)[number] | null = null;
  let t = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    t += dt;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') {
      current = null;
      return;
    }
    // The outermost frame (the child of the root: processImmediate, processTimers, a socket's callback…) is one
    // phase of the loop; when it changes, the loop went round and polled its sockets in between.
    let outer = id;
    for (let up = parent.get(outer); up !== undefined && byId.get(up)!.callFrame.functionName !== '(root)'; up = parent.get(outer)) outer = up;
    if (current && current.outer !== outer) current = null;
    if (!current) tasks.push((current = { startMs: t, ms: 0, outer, frames: new Map() }));
    current.ms += dt;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = frameName(byId.get(at)!);
      if (seen.has(name) || name.startsWith('(root)')) continue;
      seen.add(name);
      current.frames.set(name, (current.frames.get(name) ?? 0) + dt);
    }
  });
  return tasks.sort((a, b) => b.ms - a.ms).map((k) => ({ startMs: k.startMs, ms: k.ms, frames: [...k.frames].sort((a, b) => b[1] - a[1]) }));
}

/** A V8 sampling heap profile (HeapProfiler.stopSampling): a call tree whose nodes carry the bytes sampled there. */
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children?: HeapNode[];
}

/** Bytes sampled per allocating function, largest first, each with the caller that allocated most through it. */
export function allocationSites(root: HeapNode): { name: string; where: string; bytes: number; share: number; via: string }[] {
  const sites = new Map<string, { name: string; where: string; bytes: number; via: Map<string, number> }>();
  let total = 0;
  const walk = (node: HeapNode, caller: string) => {
    const where = whereOf(node.callFrame);
    const name = node.callFrame.functionName || '(anonymous)';
    if (node.selfSize > 0) {
      total += node.selfSize;
      const key = `${name}@${where}`;
      const site = sites.get(key) ?? { name, where, bytes: 0, via: new Map<string, number>() };
      site.bytes += node.selfSize;
      site.via.set(caller, (site.via.get(caller) ?? 0) + node.selfSize);
      sites.set(key, site);
    }
    for (const child of node.children ?? []) walk(child, `${name} ${where.split('/').pop() ?? ''}`);
  };
  walk(root, '');
  return [...sites.values()]
    .sort((a, b) => b.bytes - a.bytes)
    .map((s) => ({ name: s.name, where: s.where, bytes: s.bytes, share: total > 0 ? s.bytes / total : 0, via: [...s.via].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '' }));
}

if (process.argv[1]?.endsWith('profileTable.ts')) {
  const args = process.argv.slice(2);
  const long = args.includes('--long-tasks');
  const [file, n = long ? '5' : '15'] = args.filter((a) => a !== '--long-tasks');
  if (!file) {
    console.error('usage: node --import tsx bench/profileTable.ts [--long-tasks] <file.cpuprofile | file.heapprofile> [N]');
    process.exit(2);
  }
  if (file.endsWith('.heapprofile')) {
    const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
    console.log('| # | sampled | share | allocated in | where | mostly called from |\n| --- | --- | --- | --- | --- | --- |');
    allocationSites(head)
      .slice(0, Number(n))
      .forEach((r, i) => console.log(`| ${i + 1} | ${(r.bytes / 2 ** 20).toFixed(1)} MiB | ${(r.share * 100).toFixed(1)} % | \`${r.name}\` | ${r.where} | ${r.via} |`));
    process.exit(0);
  }
  if (long) {
    for (const task of longTasks(JSON.parse(readFileSync(file, 'utf8')) as Profile).slice(0, Number(n))) {
      console.log(`${task.ms.toFixed(0)} ms from ${(task.startMs / 1000).toFixed(1)} s into the profile:`);
      for (const [name, ms] of task.frames.slice(0, 12)) console.log(`  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
    }
    process.exit(0);
  }
  const rows = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile).slice(0, Number(n));
  console.log('| # | self time | share | function | where |\n| --- | --- | --- | --- | --- |');
  rows.forEach((r, i) => console.log(`| ${i + 1} | ${r.ms.toFixed(0)} ms | ${(r.share * 100).toFixed(1)} % | \`${r.name}\` | ${r.where} |`));
}
