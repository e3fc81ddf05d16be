/**
 * The worker processes running on this host, known through a directory of one file per
 * process (named by its pid). A worker parses in a parse thread only while the host has a
 * core to spare for it: one worker on two cores gains a core, two workers on two cores would
 * only take turns on them (each process's parse thread competing with the other's main thread).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const RECHECK_MS = 1000;

export class HostWorkers {
  private registered = false;
  private counted = 0;
  private countedAt = -Infinity;

  constructor(
    readonly dir: string = path.join(os.tmpdir(), 'meterdata-workers'),
    private readonly pid: number = process.pid,
  ) {}

  /** Announces this process (idempotent); best effort: without the directory, it counts alone. */
  register(): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.writeFileSync(path.join(this.dir, String(this.pid)), '');
      this.registered = true;
    } catch {
      this.registered = false;
    }
    this.countedAt = -Infinity;
  }

  unregister(): void {
    if (!this.registered) return;
    fs.rmSync(path.join(this.dir, String(this.pid)), { force: true });
    this.registered = false;
  }

  /**
   * Live worker processes on this host, this one included (at least 1), re-read at most once
   * a second. Files of processes that are gone (killed before unregistering) are removed.
   */
  count(now = Date.now()): number {
    if (now - this.countedAt < RECHECK_MS) return this.counted;
    this.countedAt = now;
    let n = 0;
    let self = false;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      names = [];
    }
    for (const name of names) {
      const pid = Number(name);
      if (!Number.isSafeInteger(pid) || pid <= 0) continue;
      if (pid === this.pid) {
        self = true;
        n++;
      } else if (alive(pid)) n++;
      else fs.rmSync(path.join(this.dir, name), { force: true });
    }
    this.counted = self ? n : n + 1;
    return this.counted;
  }

  /** Whether a parse thread would run on a core no other worker process here is using. */
  coreToSpare(cores = os.availableParallelism()): boolean {
    return this.count() < cores;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
