/**
 * The demo's terminal display. Once a second it prints one line of what the suite is doing —
 * requests answered by outcome, upstream calls, retries and requests per call, database
 * transaction re-runs, the retry budget and every breaker's state — and one line per breaker
 * transition. On a terminal a status block (phase progress, breakers, budget, bulkhead) stays at
 * the bottom and is redrawn in place; elsewhere (CI, a pipe, a test) it prints plain lines only.
 *
 * It reads what Prometheus would: the service's `/metrics` (counters by the names of the engine's
 * `prometheusNames()`) and `/status` (the engine's health registry: breaker states, budgets,
 * bulkheads), plus the upstream's request counter and the answers the load driver got. So it works
 * the same for a service in this process or another one, Express or Koa.
 */
import {
  type HealthReport,
  type MetricKey,
  prometheusLabel,
  prometheusNames,
} from 'otel-resilience';
import type { UpstreamControl, UpstreamStats } from './FlakyUpstream.js';
import type { Phase, PhaseReport, RequestResult } from './phases.js';
import { MetricsSnapshot, scrape } from './prometheusText.js';
import { NAMES, ROUTES } from './settings.js';

/** What the display reads of `/status`: the engine's health report, as JSON. */
export type StatusReport = Pick<HealthReport, 'status' | 'breakers' | 'budgets' | 'bulkheads'>;

type Output = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };

export interface LiveViewOptions {
  /** Base URL of the service: `/metrics` and `/status` are read from it. */
  readonly serviceUrl: string;
  readonly upstream: UpstreamControl;
  readonly phases: readonly Phase[];
  readonly ratePerSecond: number;
  /** Default `process.stdout`. */
  readonly out?: Output;
  /** Redraw a status block in place. Default: `out.isTTY` and no `CI` variable. */
  readonly tty?: boolean;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
}

/** Label and metric names, from the engine's catalogue (as `@opentelemetry/exporter-prometheus` writes them). */
const m = (key: MetricKey) => prometheusNames(key);
const L = {
  name: prometheusLabel('resilience.name'),
  outcome: prometheusLabel('resilience.outcome'),
  decision: prometheusLabel('resilience.retry.decision'),
  reason: prometheusLabel('resilience.retry.reason'),
  state: prometheusLabel('resilience.circuit_breaker.state'),
  previous: prometheusLabel('resilience.circuit_breaker.previous_state'),
  rejection: prometheusLabel('resilience.rejection.reason'),
  status: prometheusLabel('http.response.status_code'),
  route: prometheusLabel('http.route'),
  connState: prometheusLabel('db.client.connection.state'),
};
const CALLS = m('callDuration').count as string;
const DECISIONS = m('retryDecisions').name;
const TRANSITIONS = m('circuitTransitions').name;
const REJECTIONS = m('inboundRejections').name;
const BREAKER_REJECTIONS = m('circuitRejections').name;

/** The numbers one interval (or one phase) adds up to, from two scrapes. */
interface MetricDeltas {
  upstreamCalls: number;
  /** Upstream attempts the open (or half-open) breaker refused. */
  upstreamRefused: number;
  upstreamRetriedOk: number;
  upstreamFailed: number;
  upstreamRetries: number;
  budgetSkips: number;
  dbReruns: number;
  transitions: Array<{ name: string; from: string; to: string; count: number }>;
}

