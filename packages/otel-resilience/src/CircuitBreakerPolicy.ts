import { type Attributes, diag } from '@opentelemetry/api';
import type { Breaker, BreakerWindow } from './breaker/Breaker.js';
import { type CircuitBreakerSnapshot, parseSnapshot } from './breaker/CircuitBreakerSnapshot.js';
import type { CircuitBreakerStateStore } from './breaker/CircuitBreakerStateStore.js';
import type { CircuitState } from './breaker/CircuitState.js';
import { consecutiveBreaker } from './breaker/ConsecutiveBreaker.js';
import { OpenDuration, type OpenDurationBackoff } from './breaker/OpenDuration.js';
import type { Classification } from './classification/Classification.js';
import { monotonicNow, wallClockNow } from './clock.js';
import type { Disposable } from './Disposable.js';
import { type Event, EventEmitter } from './Event.js';
import type { CallContext, PolicyFunction } from './ExecuteContext.js';
import { isAbortedError } from './errors/AbortedError.js';
import { BrokenCircuitError, type RejectingState } from './errors/BrokenCircuitError.js';
import { rejectAfterHandlersAttach } from './errors/rejectAfterHandlersAttach.js';
import { isTimeoutExceededError } from './errors/TimeoutExceededError.js';
import { withoutStackTrace } from './errors/withoutStackTrace.js';
import { invoke, PolicyBase, type PolicyOptions, RUN } from './Policy.js';
import {
  ATTR_CIRCUIT_PREVIOUS_STATE,
  ATTR_CIRCUIT_STATE,
  ATTR_RESILIENCE_NAME,
  EVENT_CIRCUIT_REJECTION,
  EVENT_CIRCUIT_TRANSITION,
} from './telemetry/attributes.js';
import type { Series } from './telemetry/metrics.js';
import { checkFunction, checkInteger } from './validate.js';

/**
 * Decides whether a failed call counts against the circuit. An error that does not count is
 * treated as a success (the dependency answered); see {@link defaultIsFailure}.
 */
export type CircuitFailurePredicate = (error: unknown, classification: Classification) => boolean;

/**
 * The default {@link CircuitFailurePredicate}: every error counts except those classified
 * `data` or `configuration` (400/404/422, 401/403, constraint violations, bad credentials) — the
 * dependency answered them, and opening the circuit would not make the input or the credentials
 * any better.
 */
export const defaultIsFailure: CircuitFailurePredicate = (_error, classification) =>
  classification.category !== 'data' && classification.category !== 'configuration';

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions extends PolicyOptions {
  /** When the circuit opens. Default `consecutiveBreaker(5)` (seed 000: failure_threshold 5). */
  readonly breaker?: Breaker;
  /**
   * Milliseconds the circuit stays open before the next call is let through as a trial (≥ 0).
   * Default 60_000 (seed 000: recovery_timeout 60 s).
   */
  readonly halfOpenAfterMs?: number;
  /**
   * Lengthens the open period after each failed trial call, up to a maximum; back to
   * `halfOpenAfterMs` once the circuit closes. Default: none (every open period is
   * `halfOpenAfterMs`).
   */
  readonly openDurationBackoff?: OpenDurationBackoff;
  /**
   * Trial calls allowed to run at the same time while half-open (integer ≥ 1); further calls are
   * refused with state `half_open`. Default 1.
   */
  readonly halfOpenMaxCalls?: number;
  /**
   * Successful trial calls needed to close the circuit (integer ≥ 1); one failed trial opens it
   * again. Default 3 (seed 000: success_threshold 3).
   */
  readonly successThreshold?: number;
  /**
   * Which errors count as failures. Whatever it returns, calls aborted by the caller (an
   * {@link AbortedError}, the caller's signal, or the caller's deadline running out) count neither
   * way. A predicate that throws counts the error as a failure. Default {@link defaultIsFailure}.
   */
  readonly isFailure?: CircuitFailurePredicate;
  /**
   * Where the state is published so that breakers of the same name elsewhere follow it. Default:
   * none — the state is private to this breaker. Pass one {@link InMemoryCircuitBreakerStateStore}
   * to several breakers to share it within the process.
   */
  readonly stateStore?: CircuitBreakerStateStore;
  /** A snapshot (from {@link CircuitBreakerPolicy.toSnapshot}) to start from. Default: closed. */
  readonly initialState?: CircuitBreakerSnapshot;
}

