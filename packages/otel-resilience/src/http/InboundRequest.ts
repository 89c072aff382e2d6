import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, type Span, trace } from '@opentelemetry/api';
import { BulkheadPolicy } from '../BulkheadPolicy.js';
import { monotonicNow } from '../clock.js';
import {
  currentDeadlineScope,
  type DeadlineScope,
  runInDeadlineScope,
} from '../DeadlineContext.js';
import { doNothing } from '../ExecuteContext.js';
import { isBrokenCircuitError } from '../errors/BrokenCircuitError.js';
import { isBulkheadRejectedError } from '../errors/BulkheadRejectedError.js';
import { TimeoutExceededError } from '../errors/TimeoutExceededError.js';
import { type Policy, runQuietly } from '../Policy.js';
import type { RetryBudget } from '../RetryBudget.js';
import type { TimerEntry, TimerQueue } from '../TimerQueue.js';
import {
  ATTR_HTTP_ROUTE,
  ATTR_REJECTION_REASON,
  EVENT_INBOUND_REJECTION,
  type InboundRejectionReason,
  UNMATCHED_ROUTE,
} from '../telemetry/attributes.js';
import { localDurationsActive, recordDuration } from '../telemetry/durations.js';
import { instruments } from '../telemetry/metrics.js';
import { parseDeadlineHeader } from './deadlineHeader.js';
import { guardAnswer } from './guardAnswer.js';
import { writeAnswer } from './HttpAnswer.js';
import type { InboundGuard, InboundRoute } from './InboundGuard.js';

/** Options of {@link InboundGuard.begin}. */
export interface BeginOptions {
  /** `url.scheme` of the request (`http` or `https`). Default: `'http'`. */
  readonly scheme?: 'http' | 'https';
  /**
   * Reads the route template the framework's router matched so far (`undefined` while none
   * did). Consulted whenever the guard reports something, until {@link InboundRequest.route} is
   * set, so a request that times out after routing is counted under its route.
   */
  readonly routeOf?: () => string | undefined;
}

/**
 * What the OpenTelemetry http instrumentation keeps in the context of each request it traces
 * (`RPCMetadata` of `@opentelemetry/core`): its server span, and the route template it reads when
 * the response ends, to name that span and label its `http.server.request.duration`.
 */
interface HttpRpcMetadata {
  readonly type: string;
  readonly span?: Span;
  route?: string;
}

// `@opentelemetry/core`'s key: `createContextKey(description)` is `Symbol.for(description)`, so it
// is read without depending on core, the way the Express and Koa instrumentations read it.
const RPC_METADATA_KEY = Symbol.for('OpenTelemetry SDK Context Key RPC_METADATA');

/**
 * How a response that ended with a 5xx status reaches the route's breaker: the held slot's
 * promise rejects with it. Never seen by users. @internal
 */
export class ServerErrorResponse extends Error {
  constructor(readonly status: number) {
    super(`the response status was ${status}`);
  }
}

const OPEN = 0;
const ANSWERED = 1;
const ENDED = 2;

function returnThis<T>(this: T): T {
  return this;
}
const writeNothing = () => true;

/** The entry of a request's time limit in a shared {@link TimerQueue}. */
class LimitTimer implements TimerEntry {
  dueAt = 0;
  next: TimerEntry | undefined = undefined;
  queued = false;

  constructor(private readonly request: InboundRequest) {}

  onTimeout(): void {
    this.request.timedOut();
  }
}

/** `setTimeout` callback of a limit that has a timer of its own. */
function limitReached(request: InboundRequest): void {
  request.timedOut();
}

/**
 * One inbound request under an {@link InboundGuard}: its time limit and AbortSignal, the deadline
 * scope nested work reads (it is that scope), and the answers the guard gives in the handler's
 * place. Created by {@link InboundGuard.begin}; ends when the response closes.
 */
