/**
 * Preloaded (`node -r …/rss-probe.js`) into a short-lived child whose peak memory the harness
 * wants (the landing CLI): at exit it writes {pid, maxRssBytes, cpuSeconds} as one JSON line to
 * the file named by MD_BENCH_PROBE_FILE. Nothing else is changed in the process.
 */
import fs from 'node:fs';

const out = process.env.MD_BENCH_PROBE_FILE;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    const line = JSON.stringify({
      pid: process.pid,
      // resourceUsage().maxRSS is in kilobytes (getrusage ru_maxrss)
      maxRssBytes: u.maxRSS * 1024,
      cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6,
    });
    try {
      fs.appendFileSync(out, line + '\n');
    } catch {
      // best effort: the harness reports the figure as missing
    }
  });
}