/** Payload of {@link CircuitBreakerPolicy.onStateChange}. */
export interface CircuitStateChange {
  readonly from: CircuitState;
  readonly to: CircuitState;
}

/** Payload of {@link CircuitBreakerPolicy.onOpen}. */
export interface CircuitOpened {
  /** Milliseconds the circuit stays open before it lets a trial call through. */
  readonly openDurationMs: number;
  /**
   * The failure that opened the circuit; `undefined` when a slow call, a restored snapshot or
   * another breaker sharing the state store opened it.
   */
  readonly error: unknown;
}

// How a call's end is recorded.
const SUCCESS = 0;
const FAILURE = 1;
const IGNORED = 2;
type Outcome = typeof SUCCESS | typeof FAILURE | typeof IGNORED;

// Breaks ties between snapshots written in the same millisecond: the more cautious state wins.
const SEVERITY: Readonly<Record<CircuitState, number>> = {
  closed: 0,
  half_open: 1,
  open: 2,
  isolated: 3,
};

interface RejectionTelemetry {
  readonly series: Series;
  readonly attributes: Attributes;
}

/**
 * Stops calling a failing dependency: while the circuit is open every call is refused at once with
 * {@link BrokenCircuitError}, without running the function. After `halfOpenAfterMs` the next call
 * is let through as a trial (no timer: the check happens when a call arrives); `successThreshold`
 * successful trials close the circuit, one failed trial opens it again.
 *
 * Only calls that start and end while the circuit is closed feed the {@link Breaker} strategy.
 */
export class CircuitBreakerPolicy extends PolicyBase {
  /** The strategy that decides when the circuit opens. */
  readonly breaker: Breaker;
  /** Milliseconds of the first open period. See {@link CircuitBreakerOptions.halfOpenAfterMs}. */
  readonly halfOpenAfterMs: number;
  /** See {@link CircuitBreakerOptions.halfOpenMaxCalls}. */
  readonly halfOpenMaxCalls: number;
  /** See {@link CircuitBreakerOptions.successThreshold}. */
  readonly successThreshold: number;

  private current: CircuitState = 'closed';
  private readonly window: BreakerWindow;
  private readonly needsTime: boolean;
  private readonly measuresDuration: boolean;
  private readonly slowCallMs: number;
  private readonly openDuration: OpenDuration;
  private readonly isFailure: CircuitFailurePredicate;
  private readonly store: CircuitBreakerStateStore | undefined;
  private subscription: Disposable | undefined;
  private disposed = false;

  /** Bumped on every transition: outcomes of trials from an earlier half-open period are stale. */
  private generation = 0;
  /** Epoch milliseconds of the last state change (0: never changed). */
  private changedAt = 0;
  /** Monotonic milliseconds when the circuit opened. */
  private openedAtMs = 0;
  private openDurationMs = 0;
  private openStep = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  /** Live `isolate()` handles; handles from an earlier isolation carry an older epoch. */
  private isolations = 0;
  private isolationEpoch = 0;
  /**
   * Rejection counters by refusing state, made with the breaker so that they are exported (at 0)
   * before the first refusal: dashboards and `increase()` see them from the start.
   */
  private readonly rejections: Readonly<Record<RejectingState, RejectionTelemetry>> = {
    open: this.rejectionTelemetry('open'),
    half_open: this.rejectionTelemetry('half_open'),
    isolated: this.rejectionTelemetry('isolated'),
  };

  private readonly openEmitter = new EventEmitter<CircuitOpened>();
  private readonly halfOpenEmitter = new EventEmitter<void>();
  private readonly closeEmitter = new EventEmitter<void>();
  private readonly stateChangeEmitter = new EventEmitter<CircuitStateChange>();
  private readonly rejectEmitter = new EventEmitter<BrokenCircuitError>();

  /** Fires when the circuit opens (from closed, or again after a failed trial). */
  readonly onOpen: Event<CircuitOpened> = this.openEmitter.event;
  /** Fires when the circuit lets trial calls through. */
  readonly onHalfOpen: Event<void> = this.halfOpenEmitter.event;
  /** Fires when the circuit closes (trials succeeded, `reset()`, isolation released). */
  readonly onClose: Event<void> = this.closeEmitter.event;
  /** Fires on every state change, before the state-specific event. */
  readonly onStateChange: Event<CircuitStateChange> = this.stateChangeEmitter.event;
  /** Fires for every call refused without being attempted, with the error the caller receives. */
  readonly onReject: Event<BrokenCircuitError> = this.rejectEmitter.event;