export class InboundRequest implements DeadlineScope {
  /** Monotonic arrival time (ms). */
  readonly startMs = monotonicNow();
  /**
   * The instruments of the SDK registered when the request began, for its duration. Binding them
   * (a cheap comparison when the SDK has not changed) also binds the guard's observable counters:
   * they are exported even when no policy ever ran in this process.
   */
  private readonly bound = instruments();
  private assignedRoute: string | undefined;
  private readonly routeOf: (() => string | undefined) | undefined;
  /** The http instrumentation's metadata of this request, when it traces it. */
  private readonly rpcMetadata: HttpRpcMetadata | undefined;
  /** The server span when the http instrumentation made one, else the span active at begin. */
  private readonly span: Span | undefined;
  /** `url.scheme`: `http` or `https`. */
  readonly scheme: 'http' | 'https';
  private limitMs: number;
  private readonly headerLimitMs: number;
  private state = OPEN;
  private rejection: InboundRejectionReason | undefined;
  private controller: AbortController | undefined;
  /** The limit's timer: an entry in the guard's shared queue (the default limit) or a Node timer. */
  private timer: ReturnType<typeof setTimeout> | LimitTimer | undefined;
  private timerQueue: TimerQueue | undefined;
  private ended: { promise: Promise<void>; resolve(): void; reject(e: unknown): void } | undefined;
  /**
   * Bulkhead slots taken directly (the fast path of {@link through}), freed when the response
   * closes: the first one (usually the only one), then any more (a route bulkhead as well).
   */
  private slot: BulkheadPolicy | undefined;
  private moreSlots: BulkheadPolicy[] | undefined;
  /** Settles the promise {@link run} returned, when the guard answers before `proceed` settled. */
  private releaseRun: (() => void) | undefined;

  /** @internal */
  constructor(
    readonly guard: InboundGuard,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    options: BeginOptions = {},
  ) {
    this.scheme = options.scheme === 'https' ? 'https' : 'http';
    this.routeOf = options.routeOf;
    const active = context.active();
    const metadata = active.getValue(RPC_METADATA_KEY) as HttpRpcMetadata | undefined;
    this.rpcMetadata = metadata?.type === 'http' ? metadata : undefined;
    this.span = this.rpcMetadata?.span ?? trace.getSpan(active);
    let headerLimitMs = Number.POSITIVE_INFINITY;
    if (guard.deadlineHeader !== undefined) {
      const parsed = parseDeadlineHeader(req.headers[guard.deadlineHeader]);
      if (parsed === 'invalid') guard.invalidHeaderSeries.value++;
      else if (parsed !== undefined) headerLimitMs = parsed;
    }
    this.headerLimitMs = headerLimitMs;
    this.limitMs = Math.min(guard.timeoutMs, headerLimitMs);
    // `on`, not `once`: a response closes once, and `once` would wrap the listener per request.
    res.on('close', this.onClose);
  }

  /**
   * The matched route template: the one set here by a route middleware, else what `routeOf`
   * reads, else `undefined` (reported as `_OTHER`).
   */
  get route(): string | undefined {
    return this.assignedRoute ?? this.routeOf?.();
  }

  /**
   * Sets the route template, and hands it to the http instrumentation too, so its server span and
   * its `http.server.request.duration` carry `http.route` without a framework instrumentation.
   */
  set route(template: string | undefined) {
    this.assignedRoute = template;
    if (template !== undefined && template !== UNMATCHED_ROUTE && this.rpcMetadata !== undefined) {
      this.rpcMetadata.route = template;
    }
  }

  /** Monotonic time (ms) after which the request is answered with a timeout. */
  get deadline(): number {
    return this.startMs + this.limitMs;
  }

  /** Aborted when the request times out or the client goes away. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** The guard's retry budget, for outbound calls made while handling the request. */
  get retryBudget(): RetryBudget | undefined {
    return this.guard.retryBudget;
  }

  /** Why the guard answered this request itself, if it did (`undefined`: the handler answers). */
  get answeredWith(): InboundRejectionReason | undefined {
    return this.rejection;
  }

  /**
   * Admits the request (server-wide shedding) and calls `proceed` — the framework's `next` —
   * inside the request's deadline scope. Returns `undefined` when there is nothing to wait for
   * (`proceed` returned no promise and ran at once, or the guard answered instead); else a promise
   * that settles when `proceed`'s promise does, or as soon as the guard answers in the handler's
   * place. It rejects only with `proceed`'s own error (a synchronous throw included). Both suit
   * Koa's `return` and Express's `?.catch(next)`.
   */
  run(proceed: () => unknown): Promise<unknown> | undefined {
    if (this.limitMs <= 0) {
      this.answer('deadline_exceeded');
      return undefined;
    }
    this.arm(this.guard.timerQueue);
    const bulkhead = this.guard.bulkhead;
    return bulkhead === undefined
      ? this.proceed(proceed)
      : this.through(bulkhead, this.guard.shedRetryAfterSeconds, proceed);
  }

