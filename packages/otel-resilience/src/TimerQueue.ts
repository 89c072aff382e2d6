import { monotonicNow } from './clock.js';

/**
 * Something a {@link TimerQueue} calls back. The queue links the entries themselves, so
 * scheduling allocates nothing. @internal
 */
export interface TimerEntry {
  /** Set by {@link TimerQueue.schedule}: monotonic ms at which `onTimeout` runs. */
  dueAt: number;
  /** Set by the queue: the entry scheduled after this one. */
  next: TimerEntry | undefined;
  /** Set by the queue: whether the entry is waiting to fire. */
  queued: boolean;
  onTimeout(): void;
}

/**
 * Timers that all share one duration. Their deadlines arrive in the order they were scheduled, so
 * a FIFO list served by a single `setTimeout` replaces one timer per call: scheduling and
 * cancelling are O(1) and allocate nothing. When the queue empties its timer is left to expire but
 * unreferenced, so an idle queue never keeps the process alive and a steady stream of short calls
 * does not create and clear a Node timer on every call. A queue made with `keepsProcessAlive`
 * false never references its timer: for timers whose owners keep the process alive anyway (an
 * inbound request's socket), which saves a `ref()`/`unref()` pair each time the queue empties.
 * @internal
 */
export class TimerQueue {
  private head: TimerEntry | undefined;
  private tail: TimerEntry | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (monotonic ms). */
  private timerDueAt = 0;
  private pending = 0;
  private firing = false;
  /** Whether the armed timer currently keeps the event loop alive. */
  private referenced = false;

  /**
   * @param durationMs how long after scheduling each entry fires (ms).
   * @param keepsProcessAlive whether a waiting entry keeps the event loop alive (default true).
   */
  constructor(
    readonly durationMs: number,
    private readonly keepsProcessAlive = true,
  ) {}

  /**
   * Calls `entry.onTimeout()` `durationMs` after `now` unless cancelled first. `now` (monotonic
   * ms, default the current time) lets a caller that just read the clock pass it on.
   */
  schedule(entry: TimerEntry, now = monotonicNow()): void {
    this.append(entry, now + this.durationMs, now);
  }

  /**
   * Calls `entry.onTimeout()` at `dueAt` (monotonic ms, at most `durationMs` from now) unless
   * cancelled first — when that keeps the queue in order: not before the entry scheduled last,
   * nor before the queue's timer is due. Reads no clock while the queue's timer is armed. Returns
   * `false`, scheduling nothing, when `dueAt` would break the order (the caller then needs a timer
   * of its own).
   */
  scheduleAt(entry: TimerEntry, dueAt: number): boolean {
    if (this.tail !== undefined && dueAt < this.tail.dueAt) return false;
    if (this.timer !== undefined && dueAt < this.timerDueAt) return false;
    this.append(entry, dueAt, undefined);
    return true;
  }

  private append(entry: TimerEntry, dueAt: number, now: number | undefined): void {
    entry.dueAt = dueAt;
    entry.next = undefined;
    entry.queued = true;
    if (this.tail === undefined) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.pending++;
    if (this.timer === undefined) {
      if (!this.firing) this.arm(dueAt, now ?? monotonicNow());
    } else if (!this.referenced && this.keepsProcessAlive) {
      // The idle timer fires no later than this entry's deadline and re-arms for it then.
      this.timer.ref();
      this.referenced = true;
    }
  }

  /** Cancels `entry` (a no-op when it already fired or was cancelled). */
  cancel(entry: TimerEntry): void {
    if (!entry.queued) return;
    entry.queued = false;
    this.pending--;
    if (this.pending === 0) {
      this.head = this.tail = undefined;
      if (this.timer !== undefined && this.referenced) {
        this.timer.unref();
        this.referenced = false;
      }
      return;
    }
    // Calls mostly finish in the order they started, so dropping cancelled entries from the head
    // keeps the list as short as the number of calls actually in flight.
    while (this.head !== undefined && !this.head.queued) this.head = this.head.next;
    if (this.head === undefined) this.tail = undefined;
  }

  /** Number of entries waiting to fire. */
  get size(): number {
    return this.pending;
  }

  private arm(dueAt: number, now: number): void {
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(dueAt - now)));
    if (this.keepsProcessAlive) this.referenced = true;
    else this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.firing = true;
    const now = monotonicNow();
    try {
      let entry = this.head;
      while (entry !== undefined && (!entry.queued || entry.dueAt <= now)) {
        this.head = entry.next;
        if (this.head === undefined) this.tail = undefined;
        if (entry.queued) {
          entry.queued = false;
          this.pending--;
          entry.onTimeout();
        }
        entry = this.head;
      }
    } finally {
      this.firing = false;
      if (this.head !== undefined) this.arm(this.head.dueAt, monotonicNow());
    }
  }
}