  constructor(options: CircuitBreakerOptions = {}) {
    super(options, 'circuit_breaker');
    const breaker = options.breaker ?? consecutiveBreaker(5);
    if (typeof breaker !== 'object' || breaker === null || typeof breaker.create !== 'function') {
      throw new TypeError(`breaker must be a Breaker strategy, got ${String(breaker)}`);
    }
    this.breaker = breaker;
    this.window = breaker.create();
    this.needsTime = breaker.needsTime;
    this.measuresDuration = breaker.slowCallDurationMs !== undefined;
    this.slowCallMs = breaker.slowCallDurationMs ?? Number.POSITIVE_INFINITY;
    this.openDuration = new OpenDuration(
      options.halfOpenAfterMs ?? 60_000,
      options.openDurationBackoff,
    );
    this.halfOpenAfterMs = this.openDuration.baseMs;
    this.halfOpenMaxCalls = checkInteger('halfOpenMaxCalls', options.halfOpenMaxCalls ?? 1, 1);
    this.successThreshold = checkInteger('successThreshold', options.successThreshold ?? 3, 1);
    if (options.isFailure !== undefined) checkFunction('isFailure', options.isFailure);
    this.isFailure = options.isFailure ?? defaultIsFailure;
    this.store = checkStore(options.stateStore);

    if (options.initialState !== undefined) {
      this.adopt(parseSnapshot('initialState', options.initialState), 'initial');
    }
    const stored = this.loadFromStore();
    // The store wins when newer: another instance changed the state after the snapshot was taken.
    if (stored !== undefined && stored.changedAt > this.changedAt) this.adopt(stored, 'stored');
    this.gauge(this.current).value += 1;
    this.subscription = this.store?.subscribe?.(this.name, (snapshot) =>
      this.adoptExternal(snapshot, 'stateStore.subscribe'),
    );
  }

  /**
   * The current state. The move from `open` to `half_open` happens when a call arrives after the
   * open period, so an idle breaker reports `open` until then.
   */
  get state(): CircuitState {
    return this.current;
  }

