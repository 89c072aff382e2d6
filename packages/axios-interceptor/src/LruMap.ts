/**
 * A map holding at most `capacity` entries: reading or writing an entry makes it the most recent,
 * and adding one beyond the capacity evicts the least recently used, handing it to `onEvict`
 * (per-host breakers are disposed there). A JavaScript `Map` keeps insertion order, so the first
 * key is always the least recent and every operation is O(1).
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  /** The most recent key: reading it again needs no reordering (the common case). */
  private newest: K | undefined;
  private hasNewest = false;

  constructor(
    /** Most entries kept (integer ≥ 1). */
    readonly capacity: number,
    private readonly onEvict: (key: K, value: V) => void,
  ) {}

  /** Entries held now. */
  get size(): number {
    return this.map.size;
  }

  /** The entry for `key`, now the most recent; `undefined` when absent. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined && !(this.hasNewest && this.newest === key)) {
      this.map.delete(key);
      this.map.set(key, value);
      this.markNewest(key);
    }
    return value;
  }

  /** Stores `value` as the most recent entry, evicting the least recent one past the capacity. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.markNewest(key);
    if (this.map.size > this.capacity) {
      const oldest = this.map.entries().next().value as [K, V];
      this.map.delete(oldest[0]);
      this.onEvict(oldest[0], oldest[1]);
    }
  }

  /** Entries from least to most recent, without touching their order. */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  /** Removes every entry, handing each to `onEvict`. */
  clear(): void {
    const entries = [...this.map];
    this.map.clear();
    this.hasNewest = false;
    this.newest = undefined;
    for (const [key, value] of entries) this.onEvict(key, value);
  }

  private markNewest(key: K): void {
    this.newest = key;
    this.hasNewest = true;
  }
}
