/** Renders the default rule sets as the markdown table in src/domain/vee/README.md. */
import { RULE_IDS, RULE_SPECS, type ParamSpec } from '../../../src/domain/vee';

const cell = (s: string) => s.replace(/\|/g, '\\|');
const value = (v: number | boolean) => (typeof v === 'number' ? String(v) : v ? 'yes' : 'no');

export function renderDefaultsTable(): string {
  const lines = [
    '| rule | severity | parameter | residential | commercial | industrial | unit | source |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const id of RULE_IDS) {
    const spec = RULE_SPECS[id];
    const severity = spec.defaultSeverity.RESIDENTIAL;
    const params = Object.entries(spec.params as Record<string, ParamSpec>);
    if (!params.length) lines.push(`| \`${id}\` | ${severity} | — | | | | | |`);
    for (const [name, p] of params) {
      lines.push(
        `| \`${id}\` | ${severity} | \`${name}\` | ${value(p.defaults.RESIDENTIAL)} | ` +
          `${value(p.defaults.COMMERCIAL)} | ${value(p.defaults.INDUSTRIAL)} | ${p.unit ?? ''} | ` +
          `${cell(p.source)} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