function deltas(now: MetricsSnapshot, before: MetricsSnapshot): MetricDeltas {
  const d = (name: string, match: Parameters<MetricsSnapshot['sum']>[1]) =>
    Math.max(0, now.sum(name, match) - before.sum(name, match));
  const transitions: MetricDeltas['transitions'] = [];
  for (const s of now.select(TRANSITIONS)) {
    const match = {
      [L.name]: s.labels[L.name] ?? '',
      [L.previous]: s.labels[L.previous] ?? '',
      [L.state]: s.labels[L.state] ?? '',
    };
    const count = d(TRANSITIONS, match);
    if (count > 0) {
      transitions.push({
        name: match[L.name] as string,
        from: match[L.previous] as string,
        to: match[L.state] as string,
        count,
      });
    }
  }
  const order = ['closed>open', 'open>half_open', 'half_open>open', 'half_open>closed'];
  transitions.sort(
    (a, b) => order.indexOf(`${a.from}>${a.to}`) - order.indexOf(`${b.from}>${b.to}`),
  );
  return {
    upstreamCalls: d(CALLS, { [L.name]: NAMES.upstream }),
    upstreamRefused: d(BREAKER_REJECTIONS, { [L.name]: NAMES.upstream }),
    upstreamRetriedOk: d(CALLS, { [L.name]: NAMES.upstream, [L.outcome]: 'success_after_retry' }),
    upstreamFailed: d(CALLS, { [L.name]: NAMES.upstream, [L.outcome]: 'failure' }),
    upstreamRetries: d(DECISIONS, { [L.name]: NAMES.upstream, [L.decision]: 'retry' }),
    budgetSkips: d(DECISIONS, { [L.reason]: 'budget' }),
    dbReruns: d(DECISIONS, { [L.name]: NAMES.dbTransaction, [L.decision]: 'retry' }),
    transitions,
  };
}

/** A short name for a breaker of the example services. */
export function breakerLabel(name: string): string {
  if (name === NAMES.upstream) return 'upstream';
  if (name === NAMES.db) return 'db';
  if (name.startsWith(`${NAMES.inbound} `)) return `route ${name.slice(NAMES.inbound.length + 1)}`;
  return name;
}

/** Column headers of the once-a-second line, and their widths. */
const COLUMNS = [
  ['req', 4],
  ['ok', 4],
  ['degr', 4],
  ['shed', 4],
  ['t/out', 5],
  ['open', 4],
  ['fail', 4],
  ['| calls', 7],
  ['refused', 7],
  ['retries', 7],
  ['req/call', 8],
  ['| db reruns', 11],
  ['| budget', 8],
  ['| breakers', 0],
] as const;
const HEADER = COLUMNS.map(([h, w]) => h.padStart(w)).join(' ');

const COLORS = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;

export class LiveView {
  private readonly out: Output;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly metricsUrl: string;
  private readonly statusUrl: string;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private phaseIndex = -1;
  private phaseStartedAt = 0;
  private bucket: RequestResult[] = [];
  private lastMetrics = new MetricsSnapshot([]);
  private lastUpstream: UpstreamStats | undefined;
  private lastStatus: StatusReport | undefined;
  private blockLines = 0;
  private readonly recent: Array<{ calls: number; requests: number }> = [];
  private ticks = 0;
  private redrawTimer: NodeJS.Timeout | undefined;
  private readonly phaseBaselines: MetricsSnapshot[] = [];
  private finalMetrics: MetricsSnapshot | undefined;

  constructor(private readonly options: LiveViewOptions) {
    this.out = options.out ?? process.stdout;
    this.tty = options.tty ?? (this.out.isTTY === true && (process.env.CI ?? '') === '');
    this.intervalMs = options.intervalMs ?? 1_000;
    const base = options.serviceUrl.replace(/\/$/, '');
    this.metricsUrl = `${base}/metrics`;
    this.statusUrl = `${base}/status`;
  }

  /** Reads the first state and starts the once-a-second refresh. */
  async start(): Promise<void> {
    this.startedAt = performance.now();
    const { upstream } = await this.read();
    this.lastUpstream = upstream;
    // The progress bar moves between ticks (no reads: it redraws what the last tick read).
    if (this.tty) this.redrawTimer = setInterval(() => this.redrawBlock(), 250);
    // Ticks on whole intervals since the start, however long a tick's reads take.
    const schedule = () => {
      this.ticks++;
      const wait = Math.max(0, this.startedAt + this.ticks * this.intervalMs - performance.now());
      this.timer = setTimeout(() => {
        this.ticking = this.tick().finally(() => {
          if (this.timer !== undefined) schedule();
        });
      }, wait);
    };
    schedule();
  }

  /** For the driver's `onPhaseStart`: records the phase's baseline and prints its banner. */
  async phaseStarted(phase: Phase, index: number): Promise<void> {
    await this.ticking;
    const snapshot = await this.safeScrape();
    this.phaseBaselines[index] = snapshot;
    this.phaseIndex = index;
    this.phaseStartedAt = performance.now();
    const seconds = Math.round(phase.durationMs / 100) / 10;
    this.print([
      '',
      this.paint('bold', `== ${phase.name} (${seconds} s): ${phase.description}`),
      this.paint('dim', `   time ${HEADER}`),
    ]);
  }

