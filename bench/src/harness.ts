/**
 * A small benchmark harness for async calls on a noisy machine: every case runs in every round,
 * in a rotating order, and the report quotes the median of the rounds. Times are wall-clock
 * nanoseconds per call of a sequential `await` loop, which is what a request handler pays.
 */

export interface BenchCase {
  /** What is measured, e.g. "retry (success path)". */
  readonly group: string;
  /** Which implementation: "bare await", "otel-resilience", "cockatiel", "opossum", ... */
  readonly impl: string;
  /** One call. */
  readonly run: () => Promise<unknown>;
}

export interface BenchResult {
  readonly group: string;
  readonly impl: string;
  readonly medianNs: number;
  readonly samplesNs: readonly number[];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function timeLoop(run: () => Promise<unknown>, iterations: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await run();
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** Runs every case `rounds` times for `iterations` calls each, rotating the order per round. */
export async function runCases(
  cases: readonly BenchCase[],
  { rounds = 7, iterations = 100_000, warmup = 20_000 } = {},
): Promise<BenchResult[]> {
  for (const c of cases) await timeLoop(c.run, warmup);
  const samples = cases.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      samples[index]!.push(await timeLoop(cases[index]!.run, iterations));
    }
  }
  return cases.map((c, i) => ({
    group: c.group,
    impl: c.impl,
    medianNs: median(samples[i]!),
    samplesNs: samples[i]!,
  }));
}

export { median };
