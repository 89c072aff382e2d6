import { describe, expect, it, vi } from 'vitest';
import type { CircuitBreakerSnapshot } from './CircuitBreakerSnapshot.js';
import { InMemoryCircuitBreakerStateStore } from './InMemoryCircuitBreakerStateStore.js';

const snapshot = (changedAt: number, state: CircuitBreakerSnapshot['state'] = 'closed') => ({
  state,
  changedAt,
  openStep: 0,
});

describe('InMemoryCircuitBreakerStateStore', () => {
  it('loads what was saved, per name', () => {
    const store = new InMemoryCircuitBreakerStateStore();
    expect(store.load('a')).toBeUndefined();
    store.save('a', snapshot(1));
    expect(store.load('a')).toEqual(snapshot(1));
    expect(store.load('b')).toBeUndefined();
  });

  it('tells the subscribers of that name only, until they unsubscribe', () => {
    const store = new InMemoryCircuitBreakerStateStore();
    const a = vi.fn();
    const b = vi.fn();
    const subscription = store.subscribe('a', a);
    store.subscribe('b', b);
    store.save('a', snapshot(1));
    expect(a).toHaveBeenCalledWith(snapshot(1));
    expect(b).not.toHaveBeenCalled();
    subscription.dispose();
    subscription.dispose();
    store.save('a', snapshot(2));
    expect(a).toHaveBeenCalledTimes(1);
  });

  it('keeps the newest snapshot when writes cross', () => {
    const store = new InMemoryCircuitBreakerStateStore();
    const listener = vi.fn();
    store.subscribe('a', listener);
    store.save('a', snapshot(5, 'open'));
    store.save('a', snapshot(4, 'closed'));
    expect(store.load('a')).toEqual(snapshot(5, 'open'));
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('survives a throwing subscriber', () => {
    const store = new InMemoryCircuitBreakerStateStore();
    const after = vi.fn();
    store.subscribe('a', () => {
      throw new Error('bad listener');
    });
    store.subscribe('a', after);
    expect(() => store.save('a', snapshot(1))).not.toThrow();
    expect(after).toHaveBeenCalled();
  });

  it('clears one name or all', () => {
    const store = new InMemoryCircuitBreakerStateStore();
    store.save('a', snapshot(1));
    store.save('b', snapshot(1));
    store.clear('a');
    expect(store.load('a')).toBeUndefined();
    expect(store.load('b')).toBeDefined();
    store.clear();
    expect(store.load('b')).toBeUndefined();
  });
});
