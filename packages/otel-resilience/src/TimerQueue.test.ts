import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type TimerEntry, TimerQueue } from './TimerQueue.js';

const entry = (onTimeout: () => void): TimerEntry => ({
  dueAt: 0,
  next: undefined,
  queued: false,
  onTimeout,
});

describe('TimerQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires each callback exactly at its own deadline with a single timer', async () => {
    const queue = new TimerQueue(100);
    const fired: string[] = [];
    queue.schedule(entry(() => fired.push('a')));
    await vi.advanceTimersByTimeAsync(40);
    queue.schedule(entry(() => fired.push('b')));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(60);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(39);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('lets its timer expire unreferenced once nothing is pending, and reuses it meanwhile', async () => {
    const queue = new TimerQueue(100);
    const fired: string[] = [];
    const a = entry(() => fired.push('a'));
    const b = entry(() => fired.push('b'));
    queue.schedule(a);
    queue.schedule(b);
    queue.cancel(b);
    queue.cancel(a);
    queue.cancel(a);
    expect(queue.size).toBe(0);
    await vi.advanceTimersByTimeAsync(50);
    queue.schedule(entry(() => fired.push('c')));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(fired).toEqual(['c']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not keep the process alive while idle', () => {
    vi.useRealTimers();
    const queue = new TimerQueue(60_000);
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const idle = entry(() => {});
    queue.schedule(idle);
    queue.cancel(idle);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
  });

  it('never holds the process when made with keepsProcessAlive false, even with entries waiting', () => {
    vi.useRealTimers();
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const held = new TimerQueue(60_000);
    const loose = new TimerQueue(60_000, false);
    const a = entry(() => {});
    const b = entry(() => {});
    loose.schedule(a);
    expect(timeouts()).toBe(before);
    held.schedule(b);
    expect(timeouts()).toBe(before + 1);
    held.cancel(b);
    loose.cancel(a);
    loose.schedule(entry(() => {}));
    expect(timeouts()).toBe(before);
  });

  it('counts the duration from the time the caller read, when it passes one', async () => {
    const queue = new TimerQueue(100);
    const fired: string[] = [];
    const readAtStart = performance.now();
    queue.schedule(entry(() => fired.push('a')));
    await vi.advanceTimersByTimeAsync(30);
    queue.schedule(
      entry(() => fired.push('b')),
      readAtStart,
    );
    await vi.advanceTimersByTimeAsync(70);
    expect(fired).toEqual(['a', 'b']);
  });

  it('schedules at a given time when that keeps its order, and refuses otherwise', async () => {
    const queue = new TimerQueue(100);
    const fired: string[] = [];
    const start = performance.now();
    expect(
      queue.scheduleAt(
        entry(() => fired.push('a')),
        start + 50,
      ),
    ).toBe(true);
    expect(
      queue.scheduleAt(
        entry(() => fired.push('b')),
        start + 80,
      ),
    ).toBe(true);
    // Before the entry scheduled last: it would fire late, behind it.
    expect(
      queue.scheduleAt(
        entry(() => fired.push('early')),
        start + 60,
      ),
    ).toBe(false);
    expect(queue.size).toBe(2);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(30);
    expect(fired).toEqual(['a', 'b']);
  });

  it('refuses a time before its idle timer is due, which would fire late', async () => {
    const queue = new TimerQueue(100);
    const start = performance.now();
    const idle = entry(() => {});
    queue.schedule(idle);
    queue.cancel(idle); // the timer stays armed for start + 100
    expect(
      queue.scheduleAt(
        entry(() => {}),
        start + 90,
      ),
    ).toBe(false);
    const fired: string[] = [];
    expect(
      queue.scheduleAt(
        entry(() => fired.push('c')),
        start + 100,
      ),
    ).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['c']);
  });

  it('lets a firing callback schedule again without a second timer', async () => {
    const queue = new TimerQueue(10);
    let count = 0;
    const again = () => {
      count++;
      if (count < 3) queue.schedule(entry(again));
    };
    queue.schedule(entry(again));
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(count).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires exactly the uncancelled callbacks, in order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.nat(30), cancel: fc.boolean() }), { maxLength: 40 }),
        async (plan) => {
          const queue = new TimerQueue(50);
          const fired: number[] = [];
          for (const [i, step] of plan.entries()) {
            await vi.advanceTimersByTimeAsync(step.gap);
            const scheduled = entry(() => fired.push(i));
            queue.schedule(scheduled);
            if (step.cancel) queue.cancel(scheduled);
          }
          await vi.advanceTimersByTimeAsync(1_000);
          expect(fired).toEqual(plan.flatMap((step, i) => (step.cancel ? [] : [i])));
          expect(queue.size).toBe(0);
          expect(vi.getTimerCount()).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