  /** For the driver's `onResult`. */
  record(result: RequestResult): void {
    this.bucket.push(result);
  }

  /** Stops refreshing, prints the last interval and removes the status block. */
  async stop(): Promise<void> {
    const timer = this.timer;
    this.timer = undefined;
    if (timer !== undefined) clearTimeout(timer);
    if (this.redrawTimer !== undefined) clearInterval(this.redrawTimer);
    await this.ticking;
    await this.tick();
    this.finalMetrics = this.lastMetrics;
    this.clearBlock();
  }

  /** The per-phase summary table, after {@link stop}. */
  summary(reports: readonly PhaseReport[]): string {
    const final = this.finalMetrics ?? this.lastMetrics;
    const head = [
      'phase',
      'sent',
      'ok',
      'degr',
      'shed',
      't/out',
      'open',
      'fail',
      'p95 ms',
      'up calls',
      'refused',
      'retries',
      'req/call',
      'db re-runs',
    ];
    const rows = reports.map((r, i) => {
      const before = this.phaseBaselines[i] ?? new MetricsSnapshot([]);
      const after = this.phaseBaselines[i + 1] ?? final;
      const d = deltas(after, before);
      return {
        cells: [
          r.name,
          String(r.sent),
          String(r.outcomes.ok),
          String(r.outcomes.degraded),
          String(r.outcomes.shed),
          String(r.outcomes.timedOut),
          String(r.outcomes.fastFail),
          String(r.outcomes.failed + r.outcomes.noAnswer),
          String(Math.round(r.latencyMs.p95)),
          String(d.upstreamCalls),
          String(d.upstreamRefused),
          String(d.upstreamRetries),
          d.upstreamCalls === 0 ? '-' : (r.upstream.requests / d.upstreamCalls).toFixed(2),
          String(d.dbReruns),
        ],
        transitions: d.transitions,
      };
    });
    const widths = head.map((h, c) =>
      Math.max(h.length, ...rows.map((r) => r.cells[c]?.length ?? 0)),
    );
    const line = (cells: readonly string[]) =>
      cells
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  ');
    const out = ['  ' + line(head)];
    for (const row of rows) {
      out.push('  ' + line(row.cells));
      for (const t of row.transitions) {
        out.push(
          `      breaker ${breakerLabel(t.name)}: ${t.from} -> ${t.to}${t.count > 1 ? ` (x${t.count})` : ''}`,
        );
      }
    }
    return out.join('\n');
  }

  /** The final scrape (after {@link stop}), for a closing summary of the series. */
  get metrics(): MetricsSnapshot {
    return this.finalMetrics ?? this.lastMetrics;
  }

  private async safeScrape(): Promise<MetricsSnapshot> {
    try {
      this.lastMetrics = await scrape(this.metricsUrl, 2_000);
    } catch {
      // keep the previous one: a missed scrape shows as a quiet second
    }
    return this.lastMetrics;
  }

  private async read(): Promise<{
    metrics: MetricsSnapshot;
    upstream?: UpstreamStats;
    status?: StatusReport;
  }> {
    const [metrics, upstream, status] = await Promise.all([
      this.safeScrape(),
      this.options.upstream.stats().catch(() => undefined),
      fetch(this.statusUrl, { signal: AbortSignal.timeout(2_000) })
        .then((res) => res.json() as Promise<StatusReport>)
        .catch(() => undefined),
    ]);
    if (status !== undefined) this.lastStatus = status;
    return {
      metrics,
      ...(upstream === undefined ? {} : { upstream }),
      ...(status === undefined ? {} : { status }),
    };
  }

