/**
 * Caps the distinct values one attribute may take in metric series. Series live as long as the
 * process, so an HTTP client calling ever new hosts, or a router reporting raw paths, would
 * otherwise grow them without bound: the first `limit` distinct values are reported as they are,
 * any later one as `_OTHER`.
 */
export class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(
    /** Distinct values reported as themselves (integer ≥ 1). */
    readonly limit: number,
  ) {}

  /** `value` itself when already reported or while under the limit, else `_OTHER`. */
  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return '_OTHER';
    this.seen.add(value);
    return value;
  }
}
