/**
 * An explicit-bucket histogram aggregated in process (the same boundaries and the same
 * cumulative sum/count/min/max the SDK's aggregation keeps), exported by
 * {@link ResilienceMetricProducer}. Recording is a short linear scan and four additions.
 * @internal
 */
export class LocalHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  /** Epoch milliseconds of the first recording (the cumulative series' start time). */
  readonly startEpochMs = Date.now();

  constructor(
    /** Upper bucket boundaries, ascending (the catalogue's for the instrument). */
    readonly boundaries: readonly number[],
  ) {
    this.counts = new Float64Array(boundaries.length + 1);
  }

  record(value: number): void {
    const boundaries = this.boundaries;
    let bucket = 0;
    // Boundaries are upper-inclusive, like the SDK's: value v lands in the first bucket with v <= b.
    while (bucket < boundaries.length && value > boundaries[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.sum += value;
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds `other` (same boundaries) into this one (two policies sharing a name report one series). */
  mergeFrom(other: LocalHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.sum += other.sum;
    this.count += other.count;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }
}
