/**
 * What a process cost, read from Linux /proc: peak resident set (VmHWM) and CPU seconds of a
 * child, and the CPU seconds of a whole PostgreSQL cluster (the postmaster, the backends alive
 * now, and — through the postmaster's cumulative children times — every backend that already
 * exited). Off Linux every figure is null.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

let ticks: number | undefined;
/** clock ticks per second of /proc/<pid>/stat times (CLK_TCK, nearly always 100) */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

interface Stat {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid = field 4, utime 14, stime 15, cutime 16, cstime 17
  return {
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
  };
}

/** user + system CPU seconds of a live process (not its children), or null */
export function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  const s = readStat(pid);
  return s ? (s.utime + s.stime) / clockTicks() : null;
}

/** peak resident set size of a live process (VmHWM), bytes, or null */
export function peakRssBytes(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * CPU seconds the PostgreSQL cluster in `dataDir` has used since it started: the postmaster's
 * own and its reaped children's times, plus the times of the children alive now.
 */
export function clusterCpuSeconds(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
  const pm = readStat(pid);
  if (!pm) return null;
  let total = pm.utime + pm.stime + pm.cutime + pm.cstime;
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = readStat(Number(e));
    if (s && s.ppid === pid) total += s.utime + s.stime;
  }
  return total / clockTicks();
}
