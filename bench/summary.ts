/**
 * The figures issue 11's "Done when" asks `npm run bench` to print in one run. Each part records
 * what it measured here as it goes; bench/run.ts prints them together at the end, with the
 * target each is held to, so one run's output is the record (docs/benchmarks.md copies it).
 */

export interface Target {
  /** `<`: the figure must stay under `value`; `>=`: it must reach it. */
  op: '<' | '>=';
  value: number;
}

export interface Figure {
  section: string;
  name: string;
  value: number;
  unit: string;
  target?: Target;
  note?: string;
}

const figures: Figure[] = [];

/** Records one figure (a later one with the same section and name replaces it). */
export function figure(section: string, name: string, value: number, unit: string, target?: Target, note?: string): void {
  const i = figures.findIndex((f) => f.section === section && f.name === name);
  const f = { section, name, value, unit, target, note };
  if (i >= 0) figures[i] = f;
  else figures.push(f);
}

export function recordedFigures(): readonly Figure[] {
  return figures;
}

export function met(f: Figure): boolean | undefined {
  if (!f.target || !Number.isFinite(f.value)) return undefined;
  return f.target.op === '<' ? f.value < f.target.value : f.value >= f.target.value;
}

const show = (v: number) => (!Number.isFinite(v) ? 'n/a' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The summary as a Markdown table: section, figure, value, target, met. */
export function summaryTable(): string {
  if (figures.length === 0) return '';
  const lines = ['| part | figure | value | target | |', '|---|---|---|---|---|'];
  for (const f of figures) {
    const ok = met(f);
    const target = f.target ? `${f.target.op} ${show(f.target.value)} ${f.unit}` : '';
    const mark = ok === undefined ? '' : ok ? 'met' : '**missed**';
    lines.push(`| ${f.section} | ${f.name}${f.note ? ` (${f.note})` : ''} | ${show(f.value)} ${f.unit} | ${target} | ${mark} |`);
  }
  return lines.join('\n');
}