  /**
   * Applies a route's settings once the router matched `template`: its time limit (counted from
   * arrival), then its breaker and bulkhead, then calls `proceed` like {@link run} (and returns
   * like it).
   */
  enterRoute(
    route: InboundRoute,
    template: string,
    proceed: () => unknown,
  ): Promise<unknown> | undefined {
    this.route = template;
    const { timeoutMs, shedding } = route.options;
    if (timeoutMs !== undefined && this.state === OPEN) {
      this.limitMs = Math.min(timeoutMs, this.headerLimitMs);
      this.arm(route.timerQueue, monotonicNow());
    }
    if (this.state !== OPEN) return undefined;
    const policy = route.policyFor(template);
    return policy === undefined
      ? this.proceed(proceed)
      : this.through(policy, shedding?.retryAfterSeconds ?? 1, proceed);
  }

  /**
   * (Re-)arms the time limit from arrival, answering at once when it has already passed (`now`,
   * the current monotonic ms, tells; without it the limit is known to lie ahead). `queue` is the
   * shared timer of the guard's or the route's limit: used whenever the deadline keeps its order
   * (the common case: requests reach a limit in the order they arrived), which needs no clock
   * reading; else the request gets its own timer.
   */
  private arm(queue: TimerQueue | undefined, now?: number): void {
    this.disarm();
    if (this.limitMs === Number.POSITIVE_INFINITY) return;
    const deadline = this.deadline;
    if (now !== undefined && deadline <= now) {
      this.answer('timeout');
      return;
    }
    if (queue !== undefined) {
      // A new entry each time: a cancelled one stays linked in its queue until the queue drops it.
      const entry = new LimitTimer(this);
      if (queue.scheduleAt(entry, deadline)) {
        this.timer = entry;
        this.timerQueue = queue;
        return;
      }
    }
    this.timer = setTimeout(limitReached, deadline - (now ?? monotonicNow()), this);
  }

  private disarm(): void {
    const timer = this.timer;
    if (timer === undefined) return;
    this.timer = undefined;
    if (timer instanceof LimitTimer) this.timerQueue?.cancel(timer);
    else clearTimeout(timer);
  }

