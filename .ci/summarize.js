#!/usr/bin/env node
/*
 * Summarise Jest --json result files for CI.
 *
 *   node .ci/summarize.js [--failed-stage=NAME]... [--exit-codes=C1,C2,...] FILE...
 *
 * Prints a short breakdown per run (and per failed stage), then, as the very
 * last line, exactly "N passed, N failed" where N sums numPassedTests and
 * numFailedTests over all FILEs. Extra failures are counted so that a broken
 * run can never report "0 failed":
 *   - a FILE that is missing or not valid JSON (jest crashed) counts 1 failed;
 *   - each test suite that failed without a failing test (could not run, or a
 *     beforeAll/afterAll hook threw) counts 1;
 *   - a run whose jest exit code (--exit-codes, same order as FILEs) is
 *     non-zero, or whose "success" is false, but has no failure counted yet
 *     counts 1 (e.g. "No tests found");
 *   - each --failed-stage (typecheck, lint, ...) counts 1.
 * Exits 1 if anything failed, else 0.
 *
 * Uses dynamic import() instead of require() so it passes the repo's lint rules.
 */

const MAX_LISTED = 25;

// First meaningful line of a Jest failure message (no colours, no "● ..." header).
function firstLine(text) {
  const line = String(text || '')
    // eslint-disable-next-line no-control-regex
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0 && !l.startsWith('●'));
  return line ? line.slice(0, 200) : '';
}

// Suites that failed without a failing test: could not run (syntax error,
// missing module) or a hook such as afterAll threw.
function brokenSuites(data) {
  const suites = (data.testResults || []).filter(
    (s) => s.status === 'failed' && !(s.assertionResults || []).some((t) => t.status === 'failed'),
  );
  return suites;
}

async function main(argv) {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const out = [];
  const files = [];
  const stages = [];
  let exitCodes = [];
  for (const arg of argv) {
    if (arg.startsWith('--failed-stage=')) stages.push(arg.slice('--failed-stage='.length));
    else if (arg.startsWith('--exit-codes=')) {
      exitCodes = arg
        .slice('--exit-codes='.length)
        .split(',')
        .map((c) => (c.trim() === '' ? null : Number(c)));
    } else files.push(arg);
  }

  let passed = 0;
  let failed = 0;
  files.forEach((file, i) => {
    const label = path.basename(file).replace(/\.json$/, '');
    const code = exitCodes[i] ?? null;
    const codeNote = code === null ? '' : ` [jest exit ${code}]`;
    let data;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      failed += 1;
      const why = err && err.code === 'ENOENT' ? 'no JSON output' : `unreadable JSON (${err})`;
      out.push(`${label}: CRASHED - ${why}, counted as 1 failed${codeNote}`);
      return;
    }
    const p = Number(data.numPassedTests) || 0;
    const f = Number(data.numFailedTests) || 0;
    const pending = (Number(data.numPendingTests) || 0) + (Number(data.numTodoTests) || 0);
    const brokenList = brokenSuites(data);
    const broken = Math.max(Number(data.numRuntimeErrorTestSuites) || 0, brokenList.length);
    let extra = broken;
    let note = '';
    if (f + extra === 0 && ((code !== null && code !== 0) || data.success === false)) {
      extra += 1;
      note =
        (Number(data.numTotalTests) || 0) === 0
          ? ' - no tests ran, counted as 1 failed'
          : ' - jest reported failure, counted as 1 failed';
    }
    passed += p;
    failed += f + extra;
    out.push(
      `${label}: ${p} passed, ${f} failed, ${pending} skipped` +
        ` (suites: ${data.numPassedTestSuites ?? 0} passed, ${data.numFailedTestSuites ?? 0} failed` +
        `${broken ? `, ${broken} failed outside tests` : ''})${codeNote}${note}`,
    );
    let listed = 0;
    for (const suite of data.testResults || []) {
      const rel = path.relative(process.cwd(), String(suite.name || suite.testFilePath || '?'));
      if (brokenList.includes(suite) && listed++ < MAX_LISTED) {
        const msg = firstLine(suite.message || suite.failureMessage);
        out.push(`  ✗ ${rel} (suite failed)${msg ? `: ${msg}` : ''}`);
      }
      for (const t of suite.assertionResults || []) {
        if (t.status !== 'failed') continue;
        if (listed++ < MAX_LISTED) {
          const name = t.fullName || [...(t.ancestorTitles || []), t.title].join(' ');
          out.push(`  ✗ ${rel} › ${name}`);
        }
      }
    }
    if (listed > MAX_LISTED) out.push(`  … and ${listed - MAX_LISTED} more`);
  });

  for (const stage of stages) {
    failed += 1;
    out.push(`stage ${stage}: FAILED, counted as 1 failed`);
  }

  out.push(`${passed} passed, ${failed} failed`);
  process.stdout.write(out.join('\n') + '\n');
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`summarize.js: ${err && err.stack ? err.stack : err}\n`);
    process.stdout.write('0 passed, 1 failed\n');
    process.exitCode = 2;
  },
);