  private async tick(): Promise<void> {
    const before = this.lastMetrics;
    const upstreamBefore = this.lastUpstream;
    const results = this.bucket;
    this.bucket = [];
    const { metrics, upstream } = await this.read();
    if (upstream !== undefined) this.lastUpstream = upstream;
    if (this.phaseIndex < 0) {
      this.redrawBlock();
      return;
    }
    const d = deltas(metrics, before);
    const upstreamRequests =
      upstream !== undefined && upstreamBefore !== undefined
        ? upstream.requests - upstreamBefore.requests
        : undefined;
    const lines: string[] = [];
    for (const t of d.transitions) {
      const color = t.to === 'open' ? 'red' : t.to === 'closed' ? 'green' : 'yellow';
      lines.push(
        this.paint(
          color,
          `          ! breaker ${breakerLabel(t.name)}: ${t.from} -> ${t.to}${t.count > 1 ? ` (x${t.count})` : ''}`,
        ),
      );
    }
    lines.push(this.intervalLine(results, d, upstreamRequests));
    this.print(lines);
  }

  private intervalLine(
    results: readonly RequestResult[],
    d: MetricDeltas,
    upstreamRequests: number | undefined,
  ): string {
    const count = (o: RequestResult['outcome']) => results.filter((r) => r.outcome === o).length;
    const seconds = Math.round((performance.now() - this.startedAt) / 1_000);
    const ok = count('ok');
    const bad = count('failed') + count('noAnswer');
    const num = (n: number, w: number) => String(n).padStart(w);
    // Requests the upstream received per call, over the last 3 s: calls are counted when they
    // end and requests when they arrive, so one second alone can be skewed by slow calls.
    this.recent.push({ calls: d.upstreamCalls, requests: upstreamRequests ?? 0 });
    if (this.recent.length > 3) this.recent.shift();
    const calls = this.recent.reduce((sum, r) => sum + r.calls, 0);
    const requests = this.recent.reduce((sum, r) => sum + r.requests, 0);
    const perCall = calls === 0 ? '-' : (requests / calls).toFixed(2);
    const budget = this.lastStatus?.budgets.find((b) => b.name === NAMES.inbound)?.balance;
    const w = (i: number) => COLUMNS[i]?.[1] ?? 0;
    const cells = [
      num(results.length, w(0)),
      this.paint(ok === results.length ? 'green' : 'dim', num(ok, w(1))),
      this.highlight(count('degraded'), w(2)),
      this.highlight(count('shed'), w(3)),
      this.highlight(count('timedOut'), w(4)),
      this.highlight(count('fastFail'), w(5)),
      this.highlight(bad, w(6)),
      `|${num(d.upstreamCalls, w(7) - 1)}`,
      this.highlight(d.upstreamRefused, w(8)),
      this.highlight(d.upstreamRetries, w(9)),
      perCall.padStart(w(10)),
      `|${this.highlight(d.dbReruns, w(11) - 1)}`,
      `|${(budget === undefined ? '-' : budget.toFixed(0)).padStart(w(12) - 1)}`,
      `| ${this.breakers()}`,
    ];
    return `${num(seconds, 6)}s ${cells.join(' ')}`;
  }

  private breakers(): string {
    const status = this.lastStatus;
    if (status === undefined) return '?';
    const order = (name: string) => (name === NAMES.upstream ? 0 : name === NAMES.db ? 2 : 1);
    return [...status.breakers]
      .sort((a, b) => order(a.name) - order(b.name))
      .map((b) => {
        const color = b.state === 'closed' ? 'green' : b.state === 'open' ? 'red' : 'yellow';
        const label = breakerLabel(b.name).replace(`route ${ROUTES.getOrder}`, 'route');
        return `${label} ${this.paint(color, b.state)}`;
      })
      .join(', ');
  }

  private highlight(n: number, width: number): string {
    const text = String(n).padStart(width);
    return n > 0 ? this.paint('yellow', text) : this.paint('dim', text);
  }

  private paint(color: keyof typeof COLORS, text: string): string {
    return this.tty ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
  }

  /** Prints log lines above the status block (TTY) or just prints them. */
  private print(lines: readonly string[]): void {
    this.clearBlock();
    this.out.write(lines.map((l) => `${l}\n`).join(''));
    this.redrawBlock();
  }

  private clearBlock(): void {
    if (!this.tty || this.blockLines === 0) return;
    this.out.write(`\x1b[${this.blockLines}F\x1b[0J`);
    this.blockLines = 0;
  }