  /**
   * Runs the rest of the request under `policy` (a bulkhead or breaker): `proceed` runs once the
   * policy admits it, and the slot or permit is held until the response ends — a 5xx or a
   * timeout counting as the route's failure.
   */
  private through(
    policy: Policy,
    retryAfterSeconds: number,
    proceed: () => unknown,
  ): Promise<unknown> | undefined {
    if (policy instanceof BulkheadPolicy && policy.tryTakeSlot()) {
      // A bulkhead with a free slot, the common case: taken at once, without a policy run, and
      // freed when the response closes.
      if (this.slot === undefined) this.slot = policy;
      else {
        this.moreSlots ??= [];
        this.moreSlots.push(policy);
      }
      return this.proceed(proceed);
    }
    return new Promise<unknown>((settle, fail) => {
      let admitted = false;
      // The request itself is the signal source: its AbortController is made only if read.
      runQuietly(
        policy,
        () => {
          admitted = true;
          const proceeded = this.proceed(proceed);
          if (proceeded === undefined) settle(undefined);
          else proceeded.then(settle, fail);
          return this.whenEnded();
        },
        this,
      ).catch((error: unknown) => {
        if (admitted) return;
        if (isBulkheadRejectedError(error)) this.answer('shed', retryAfterSeconds);
        else if (isBrokenCircuitError(error)) {
          this.answer('circuit_open', Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000)));
        }
        // Otherwise the request was abandoned while queued: timed out (answered) or client gone.
        settle(undefined);
      });
    });
  }

  /**
   * Calls `proceed` in the deadline scope; a returned promise races the guard's own answer. A
   * route's `proceed` runs inside the app middleware's: the scope is entered and the race set up
   * once, by the outer one.
   */
  private proceed(proceed: () => unknown): Promise<unknown> | undefined {
    if (this.state !== OPEN) return undefined;
    const nested = currentDeadlineScope() === this;
    let result: unknown;
    try {
      result = nested ? proceed() : runInDeadlineScope(this, proceed);
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') return undefined;
    const pending = result as PromiseLike<unknown>;
    if (nested) return pending instanceof Promise ? pending : Promise.resolve(pending);
    // One promise for the race (Promise.race would take three more): every promise costs a hook
    // call once a deadline scope exists.
    return new Promise<void>((resolve, reject) => {
      if (this.state !== OPEN) resolve();
      else this.releaseRun = resolve;
      pending.then(
        () => {
          this.publishRoute();
          resolve();
        },
        (error: unknown) => {
          this.publishRoute();
          reject(error);
        },
      );
    });
  }

  /**
   * Hands the route `routeOf` reads now to the http instrumentation, before the framework writes
   * the response (whose end is when the instrumentation reads it).
   */
  private publishRoute(): void {
    if (this.assignedRoute === undefined && this.routeOf !== undefined) this.route = this.routeOf();
  }

  private whenEnded(): Promise<void> {
    if (this.ended === undefined) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((y, n) => {
        resolve = y;
        reject = n;
      });
      this.ended = { promise, resolve, reject };
    }
    return this.ended.promise;
  }

  /** The time limit passed. @internal */
  timedOut(): void {
    this.timer = undefined;
    this.answer('timeout');
  }

  /** The guard answers in the handler's place: counted, on the span, and aborting the work. */
  private answer(reason: InboundRejectionReason, retryAfterSeconds?: number): void {
    if (this.state !== OPEN) return;
    this.state = ANSWERED;
    this.rejection = reason;
    this.disarm();
    const guard = this.guard;
    const route = this.route;
    guard.countRejection(route, reason);
    this.span?.addEvent(EVENT_INBOUND_REJECTION, {
      [ATTR_REJECTION_REASON]: reason,
      ...(route === undefined ? {} : { [ATTR_HTTP_ROUTE]: route }),
    });
    const timedOut = reason === 'timeout' || reason === 'deadline_exceeded';
    if (timedOut) {
      this.controller ??= new AbortController();
      this.controller.abort(new TimeoutExceededError(this.limitMs, 'deadline'));
    }
    const res = this.res;
    // A response that already started cannot be replaced: the handler keeps it, its work aborted.
    if (!res.headersSent && !res.writableEnded) {
      writeAnswer(
        res,
        guardAnswer(reason, timedOut ? guard.timeoutStatus : 503, this.limitMs, retryAfterSeconds),
      );
      silence(res);
    }
    this.publishRoute();
    this.releaseRun?.();
  }

  private readonly onClose = (): void => {
    const res = this.res;
    // Ended by the app or the guard counts as answered even when the socket closed before the
    // last byte left: test servers that emit 'close' straight after `end()` (light-my-request,
    // Fastify's inject) never set `writableFinished`, and their every request would otherwise
    // count as a client that went away.
    const finished = res.writableEnded;
    this.disarm();
    if (this.state === OPEN && !finished) {
      // The client went away. Made now if nobody read it yet, so that a breaker judging the
      // request's end sees an abort and counts it neither way.
      this.controller ??= new AbortController();
      this.controller.abort();
    }
    this.state = ENDED;
    this.slot?.freeSlot();
    if (this.moreSlots !== undefined) for (const bulkhead of this.moreSlots) bulkhead.freeSlot();
    const status = res.statusCode;
    if (this.guard.serverMetrics && finished) {
      const bound = this.bound;
      if (bound.recording || localDurationsActive()) {
        recordDuration(
          'httpServerDuration',
          (monotonicNow() - this.startMs) / 1000,
          this.guard.durationAttributesFor(
            this.req.method ?? '_OTHER',
            this.route,
            status,
            this.scheme,
          ),
          bound,
        );
      }
    }
    if (this.ended !== undefined) {
      if (status >= 500 || !finished) this.ended.reject(new ServerErrorResponse(status));
      else this.ended.resolve();
    }
  };
}

/**
 * After the guard answered, a handler that still writes must neither throw (Express's
 * `res.send()` would, from code that may not catch it) nor touch the finished response.
 */
function silence(res: ServerResponse): void {
  const target = res as unknown as Record<string, unknown>;
  target.setHeader = returnThis;
  target.appendHeader = returnThis;
  target.writeHead = returnThis;
  target.removeHeader = doNothing;
  target.flushHeaders = doNothing;
  target.write = writeNothing;
  target.end = returnThis;
}