  /** @internal */
  [RUN]<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    const state = this.current;
    if (state === 'closed') return this.runClosed(fn, ctx);
    if (state === 'open') {
      const remainingMs = this.openedAtMs + this.openDurationMs - monotonicNow();
      if (remainingMs > 0) return this.reject(ctx, 'open', Math.ceil(remainingMs));
      this.trialsInFlight = 0;
      this.trialSuccesses = 0;
      this.moveTo('half_open', ctx, undefined);
    } else if (state === 'isolated') {
      return this.reject(ctx, 'isolated', undefined);
    }
    return this.runTrial(fn, ctx);
  }

  /**
   * Holds the circuit open by hand: every call is refused with state `isolated` until each handle
   * returned so far is disposed (then the circuit closes) or {@link reset} is called. Isolation is
   * published to the state store like any other state; a breaker isolated here ignores states
   * other breakers publish until it is released.
   */
  isolate(): Disposable {
    this.isolations++;
    this.moveTo('isolated', undefined, undefined);
    const epoch = this.isolationEpoch;
    let released = false;
    return {
      dispose: () => {
        if (released) return;
        released = true;
        if (epoch !== this.isolationEpoch) return;
        if (--this.isolations === 0) this.close(undefined);
      },
    };
  }

  /**
   * Closes the circuit from any state, forgets the recorded outcomes and the open-duration backoff,
   * and ends any isolation.
   */
  reset(): void {
    if (this.current === 'closed') {
      this.window.reset();
      this.openStep = 0;
    } else {
      this.close(undefined);
    }
  }

  /**
   * The state as JSON-serialisable data: store it and pass it back as `initialState` (or to
   * {@link restore}) to resume after a restart. Times are epoch milliseconds.
   */
  toSnapshot(): CircuitBreakerSnapshot {
    const state = this.current;
    // The window only matters while closed; it is emptied when the circuit closes again.
    const window = state === 'closed' ? this.window.toJSON() : undefined;
    const open = state === 'open' || state === 'half_open';
    return {
      state,
      changedAt: this.changedAt,
      openStep: this.openStep,
      ...(open
        ? {
            openedAt: Math.round(wallClockNow() - (monotonicNow() - this.openedAtMs)),
            openDurationMs: this.openDurationMs,
          }
        : {}),
      ...(window === undefined ? {} : { window }),
    };
  }

  /**
   * Moves to the state of `snapshot` (a half-open one becomes open with its open period over),
   * restores the recorded outcomes when the strategy keeps them, and publishes the result to the
   * state store. Throws a `TypeError` when `snapshot` is malformed.
   */
  restore(snapshot: CircuitBreakerSnapshot): void {
    this.adopt(parseSnapshot('snapshot', snapshot), 'restore');
  }

  /**
   * Removes this breaker from the `resilience.circuit_breaker.state` gauge and stops following its
   * state store (whose subscription otherwise keeps the breaker alive). The breaker keeps working,
   * unobserved; call it when a breaker is dropped (one per host, say) so the gauge does not count
   * it forever.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gauge(this.current).value -= 1;
    this.subscription?.dispose();
    this.subscription = undefined;
  }

  private runClosed<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    // Handlers are written inline rather than bound to named consts: transpilers that keep
    // function names (esbuild's keepNames, as tsx uses) add a defineProperty call per closure.
    if (!this.needsTime && !this.measuresDuration && ctx.execution.span === undefined) {
      // The common case — no clock, no span recording — shares one success handler across calls.
      return invoke(fn, ctx).then(this.onClosedSuccess as (value: T) => T, (error: unknown) => {
        this.settleClosed(this.outcomeOf(error, ctx), 0, ctx, error);
        throw error;
      });
    }
    const startMs = this.measuresDuration ? monotonicNow() : 0;
    return invoke(fn, ctx).then(
      (value) => {
        this.settleClosed(SUCCESS, startMs, ctx, undefined);
        return value;
      },
      (error: unknown) => {
        this.settleClosed(this.outcomeOf(error, ctx), startMs, ctx, error);
        throw error;
      },
    );
  }

  private readonly onClosedSuccess = (value: unknown): unknown => {
    if (this.current === 'closed' && this.window.success(0, 0)) this.open(undefined, undefined);
    return value;
  };

  private settleClosed(outcome: Outcome, startMs: number, ctx: CallContext, error: unknown): void {
    // A call that ends after the circuit opened says nothing new: the breaker already decided.
    if (outcome === IGNORED || this.current !== 'closed') return;
    const nowMs = this.needsTime || this.measuresDuration ? monotonicNow() : 0;
    const durationMs = this.measuresDuration ? nowMs - startMs : 0;
    const window = this.window;
    const opens =
      outcome === FAILURE ? window.failure(durationMs, nowMs) : window.success(durationMs, nowMs);
    if (opens) this.open(ctx, outcome === FAILURE ? error : undefined);
  }

  private runTrial<T>(fn: PolicyFunction<T>, ctx: CallContext): Promise<T> {
    if (this.trialsInFlight >= this.halfOpenMaxCalls)
      return this.reject(ctx, 'half_open', undefined);
    this.trialsInFlight++;
    const generation = this.generation;
    const startMs = this.measuresDuration ? monotonicNow() : 0;
    return invoke(fn, ctx).then(
      (value) => {
        this.settleTrial(generation, SUCCESS, startMs, ctx, undefined);
        return value;
      },
      (error: unknown) => {
        this.settleTrial(generation, this.outcomeOf(error, ctx), startMs, ctx, error);
        throw error;
      },
    );
  }

  private settleTrial(
    generation: number,
    outcome: Outcome,
    startMs: number,
    ctx: CallContext,
    error: unknown,
  ): void {
    // The circuit moved on while the trial ran: its slot and its result belong to a period that
    // is over.
    if (generation !== this.generation) return;
    this.trialsInFlight--;
    if (outcome === IGNORED) return;
    if (outcome === FAILURE) {
      this.open(ctx, error);
    } else if (this.measuresDuration && monotonicNow() - startMs > this.slowCallMs) {
      // A dependency that answers, but as slowly as when it opened the circuit, has not recovered.
      this.open(ctx, undefined);
    } else if (++this.trialSuccesses >= this.successThreshold) {
      this.close(ctx);
    }
  }

  private outcomeOf(error: unknown, ctx: CallContext): Outcome {
    if (isAbortedError(error)) return IGNORED;
    if (isTimeoutExceededError(error) && error.source === 'deadline') return IGNORED;
    const signal = ctx.signal;
    // An outer timeout policy aborts the signal too, and its timeouts are the dependency's fault.
    if (signal.aborted && !isTimeoutExceededError(signal.reason)) return IGNORED;
    try {
      return this.isFailure(error, ctx.execution.classify(error, this.telemetry.classifier))
        ? FAILURE
        : SUCCESS;
    } catch (predicateError) {
      diag.error(
        'otel-resilience: a circuit breaker isFailure predicate threw; counting a failure',
        predicateError,
      );
      return FAILURE;
    }
  }

  private rejectionTelemetry(state: RejectingState): RejectionTelemetry {
    return {
      series: this.telemetry.series('circuitRejections', { [ATTR_CIRCUIT_STATE]: state }),
      attributes: Object.freeze({ [ATTR_RESILIENCE_NAME]: this.name, [ATTR_CIRCUIT_STATE]: state }),
    };
  }

  private reject<T>(
    ctx: CallContext,
    state: RejectingState,
    retryAfterMs: number | undefined,
  ): Promise<T> {
    const telemetry = this.rejections[state];
    telemetry.series.value++;
    ctx.execution.addEvent(EVENT_CIRCUIT_REJECTION, telemetry.attributes);
    const error = withoutStackTrace(BrokenCircuitError, this.name, state, retryAfterMs);
    if (this.rejectEmitter.hasListeners) this.rejectEmitter.emit(error);
    return rejectAfterHandlersAttach(error);
  }

  /** Opens from closed (step 0) or again after a failed trial (one step longer). */
  private open(ctx: CallContext | undefined, error: unknown): void {
    this.openStep = this.current === 'half_open' ? this.openStep + 1 : 0;
    this.openDurationMs = this.openDuration.forStep(this.openStep);
    this.openedAtMs = monotonicNow();
    this.moveTo('open', ctx, error);
  }

  private close(ctx: CallContext | undefined): void {
    this.window.reset();
    this.openStep = 0;
    this.moveTo('closed', ctx, undefined);
  }

  /**
   * The one place the state changes: telemetry, span event, state store, then listeners (so a
   * listener already sees the new state, and one that throws changes nothing).
   */
  private moveTo(
    to: CircuitState,
    ctx: CallContext | undefined,
    error: unknown,
    publish = true,
    changedAt?: number,
  ): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.generation++;
    // Strictly increasing, so that two changes within one millisecond are still ordered.
    this.changedAt = changedAt ?? Math.max(wallClockNow(), this.changedAt + 1);
    if (from === 'isolated') {
      this.isolations = 0;
      this.isolationEpoch++;
    }
    if (!this.disposed) {
      this.gauge(from).value -= 1;
      this.gauge(to).value += 1;
    }
    this.telemetry.count('circuitTransitions', {
      [ATTR_CIRCUIT_PREVIOUS_STATE]: from,
      [ATTR_CIRCUIT_STATE]: to,
    });
    ctx?.execution.addEvent(EVENT_CIRCUIT_TRANSITION, {
      [ATTR_RESILIENCE_NAME]: this.name,
      [ATTR_CIRCUIT_PREVIOUS_STATE]: from,
      [ATTR_CIRCUIT_STATE]: to,
    });
    if (publish) this.publish();
    if (this.stateChangeEmitter.hasListeners) this.stateChangeEmitter.emit({ from, to });
    if (to === 'open') {
      if (this.openEmitter.hasListeners) {
        this.openEmitter.emit({ openDurationMs: this.openDurationMs, error });
      }
    } else if (to === 'half_open') this.halfOpenEmitter.emit(undefined);
    else if (to === 'closed') this.closeEmitter.emit(undefined);
  }

  private gauge(state: CircuitState): Series {
    return this.telemetry.series('circuitState', { [ATTR_CIRCUIT_STATE]: state });
  }

  private publish(): void {
    const store = this.store;
    if (store === undefined) return;
    try {
      const saved = store.save(this.name, this.toSnapshot());
      if (isThenable(saved)) saved.then(undefined, reportStoreError('save'));
    } catch (storeError) {
      reportStoreError('save')(storeError);
    }
  }

  private loadFromStore(): CircuitBreakerSnapshot | undefined {
    const store = this.store;
    if (store === undefined) return undefined;
    let loaded: ReturnType<CircuitBreakerStateStore['load']>;
    try {
      loaded = store.load(this.name);
    } catch (storeError) {
      reportStoreError('load')(storeError);
      return undefined;
    }
    if (isThenable(loaded)) {
      loaded.then((snapshot) => {
        if (snapshot !== undefined) this.adoptExternal(snapshot, 'stateStore.load');
      }, reportStoreError('load'));
      return undefined;
    }
    return loaded === undefined ? undefined : this.parseExternal(loaded, 'stateStore.load');
  }

  private parseExternal(value: unknown, source: string): CircuitBreakerSnapshot | undefined {
    try {
      return parseSnapshot(source, value);
    } catch (parseError) {
      diag.warn(`otel-resilience: circuit breaker "${this.name}" ignored a snapshot`, parseError);
      return undefined;
    }
  }

  private adoptExternal(value: unknown, source: string): void {
    const snapshot = this.parseExternal(value, source);
    if (snapshot !== undefined) this.adopt(snapshot, 'remote');
  }

  /**
   * Takes on the state of `snapshot`:
   * - `initial` (the `initialState` option) and `stored` (the store's state at construction) set
   *   the starting state, with no transition;
   * - `restore` (the `restore()` method) is a local change: a transition, published;
   * - `remote` (another breaker via the store) applies only when newer than the current state,
   *   and is not published back.
   */
  private adopt(
    snapshot: CircuitBreakerSnapshot,
    mode: 'initial' | 'stored' | 'restore' | 'remote',
  ): void {
    const current = this.current;
    if (mode === 'remote') {
      if (this.isolations > 0) return;
      if (snapshot.changedAt < this.changedAt) return;
      if (snapshot.changedAt === this.changedAt && SEVERITY[snapshot.state] <= SEVERITY[current]) {
        return;
      }
      // Another breaker probing does not interrupt our own open period or trials.
      if (snapshot.state === 'half_open' && (current === 'open' || current === 'half_open')) {
        return;
      }
    }
    const target: CircuitState = snapshot.state === 'half_open' ? 'open' : snapshot.state;
    if (target === 'open') {
      this.openStep = snapshot.openStep;
      this.openDurationMs = snapshot.openDurationMs ?? this.openDuration.forStep(snapshot.openStep);
      const ageMs = Math.max(0, wallClockNow() - (snapshot.openedAt ?? 0));
      // Trials belong to the process that ran them: a half-open snapshot resumes as an open
      // period that is already over, so the next call here becomes a trial.
      this.openedAtMs =
        monotonicNow() -
        (snapshot.state === 'half_open' ? Math.max(ageMs, this.openDurationMs) : ageMs);
    } else if (target === 'closed') {
      this.openStep = 0;
    }
    const restoresWindow =
      (mode === 'initial' || mode === 'restore') && snapshot.window !== undefined;
    if (restoresWindow && !this.window.restore(snapshot.window)) {
      diag.warn(`otel-resilience: circuit breaker "${this.name}" ignored an unknown window state`);
    }
    if (target === 'closed' && current !== 'closed' && !restoresWindow) this.window.reset();
    if (mode === 'initial' || mode === 'stored') {
      this.current = target;
      this.changedAt = snapshot.changedAt;
      return;
    }
    if (target === current) {
      this.changedAt = Math.max(this.changedAt, snapshot.changedAt);
      return;
    }
    this.moveTo(target, undefined, undefined, mode === 'restore', snapshot.changedAt);
  }
}

function checkStore(store: unknown): CircuitBreakerStateStore | undefined {
  if (store === undefined) return undefined;
  const candidate = store as Partial<CircuitBreakerStateStore> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.load !== 'function' ||
    typeof candidate.save !== 'function' ||
    (candidate.subscribe !== undefined && typeof candidate.subscribe !== 'function')
  ) {
    throw new TypeError(
      `stateStore must have load(), save() and optionally subscribe(), got ${String(store)}`,
    );
  }
  return candidate as CircuitBreakerStateStore;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function reportStoreError(operation: string): (error: unknown) => void {
  return (error) =>
    diag.error(`otel-resilience: circuit breaker state store ${operation} failed`, error);
}

/**
 * Creates a {@link CircuitBreakerPolicy}.
 * @example
 * const breaker = circuitBreaker({
 *   name: 'payments',
 *   breaker: countBasedBreaker({ failureRateThreshold: 0.5, windowSize: 20, minimumCalls: 10 }),
 *   halfOpenAfterMs: 10_000,
 *   openDurationBackoff: { factor: 2, maxMs: 300_000 },
 * });
 * await breaker.execute(({ signal }) => fetch(url, { signal }));
 */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