  private redrawBlock(): void {
    if (!this.tty || this.timer === undefined) return;
    this.clearBlock();
    const phase = this.options.phases[this.phaseIndex];
    const total = this.options.phases.reduce((sum, p) => sum + p.durationMs, 0);
    const elapsed = performance.now() - this.startedAt;
    const lines: string[] = [];
    if (phase !== undefined) {
      const inPhase = Math.min(phase.durationMs, performance.now() - this.phaseStartedAt);
      const width = 24;
      const filled = Math.round((inPhase / phase.durationMs) * width);
      lines.push(
        ` ${this.paint('cyan', `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`)} ` +
          `${this.paint('bold', phase.name)} ${(inPhase / 1_000).toFixed(0)}/${(phase.durationMs / 1_000).toFixed(0)} s` +
          ` - phase ${this.phaseIndex + 1}/${this.options.phases.length}, ${(elapsed / 1_000).toFixed(0)}/${(total / 1_000).toFixed(0)} s` +
          ` - ${this.options.ratePerSecond} req/s offered - ${this.metricsUrl}`,
      );
    }
    const status = this.lastStatus;
    if (status !== undefined) {
      const bulkhead = status.bulkheads.find((b) => b.name === NAMES.inbound);
      const budget = status.budgets.find((b) => b.name === NAMES.inbound);
      lines.push(
        ` breakers: ${this.breakers()}` +
          (budget === undefined ? '' : ` - retry budget ${budget.balance.toFixed(0)} tokens`) +
          (bulkhead === undefined
            ? ''
            : ` - in flight ${bulkhead.active}/${bulkhead.maxConcurrent}, queued ${bulkhead.queued}/${bulkhead.maxQueued}`) +
          ` - /status ${status.status}`,
      );
    }
    if (lines.length === 0) return;
    // A block line that wrapped would take two rows and break the redraw: cut to the width.
    const width = Math.max(20, (this.out.columns ?? 120) - 1);
    this.out.write(lines.map((l) => `${fit(l, width)}\n`).join(''));
    this.blockLines = lines.length;
  }
}

/** `line` cut to `width` visible characters, escape sequences kept whole. */
function fit(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end < 0) break;
      out += line.slice(i, end + 1);
      i = end;
      continue;
    }
    if (visible >= width) return `${out}\x1b[0m`;
    out += line[i];
    visible++;
  }
  return out;
}

/**
 * A few lines summing up the series on `/metrics` (the same Prometheus scrapes): upstream calls by
 * outcome, retry decisions, breaker transitions, inbound rejections, server answers by status,
 * database transactions and pool state.
 */
export function metricsSummary(metrics: MetricsSnapshot): string[] {
  const by = (name: string, label: string, match: Record<string, string> = {}) => {
    const totals = new Map<string, number>();
    for (const s of metrics.select(name, match)) {
      const key = s.labels[label] ?? '';
      totals.set(key, (totals.get(key) ?? 0) + s.value);
    }
    return (
      [...totals]
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k || '-'} ${v}`)
        .join(', ') || 'none'
    );
  };
  const server = prometheusNames('httpServerDuration').count as string;
  const decisions = metrics.select(DECISIONS, { [L.name]: NAMES.upstream }).reduce((acc, s) => {
    const key = `${s.labels[L.decision]}/${s.labels[L.reason]}`;
    acc.set(key, (acc.get(key) ?? 0) + s.value);
    return acc;
  }, new Map<string, number>());
  return [
    `${CALLS}{${L.name}="${NAMES.upstream}"} by outcome: ${by(CALLS, L.outcome, { [L.name]: NAMES.upstream })}`,
    `${DECISIONS}{${L.name}="${NAMES.upstream}"} by decision/reason: ${
      [...decisions]
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    `${CALLS}{${L.name}="${NAMES.dbTransaction}"} by outcome: ${by(CALLS, L.outcome, { [L.name]: NAMES.dbTransaction })}`,
    `${TRANSITIONS} by breaker: ${by(TRANSITIONS, L.name)}`,
    `${REJECTIONS} by reason: ${by(REJECTIONS, L.rejection)}`,
    `${server} by status: ${by(server, L.status)}`,
    `${m('dbConnectionCount').name} by state: ${by(m('dbConnectionCount').name, L.connState)}`,
  ];
}
