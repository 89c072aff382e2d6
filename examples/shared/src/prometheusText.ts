/**
 * Reads a Prometheus text exposition (what `/metrics` serves) into samples, so the live view, the
 * summary and the tests read the same series Prometheus scrapes, by the names the engine's
 * `prometheusNames()` gives.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A label matcher: an exact value, or a predicate on the value (absent labels read as ''). */
export type LabelMatch = Readonly<Record<string, string | ((value: string) => boolean)>>;

export class MetricsSnapshot {
  /** Metric families declared by `# TYPE` lines. */
  readonly families: ReadonlyMap<string, string>;

  constructor(
    readonly samples: readonly Sample[],
    families: ReadonlyMap<string, string> = new Map(),
  ) {
    this.families = families;
  }

  static parse(text: string): MetricsSnapshot {
    const samples: Sample[] = [];
    const families = new Map<string, string>();
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      if (line.startsWith('#')) {
        const type = /^# TYPE (\S+) (\S+)/.exec(line);
        if (type !== null) families.set(type[1] as string, type[2] as string);
        continue;
      }
      const sample = parseSample(line);
      if (sample !== undefined) samples.push(sample);
    }
    return new MetricsSnapshot(samples, families);
  }

  /** The samples named `name` whose labels match. */
  select(name: string, match: LabelMatch = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && matches(s.labels, match));
  }

  /** Sum of the matching samples' values (0 when none). */
  sum(name: string, match: LabelMatch = {}): number {
    let total = 0;
    for (const s of this.select(name, match)) total += s.value;
    return total;
  }

  /** Whether any sample of `name` exists. */
  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }
}

/** GETs `url` (a `/metrics` endpoint) and parses it. */
export async function scrape(url: string, timeoutMs = 2_000): Promise<MetricsSnapshot> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return MetricsSnapshot.parse(await res.text());
}

function matches(labels: Readonly<Record<string, string>>, match: LabelMatch): boolean {
  for (const [key, expected] of Object.entries(match)) {
    const actual = labels[key] ?? '';
    if (typeof expected === 'string' ? actual !== expected : !expected(actual)) return false;
  }
  return true;
}

function parseSample(line: string): Sample | undefined {
  const nameEnd = line.search(/[{\s]/);
  if (nameEnd <= 0) return undefined;
  const name = line.slice(0, nameEnd);
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === '{') {
    i++;
    while (i < line.length && line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0) return undefined;
      const key = line.slice(i, eq).trim().replace(/^,/, '').trim();
      i = eq + 1;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else {
          value += line[i];
          i++;
        }
      }
      i++; // closing quote
      if (line[i] === ',') i++;
      labels[key] = value;
    }
    i++; // closing brace
  }
  const [valueText] = line.slice(i).trim().split(/\s+/);
  if (valueText === undefined) return undefined;
  const value =
    valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
  if (Number.isNaN(value) && valueText !== 'NaN') return undefined;
  return { name, labels, value };
}
