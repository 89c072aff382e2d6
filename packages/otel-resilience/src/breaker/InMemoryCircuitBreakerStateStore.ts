import type { Disposable } from '../Disposable.js';
import { invokeSafely } from '../Event.js';
import type { CircuitBreakerSnapshot } from './CircuitBreakerSnapshot.js';
import type { CircuitBreakerStateStore } from './CircuitBreakerStateStore.js';

/**
 * A {@link CircuitBreakerStateStore} in this process's memory: breakers given the same instance
 * and the same name share their state (a per-host breaker created by several clients, say).
 * Subscribers are told synchronously, inside the `save` that changed the state. Also the reference
 * for other stores: a Redis store would keep the snapshot under a key and publish it on a channel.
 */
export class InMemoryCircuitBreakerStateStore implements CircuitBreakerStateStore {
  private readonly snapshots = new Map<string, CircuitBreakerSnapshot>();
  private readonly listeners = new Map<string, Set<(snapshot: CircuitBreakerSnapshot) => void>>();

  /** The last snapshot saved under `name`. */
  load(name: string): CircuitBreakerSnapshot | undefined {
    return this.snapshots.get(name);
  }

  /** Keeps `snapshot` unless a newer one is stored, and tells the subscribers of `name` at once. */
  save(name: string, snapshot: CircuitBreakerSnapshot): void {
    const previous = this.snapshots.get(name);
    // Writes may cross (two breakers changing state in the same millisecond): keep the newest.
    if (previous !== undefined && previous.changedAt > snapshot.changedAt) return;
    this.snapshots.set(name, snapshot);
    const listeners = this.listeners.get(name);
    if (listeners === undefined) return;
    for (const listener of [...listeners]) invokeSafely(listener, snapshot);
  }

  /** Calls `listener` with every snapshot saved under `name` from now on, until disposed. */
  subscribe(name: string, listener: (snapshot: CircuitBreakerSnapshot) => void): Disposable {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
    return {
      dispose: () => {
        const current = this.listeners.get(name);
        if (current === undefined) return;
        current.delete(listener);
        if (current.size === 0) this.listeners.delete(name);
      },
    };
  }

  /** Forgets the state stored for `name` (or for every name); subscriptions stay. */
  clear(name?: string): void {
    if (name === undefined) this.snapshots.clear();
    else this.snapshots.delete(name);
  }
}
