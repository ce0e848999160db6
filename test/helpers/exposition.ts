/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its HELP, its TYPE and its samples, in the order they came. */
export interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
// prom-client writes NaN as "Nan"; Prometheus reads NaN and Inf in any case.
const VALUE = '[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[-+]?Inf|N[aA][nN]';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (${VALUE})$`);
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`);
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of (text ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    if (m[1]! in labels) throw new Error(`label ${m[1]} repeated in {${text}}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** The family a sample belongs to: its own name, or a histogram's or summary's base name. */
function familyOf(families: Map<string, Family>, name: string): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const type = families.get(base)?.type;
  if (type === 'histogram' || (type === 'summary' && !name.endsWith('_bucket'))) return base;
  return undefined;
}

/**
 * Parses the Prometheus text exposition format strictly: every line is a HELP, a TYPE, a blank
 * line or a well-formed sample; every family has one HELP and one TYPE before its samples and
 * its samples are contiguous; a histogram's buckets are cumulative, end with le="+Inf", and
 * +Inf equals _count. Throws on the first violation.
 */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  let current: string | undefined;
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') continue;
    const comment = COMMENT.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      const family = families.get(name) ?? { help: '', type: '', samples: [] };
      if (family.samples.length > 0) throw new Error(`${kind} after samples, ${where}`);
      if (kind === 'HELP') {
        if (family.help) throw new Error(`second HELP, ${where}`);
        family.help = rest;
      } else {
        if (family.type) throw new Error(`second TYPE, ${where}`);
        if (!TYPES.includes(rest)) throw new Error(`unknown type, ${where}`);
        family.type = rest;
      }
      families.set(name, family);
      current = name;
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample, ${where}`);
    const name = familyOf(families, sample[1]!);
    if (!name || name !== current) throw new Error(`sample outside its family, ${where}`);
    const family = families.get(name)!;
    if (!family.help || !family.type) throw new Error(`family without HELP and TYPE, ${where}`);
    const value = sample[3]!.endsWith('Inf')
      ? (sample[3]!.startsWith('-') ? -1 : 1) * Infinity
      : Number(sample[3]);
    family.samples.push({ name: sample[1]!, labels: parseLabels(sample[2]), value });
  }
  for (const [name, family] of families) {
    if (!family.help || !family.type) throw new Error(`${name} lacks HELP or TYPE`);
    if (family.type === 'histogram') checkHistogram(name, family);
  }
  return families;
}

const seriesKey = (labels: Record<string, string>) =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== 'le')
      .sort(),
  );

function checkHistogram(name: string, family: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  for (const s of family.samples) {
    const key = seriesKey(s.labels);
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      if (s.labels.le === undefined || Number.isNaN(le)) throw new Error(`${name}: bad le`);
      entry.buckets.push([le, s.value]);
    } else if (s.name === `${name}_count`) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    const last = buckets.at(-1);
    if (!last || last[0] !== Infinity) throw new Error(`${name}${key}: no +Inf bucket last`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) throw new Error(`${name}${key}: le not rising`);
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${name}${key}: not cumulative`);
    }
    if (count !== last[1]) throw new Error(`${name}${key}: +Inf ${last[1]} != _count ${count}`);
  }
}

/** The value of the one sample with exactly these labels (undefined when there is none). */
export function sampleValue(
  families: Map<string, Family>,
  family: string,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = families
    .get(family)
    ?.samples.filter(
      (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want,
    );
  if (found && found.length > 1) throw new Error(`${name}${want} appears ${found.length} times`);
  return found?.[0]?.value;
}
