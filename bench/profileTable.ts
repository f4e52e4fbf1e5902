// The largest self-time entries of a V8 CPU profile (.cpuprofile) as a Markdown table: the before/after
// profile tables come from here. `node --import tsx bench/profileTable.ts <file.cpuprofile> [N=15]`
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
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
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/^.*?\/(src|bench|node_modules)\//, '$1/');
    const where = file ? `${file}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = us.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    entry.us += dt;
    us.set(key, entry);
  });
  return [...us.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, share: total > 0 ? e.us / total : 0 }));
}

if (process.argv[1]?.endsWith('profileTable.ts')) {
  const [file, n = '15'] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node --import tsx bench/profileTable.ts <file.cpuprofile> [N]');
    process.exit(2);
  }
  const rows = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile).slice(0, Number(n));
  console.log('| # | self time | share | function | where |\n| --- | --- | --- | --- | --- |');
  rows.forEach((r, i) => console.log(`| ${i + 1} | ${r.ms.toFixed(0)} ms | ${(r.share * 100).toFixed(1)} % | \`${r.name}\` | ${r.where} |`));
}
