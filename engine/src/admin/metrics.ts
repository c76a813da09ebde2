// Prometheus text exposition (format 0.0.4): samples grouped by name with one HELP and TYPE
// line each, every name prefixed edgewan_, label values escaped. Checked in CI by
// `promtool check metrics`.
import type { MetricSample } from '../supervisor/component.ts';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Render samples; invalid names or labels are dropped (a component bug must not break the scrape). */
export function renderMetrics(samples: readonly MetricSample[]): string {
  const groups = new Map<string, { help: string; type: string; lines: string[]; seen: Set<string> }>();
  for (const s of samples) {
    const name = s.name.startsWith('edgewan_') ? s.name : `edgewan_${s.name}`;
    if (!NAME_RE.test(name) || typeof s.value !== 'number') continue;
    // a summary's or histogram's series share the HELP/TYPE of their base name
    const family =
      s.type === 'summary' || s.type === 'histogram' ? name.replace(/_(sum|count|bucket)$/, '') : name;
    let g = groups.get(family);
    if (!g) {
      g = { help: s.help, type: s.type, lines: [], seen: new Set() };
      groups.set(family, g);
    }
    if (g.type !== s.type) continue; // one metric name, one type
    const labels = Object.entries(s.labels ?? {})
      .filter(([k]) => LABEL_RE.test(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}="${escapeLabel(String(v))}"`)
      .join(',');
    if (g.seen.has(`${name}{${labels}}`)) continue; // duplicate series would fail the scrape
    g.seen.add(`${name}{${labels}}`);
    g.lines.push(`${name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
  }
  const out: string[] = [];
  for (const [name, g] of groups) {
    out.push(`# HELP ${name} ${escapeHelp(g.help)}`, `# TYPE ${name} ${g.type}`, ...g.lines);
  }
  return `${out.join('\n')}\n`;
}
