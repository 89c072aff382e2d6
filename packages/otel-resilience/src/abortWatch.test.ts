import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { diag } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AbortListener, unwatchAbort, watchAbort } from './abortWatch.js';

/** A listener recording its calls into `log` under `name`. */
function listener(log: string[], name: string, onAbort?: () => void): AbortListener {
  return {
    handleAbort() {
      log.push(name);
      onAbort?.();
    },
  };
}

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('watchAbort', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('tells every listener once, in order, through a single abort listener per signal', () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const log: string[] = [];
    const a = listener(log, 'a');
    expect(watchAbort(controller.signal, a)).toBe(true);
    expect(watchAbort(controller.signal, listener(log, 'b'))).toBe(true);
    expect(watchAbort(controller.signal, a)).toBe(true);
    expect(add).toHaveBeenCalledOnce();
    expect(abortListeners(controller.signal)).toBe(1);
    controller.abort();
    controller.signal.dispatchEvent(new Event('abort'));
    expect(log).toEqual(['a', 'b']);
    expect(abortListeners(controller.signal)).toBe(0);
  });

  it('shares one abort listener function across signals and keeps them apart', () => {
    const first = new AbortController();
    const second = new AbortController();
    const log: string[] = [];
    watchAbort(first.signal, listener(log, 'first'));
    watchAbort(second.signal, listener(log, 'second'));
    expect(getEventListeners(first.signal, 'abort')).toEqual(
      getEventListeners(second.signal, 'abort'),
    );
    second.abort();
    expect(log).toEqual(['second']);
    expect(abortListeners(first.signal)).toBe(1);
    first.abort();
    expect(log).toEqual(['second', 'first']);
  });

  it('refuses a signal that has already aborted, registering nothing', () => {
    const signal = AbortSignal.abort();
    const log: string[] = [];
    expect(watchAbort(signal, listener(log, 'late'))).toBe(false);
    expect(abortListeners(signal)).toBe(0);
  });

  it('removes the abort listener with the last watcher, and only then', () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const log: string[] = [];
    const a = listener(log, 'a');
    const b = listener(log, 'b');
    watchAbort(controller.signal, a);
    watchAbort(controller.signal, b);
    unwatchAbort(controller.signal, a);
    unwatchAbort(controller.signal, a);
    expect(remove).not.toHaveBeenCalled();
    expect(abortListeners(controller.signal)).toBe(1);
    unwatchAbort(controller.signal, b);
    expect(remove).toHaveBeenCalledOnce();
    expect(abortListeners(controller.signal)).toBe(0);
    // Watching again starts over.
    watchAbort(controller.signal, a);
    expect(abortListeners(controller.signal)).toBe(1);
    controller.abort();
    expect(log).toEqual(['a']);
  });

  it('ignores unwatching a listener or a signal it does not know', () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const log: string[] = [];
    unwatchAbort(controller.signal, listener(log, 'stranger'));
    watchAbort(controller.signal, listener(log, 'a'));
    unwatchAbort(controller.signal, listener(log, 'stranger'));
    expect(remove).not.toHaveBeenCalled();
    controller.abort();
    expect(log).toEqual(['a']);
  });

  it('removes nothing itself when the signal aborts: its once-listener is gone already', () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const log: string[] = [];
    const a = listener(log, 'a');
    watchAbort(controller.signal, a);
    controller.abort();
    unwatchAbort(controller.signal, a);
    expect(log).toEqual(['a']);
    expect(remove).not.toHaveBeenCalled();
  });

  it('skips a listener that an earlier one unwatched during the abort', () => {
    const controller = new AbortController();
    const log: string[] = [];
    const c = listener(log, 'c');
    watchAbort(
      controller.signal,
      listener(log, 'a', () => unwatchAbort(controller.signal, c)),
    );
    watchAbort(controller.signal, listener(log, 'b'));
    watchAbort(controller.signal, c);
    controller.abort();
    expect(log).toEqual(['a', 'b']);
  });

  it('reports a listener that throws and still tells the others', () => {
    const report = vi.spyOn(diag, 'error').mockImplementation(() => {});
    const controller = new AbortController();
    const log: string[] = [];
    const failure = new Error('listener bug');
    watchAbort(controller.signal, listener(log, 'a'));
    watchAbort(
      controller.signal,
      listener(log, 'b', () => {
        throw failure;
      }),
    );
    watchAbort(controller.signal, listener(log, 'c'));
    expect(() => controller.abort()).not.toThrow();
    expect(log).toEqual(['a', 'b', 'c']);
    expect(report).toHaveBeenCalledOnce();
    expect(report.mock.calls[0]![1]).toBe(failure);
  });

  it('keeps no signal alive that nobody else references, watchers or not', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const log: string[] = [];
    const watcher = listener(log, 'a');
    const watchedAndDropped = (): WeakRef<AbortSignal> => {
      const controller = new AbortController();
      watchAbort(controller.signal, watcher);
      return new WeakRef(controller.signal);
    };
    const ref = watchedAndDropped();
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(ref.deref()).toBeUndefined();
    expect(log).toEqual([]);
  });
});
