/**
 * `node dist/bench/profile-summary.js <file.cpuprofile>… [--top N]`: where a V8 CPU profile
 * (written by `npm run bench -- --cpu-prof`) spent its time — self time by function and by
 * module, and the idle share (the process waiting on PostgreSQL, Redis or the disk).
 */
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function moduleOf(url: string): string {
  if (!url) return '(native)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) return u;
  const dist = u.indexOf('/dist/');
  return dist >= 0 ? u.slice(dist + '/dist/'.length) : path.basename(u);
}

export function summarize(file: string, top: number): string {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = p.endTime - p.startTime;
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (name === '(garbage collector)') gc += us;
    const key = `${name}  ${moduleOf(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = name.startsWith('(') ? name : moduleOf(n.callFrame.url);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const secs = (us: number) => `${(us / 1e6).toFixed(2).padStart(7)} s`;
  const lines = [
    `${path.basename(file)}: ${(total / 1e6).toFixed(2)} s wall, ${secs(total - idle).trim()} busy (${pct(total - idle).trim()}), ` +
      `idle ${secs(idle).trim()} (waiting on I/O), GC ${secs(gc).trim()}`,
    '  by module (self time):',
  ];
  for (const [m, us] of [...mod].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`    ${pct(us)} ${secs(us)}  ${m}`);
  }
  lines.push('  by function (self time):');
  for (const [f, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`    ${pct(us)} ${secs(us)}  ${f}`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const t = args.indexOf('--top');
  const top = t >= 0 ? Number(args.splice(t, 2)[1]) || 25 : 25;
  if (!args.length) {
    process.stderr.write(
      'usage: node dist/bench/profile-summary.js <file.cpuprofile>… [--top N]\n',
    );
    process.exitCode = 2;
  }
  for (const f of args) process.stdout.write(summarize(f, top) + '\n\n');
}
