import { diag } from '@opentelemetry/api';
import type { Knex } from 'knex';
import type { Disposable } from 'otel-resilience';

/**
 * What the plugin uses of tarn's `Pool` (Knex's pool). Declared here because tarn is Knex's
 * dependency, not ours; `max` and `validate` are plain fields at run time.
 */
export interface TarnPool {
  readonly max: number;
  validate: (resource: unknown) => unknown;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  on(event: string, listener: (...args: never[]) => void): void;
  removeListener(event: string, listener: (...args: never[]) => void): void;
}

/** The members of a Knex client this module wraps or reads (`Knex['client']` is `any`). */
interface KnexClient {
  pool: unknown;
  initializePool(...args: unknown[]): unknown;
  destroy(...args: unknown[]): unknown;
}

const isTarnPool = (pool: unknown): pool is TarnPool => {
  const p = pool as Partial<Record<keyof TarnPool, unknown>> | null | undefined;
  return (
    typeof p?.max === 'number' &&
    typeof p.validate === 'function' &&
    typeof p.numUsed === 'function' &&
    typeof p.numFree === 'function' &&
    typeof p.numPendingAcquires === 'function' &&
    typeof p.on === 'function' &&
    typeof p.removeListener === 'function'
  );
};

/** Pools that began destroying: Knex may still hold one (a pool destroyed behind its back). */
const destroyedPools = new WeakSet<object>();

/**
 * Calls `watch` with the pool of `knex` for as long as it lives, and again with each new pool:
 * Knex creates its pool on first use when it was built without a connection, and again after
 * `destroy()` + `initialize()`. What `watch` returns is disposed when that pool is destroyed (by
 * `knex.destroy()` or behind Knex's back) or when the returned handle is disposed. A pool that is
 * not a tarn pool (an external one) is reported once with `diag.warn` as `what` being off.
 */
export function followPool(
  knex: Knex,
  what: string,
  watch: (pool: TarnPool) => Disposable,
): Disposable {
  const client = knex.client as KnexClient;
  let watched: { readonly pool: unknown; readonly watch: Disposable } | undefined;
  const unwatch = (): void => {
    watched?.watch.dispose();
    watched = undefined;
  };
  const follow = (): void => {
    const pool = client.pool;
    if (watched?.pool === pool) return;
    unwatch();
    if (pool === undefined || pool === null || destroyedPools.has(pool)) return;
    if (!isTarnPool(pool)) {
      diag.warn(`otel-resilience-knex: the pool is not a tarn pool; ${what} is off`);
      return;
    }
    const onDestroy = () => {
      destroyedPools.add(pool);
      unwatch();
    };
    const inner = watch(pool);
    pool.on('poolDestroyRequest', onDestroy);
    watched = {
      pool,
      watch: {
        dispose: () => {
          pool.removeListener('poolDestroyRequest', onDestroy);
          inner.dispose();
        },
      },
    };
  };
  const restores = [
    wrapMethod(client, 'initializePool', (original, args) => {
      const result = original(args);
      follow();
      return result;
    }),
    // Knex lets go of a pool it does not own without destroying it, so this catches both.
    wrapMethod(client, 'destroy', (original, args) => {
      unwatch();
      return original(args);
    }),
  ];
  follow();
  let disposed = false;
  return {
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const restore of restores) restore();
      unwatch();
    },
  };
}

/**
 * Replaces `target[name]` on the instance with `wrapper`, which receives the method bound to
 * `target` as `original`. Returns the restore; if someone wrapped the method again after us, ours
 * is left in their chain but passes straight through.
 */
function wrapMethod<K extends 'initializePool' | 'destroy'>(
  target: KnexClient,
  name: K,
  wrapper: (original: (args: unknown[]) => unknown, args: unknown[]) => unknown,
): () => void {
  const hadOwn = Object.hasOwn(target, name);
  const original = target[name];
  let active = true;
  const call = (args: unknown[]) => original.apply(target, args);
  const wrapped = function (this: KnexClient, ...args: unknown[]): unknown {
    return active ? wrapper(call, args) : call(args);
  };
  target[name] = wrapped;
  return () => {
    active = false;
    if (target[name] !== wrapped) return;
    if (hadOwn) target[name] = original;
    else delete (target as Partial<KnexClient>)[name];
  };
}
