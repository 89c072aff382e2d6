/**
 * Recovery of the Knex plugin under real faults on PostgreSQL: a steady closed-loop load of reads
 * and transactional writes while every backend of the load is terminated once per second
 * (`pg_terminate_backend`), through plain Knex, plain Knex with a naive retry wrapper, and the
 * plugin; then a full server stop/start under load. Writes carry a client-generated operation id
 * with no unique constraint, so that duplicated and lost writes can be counted afterwards.
 */
import knexFactory, { type Knex } from 'knex';
import {
  DEFAULT_HALF_OPEN_AFTER_MS,
  type ResilientKnex,
  withResilience,
} from 'otel-resilience-knex';
import {
  adminKnex,
  type CounterValues,
  ErrorTally,
  ensurePostgresRunning,
  formatCounts,
  localCluster,
  pgConfig,
  pgCtl,
  serverAnswers,
  signatureOf,
  sleep,
  type TelemetryTap,
  telemetryTap,
} from './common.js';

type Variant = 'plain' | 'naive' | 'plugin' | 'pluginNoBreaker';

const VARIANT_LABEL: Record<Variant, string> = {
  plain: 'plain Knex',
  naive: 'plain Knex + naive retry (any error, up to 3 retries)',
  plugin: 'withResilience (defaults)',
  pluginNoBreaker: 'withResilience, circuitBreaker: false',
};

const READERS = 4;
const WRITERS = 4;
/** Think time between two operations of one loop: uniform in [min, max) ms. */
const THINK_MS = [2, 8] as const;
const POOL = { min: 0, max: 4 } as const;
const KV = 'bench_knex_kv';
const KV_ROWS = 1_000;
/** How long the loops may take to finish after being told to stop. */
const DRAIN_BOUND_MS = 30_000;

const think = () => sleep(THINK_MS[0] + Math.random() * (THINK_MS[1] - THINK_MS[0]));

/** Retries any failed operation, immediately, up to 3 times: what a hurried fix looks like. */
async function naiveRetry<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (attempt > 3) throw error;
    }
  }
}

interface LoadStats {
  readsOk: number;
  writesOk: number;
  readErrors: ErrorTally;
  writeErrors: ErrorTally;
  okWrites: Set<string>;
  failedWrites: Set<string>;
  /** performance.now() of successes and failures, by kind. */
  readOkAt: number[];
  writeOkAt: number[];
  failedAt: number[];
  /** Loops still running when the drain bound expired. */
  stuckLoops: number;
  elapsedMs: number;
}

interface RunningLoad {
  /** Live: filled while the load runs. */
  readonly stats: LoadStats;
  stop(): Promise<LoadStats>;
}

/** Starts READERS read loops and WRITERS transactional write loops on `db`. */
function startLoad(db: Knex, table: string, variant: Variant, tag: string): RunningLoad {
  const wrap: <T>(op: () => Promise<T>) => Promise<T> =
    variant === 'naive' ? naiveRetry : (op) => op();
  const stats: LoadStats = {
    readsOk: 0,
    writesOk: 0,
    readErrors: new ErrorTally(),
    writeErrors: new ErrorTally(),
    okWrites: new Set(),
    failedWrites: new Set(),
    readOkAt: [],
    writeOkAt: [],
    failedAt: [],
    stuckLoops: 0,
    elapsedMs: 0,
  };
  let stopped = false;
  const key = () => 1 + Math.floor(Math.random() * KV_ROWS);
  const readLoop = async () => {
    while (!stopped) {
      const id = key();
      try {
        const row = await wrap(() => db(KV).where({ id }).first());
        if (row === undefined) throw new Error(`row ${id} missing`);
        stats.readsOk++;
        stats.readOkAt.push(performance.now());
      } catch (error) {
        stats.readErrors.add(error);
        stats.failedAt.push(performance.now());
      }
      await think();
    }
  };
  const writeLoop = async (loop: number) => {
    for (let seq = 0; !stopped; seq++) {
      const opId = `${tag}-${loop}-${seq}`;
      const id = key();
      try {
        await wrap(() =>
          db.transaction(async (trx) => {
            const row = await trx(KV).where({ id }).first();
            await trx(table).insert({ op_id: opId, loop, seen: row?.value ?? null });
          }),
        );
        stats.writesOk++;
        stats.okWrites.add(opId);
        stats.writeOkAt.push(performance.now());
      } catch (error) {
        stats.writeErrors.add(error);
        stats.failedWrites.add(opId);
        stats.failedAt.push(performance.now());
      }
      await think();
    }
  };
  const startedAt = performance.now();
  let running = READERS + WRITERS;
  const loops = [
    ...Array.from({ length: READERS }, () => readLoop()),
    ...Array.from({ length: WRITERS }, (_, i) => writeLoop(i)),
  ].map((p) => p.finally(() => running--));
  return {
    stats,
    async stop() {
      stopped = true;
      stats.elapsedMs = performance.now() - startedAt;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(loops),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, DRAIN_BOUND_MS);
        }),
      ]);
      clearTimeout(timer);
      stats.stuckLoops = running;
      return stats;
    },
  };
}

/** Terminates every backend of `applicationName` every `everyMs`, `count` times. */
async function runKiller(
  admin: Knex,
  applicationName: string,
  everyMs: number,
  count: number,
): Promise<{ kills: number; backends: number }> {
  const startedAt = performance.now();
  let backends = 0;
  let kills = 0;
  for (let k = 1; k <= count; k++) {
    await sleep(Math.max(0, startedAt + k * everyMs - performance.now()));
    const result = (await admin.raw(
      'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = ?',
      [applicationName],
    )) as { rows: Array<{ n: number }> };
    backends += result.rows[0]?.n ?? 0;
    kills++;
  }
  return { kills, backends };
}

async function createOpsTable(admin: Knex, table: string): Promise<void> {
  await admin.schema.dropTableIfExists(table);
  // No unique constraint on op_id: a write applied twice shows as two rows.
  await admin.schema.createTable(table, (t) => {
    t.bigIncrements('id');
    t.text('op_id').notNullable();
    t.integer('loop').notNullable();
    t.integer('seen');
  });
}

interface WriteAudit {
  /** Operation ids with more than one row. */
  duplicatedOps: number;
  /** Rows beyond the first of each operation id. */
  extraRows: number;
  /** Reported successful, absent from the table. */
  lost: number;
  /** Reported failed, yet committed (the caller was told it failed). */
  failedButCommitted: number;
}

async function auditWrites(admin: Knex, table: string, stats: LoadStats): Promise<WriteAudit> {
  const rows = (await admin(table).select('op_id').count('* as n').groupBy('op_id')) as Array<{
    op_id: string;
    n: string | number;
  }>;
  const counts = new Map(rows.map((r) => [r.op_id, Number(r.n)]));
  let duplicatedOps = 0;
  let extraRows = 0;
  for (const n of counts.values()) {
    if (n > 1) {
      duplicatedOps++;
      extraRows += n - 1;
    }
  }
  let lost = 0;
  for (const op of stats.okWrites) if (!counts.has(op)) lost++;
  let failedButCommitted = 0;
  for (const op of stats.failedWrites) if (counts.has(op)) failedButCommitted++;
  return { duplicatedOps, extraRows, lost, failedButCommitted };
}

/** When the plugin's breaker opened, why, and how long it stayed other than closed. */
interface BreakerLog {
  readonly opens: Array<{ readonly atMs: number; readonly cause: string }>;
  notClosedMs: number;
}

interface Measured {
  readonly db: Knex;
  /** Stops the telemetry capture and breaker tracking, destroys the instance. Idempotent. */
  close(): Promise<{ telemetry?: CounterValues; breaker?: BreakerLog }>;
}

/**
 * The measured instance of a variant. The plugin's is created with a MeterProvider registered
 * (to read its counters) and its breaker's transitions followed.
 */
async function openVariant(
  variant: Variant,
  applicationName: string,
  tap: TelemetryTap,
): Promise<Measured> {
  const isPlugin = variant === 'plugin' || variant === 'pluginNoBreaker';
  const base = knexFactory(pgConfig(applicationName, POOL));
  const db: Knex = isPlugin
    ? withResilience(base, variant === 'pluginNoBreaker' ? { circuitBreaker: false } : {})
    : base;
  const breaker = isPlugin ? (db as ResilientKnex).resilience.breaker : undefined;
  // After the instance exists, so that its instruments are registered.
  const baseline = isPlugin ? await tap.read() : undefined;
  const startedAt = performance.now();
  const log: BreakerLog = { opens: [], notClosedMs: 0 };
  let openedAt: number | undefined;
  const subscriptions =
    breaker === undefined
      ? []
      : [
          breaker.onOpen(({ error }) => {
            log.opens.push({ atMs: performance.now() - startedAt, cause: signatureOf(error) });
            openedAt ??= performance.now();
          }),
          breaker.onClose(() => {
            if (openedAt !== undefined) log.notClosedMs += performance.now() - openedAt;
            openedAt = undefined;
          }),
        ];
  let closed: Promise<{ telemetry?: CounterValues; breaker?: BreakerLog }> | undefined;
  return {
    db,
    close() {
      closed ??= (async () => {
        if (openedAt !== undefined) log.notClosedMs += performance.now() - openedAt;
        openedAt = undefined;
        for (const s of subscriptions) s.dispose();
        const telemetry =
          baseline === undefined ? undefined : await tap.since(baseline).catch(() => undefined);
        await db.destroy().catch(() => undefined);
        return {
          ...(telemetry === undefined ? {} : { telemetry }),
          ...(breaker === undefined ? {} : { breaker: log }),
        };
      })();
      return closed;
    },
  };
}

interface KillerResult {
  readonly variant: Variant;
  readonly stats: LoadStats;
  readonly audit: WriteAudit;
  readonly kills: number;
  readonly backends: number;
  readonly telemetry: CounterValues | undefined;
  readonly breaker: BreakerLog | undefined;
}

async function underKiller(
  admin: Knex,
  tap: TelemetryTap,
  variant: Variant,
  seconds: number,
  progress: (what: string) => void,
): Promise<KillerResult> {
  const applicationName = `bench_knex_load_${variant}`;
  const table = `bench_knex_ops_${variant}`;
  await createOpsTable(admin, table);
  const measured = await openVariant(variant, applicationName, tap);
  try {
    const load = startLoad(measured.db, table, variant, `${variant}-kill`);
    const killer = await runKiller(admin, applicationName, 1_000, seconds);
    await sleep(500);
    const stats = await load.stop();
    const { telemetry, breaker } = await measured.close();
    const audit = await auditWrites(admin, table, stats);
    progress(
      `knex recovery: ${variant} under the killer: ${stats.readErrors.total} failed reads, ${stats.writeErrors.total} failed transactions, ${audit.extraRows} duplicated rows${breaker === undefined ? '' : `, breaker opened ${breaker.opens.length}×`}`,
    );
    return {
      variant,
      stats,
      audit,
      kills: killer.kills,
      backends: killer.backends,
      telemetry,
      breaker,
    };
  } finally {
    await measured.close();
    await admin.schema.dropTableIfExists(table).catch(() => undefined);
  }
}

interface RestartResult {
  readonly variant: Variant;
  readonly stats: LoadStats;
  readonly audit: WriteAudit;
  /** From `pg_ctlcluster stop` being issued to the first successful probe after start. */
  readonly outageMs: number;
  /** From the server answering a fresh connection to the first successful read / write. */
  readonly readRecoveryMs: number | undefined;
  readonly writeRecoveryMs: number | undefined;
  /** Failed operations after the server answered again. */
  readonly failedAfterUp: number;
  readonly telemetry: CounterValues | undefined;
  readonly breaker: BreakerLog | undefined;
}

const firstAfter = (times: number[], t: number) => times.find((x) => x >= t);

/** Stops the server under load, waits `downMs`, starts it, and times the load's recovery. */
async function underRestart(
  admin: Knex,
  tap: TelemetryTap,
  variant: Variant,
  downMs: number,
  progress: (what: string) => void,
): Promise<RestartResult> {
  const applicationName = `bench_knex_restart_${variant}`;
  const table = `bench_knex_restart_ops_${variant}`;
  await createOpsTable(admin, table);
  const measured = await openVariant(variant, applicationName, tap);
  let load: RunningLoad | undefined;
  try {
    load = startLoad(measured.db, table, variant, `${variant}-restart`);
    await sleep(2_000);
    const stopIssuedAt = performance.now();
    if ((await pgCtl('stop')) !== 0) throw new Error('pg_ctlcluster stop failed');
    const stoppedAt = performance.now();
    await sleep(downMs);
    if ((await pgCtl('start')) !== 0) throw new Error('pg_ctlcluster start failed');
    // pg_ctlcluster start waits for the server; poll all the same, with fresh connections.
    let upAt: number | undefined;
    for (const deadline = performance.now() + 60_000; performance.now() < deadline; ) {
      const probeAt = performance.now();
      if (await serverAnswers()) {
        upAt = probeAt;
        break;
      }
      await sleep(25);
    }
    if (upAt === undefined) throw new Error('PostgreSQL did not answer within 60 s of its start');
    // Run until both kinds have succeeded again, then 2 s more (bounded at 20 s).
    const live = load.stats;
    const recoveredBy = performance.now() + 20_000;
    while (
      performance.now() < recoveredBy &&
      (firstAfter(live.readOkAt, upAt) === undefined ||
        firstAfter(live.writeOkAt, upAt) === undefined)
    ) {
      await sleep(50);
    }
    await sleep(2_000);
    const stats = await load.stop();
    load = undefined;
    const { telemetry, breaker } = await measured.close();
    const audit = await auditWrites(admin, table, stats);
    // Successes after the server had stopped (not those in flight while it was stopping).
    const readAt = firstAfter(stats.readOkAt, stoppedAt);
    const writeAt = firstAfter(stats.writeOkAt, stoppedAt);
    const result: RestartResult = {
      variant,
      stats,
      audit,
      outageMs: upAt - stopIssuedAt,
      readRecoveryMs: readAt === undefined ? undefined : Math.max(0, readAt - upAt),
      writeRecoveryMs: writeAt === undefined ? undefined : Math.max(0, writeAt - upAt),
      failedAfterUp: stats.failedAt.filter((t) => t >= upAt).length,
      telemetry,
      breaker,
    };
    progress(
      `knex recovery: ${variant} restart: reads back after ${result.readRecoveryMs?.toFixed(0)} ms, writes after ${result.writeRecoveryMs?.toFixed(0)} ms`,
    );
    return result;
  } finally {
    await ensurePostgresRunning();
    await load?.stop().catch(() => undefined);
    await measured.close();
    await admin.schema.dropTableIfExists(table).catch(() => undefined);
  }
}

const TELEMETRY_LABELS = [
  'resilience.name',
  'resilience.retry.decision',
  'resilience.retry.reason',
  'resilience.circuit_breaker.state',
  'resilience.db.commit_outcome',
];

/** The failed reads and transactions of every run, by error signature. */
function failureLists(runs: readonly { variant: Variant; stats: LoadStats }[]): string {
  return runs
    .map((r) =>
      [
        errorList(`${VARIANT_LABEL[r.variant]}, failed reads`, r.stats.readErrors),
        errorList(`${VARIANT_LABEL[r.variant]}, failed transactions`, r.stats.writeErrors),
      ].join('\n'),
    )
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function errorList(title: string, tally: ErrorTally): string {
  const top = tally.top();
  if (top.length === 0) return '';
  return `${title}:\n\n${top.map(([sig, n]) => `- ${n} × \`${sig.replace(/`/g, "'")}\``).join('\n')}\n`;
}

function telemetryLines(
  telemetry: CounterValues | undefined,
  breaker: BreakerLog | undefined,
): string[] {
  if (telemetry === undefined) return [];
  const verificationsMetric = telemetry.get('resilience.db.commit_verifications');
  const opens =
    breaker === undefined
      ? '- breaker: disabled'
      : breaker.opens.length === 0
        ? '- breaker: never opened'
        : `- breaker opened ${breaker.opens.length}× (not closed for ${(breaker.notClosedMs / 1000).toFixed(1)} s in all), by: ${breaker.opens
            .map((o) => `\`${o.cause.replace(/`/g, "'")}\` at ${(o.atMs / 1000).toFixed(1)} s`)
            .join('; ')}`;
  return [
    opens,
    `- retry decisions (\`resilience.retry.decisions\`): ${formatCounts(telemetry.get('resilience.retry.decisions'))}`,
    ...(breaker === undefined
      ? []
      : [
          `- breaker transitions (\`resilience.circuit_breaker.transitions\`): ${formatCounts(telemetry.get('resilience.circuit_breaker.transitions'))}`,
          `- breaker rejections (\`resilience.circuit_breaker.rejections\`): ${formatCounts(telemetry.get('resilience.circuit_breaker.rejections'))}`,
        ]),
    `- commit verifications (\`resilience.db.commit_verifications\`): ${formatCounts(verificationsMetric)}`,
  ];
}

/**
 * Runs the killer scenario for the four variants and the restart scenario (plain Knex and the
 * plugin with its defaults), and returns the markdown (a `###` subsection of the Knex section). Always leaves
 * PostgreSQL running. `restart: false` skips the server restart.
 */
export async function knexRecoverySection({
  seconds,
  downMs = 2_000,
  restart = true,
  progress = () => {},
}: {
  seconds: number;
  downMs?: number;
  restart?: boolean;
  progress?: (what: string) => void;
}): Promise<string> {
  await ensurePostgresRunning();
  const admin = adminKnex();
  const tap = telemetryTap(TELEMETRY_LABELS);
  const killer: KillerResult[] = [];
  const restarts: RestartResult[] = [];
  const cluster = localCluster();
  const restartSkipped = !restart
    ? 'skipped (BENCH_KNEX_RESTART=0)'
    : typeof cluster === 'string'
      ? `skipped: ${cluster}`
      : undefined;
  try {
    await admin.schema.dropTableIfExists(KV);
    await admin.schema.createTable(KV, (t) => {
      t.integer('id').primary();
      t.integer('value').notNullable();
    });
    await admin(KV).insert(Array.from({ length: KV_ROWS }, (_, i) => ({ id: i + 1, value: i })));
    for (const variant of ['plain', 'naive', 'plugin', 'pluginNoBreaker'] as const) {
      killer.push(await underKiller(admin, tap, variant, seconds, progress));
    }
    if (restartSkipped === undefined) {
      for (const variant of ['plain', 'plugin'] as const) {
        restarts.push(await underRestart(admin, tap, variant, downMs, progress));
      }
    }
  } finally {
    await ensurePostgresRunning();
    await admin.schema.dropTableIfExists(KV).catch(() => undefined);
    await admin.destroy().catch(() => undefined);
    await tap.shutdown().catch(() => undefined);
  }
  return formatRecovery(seconds, downMs, killer, restarts, restartSkipped);
}

function formatRecovery(
  seconds: number,
  downMs: number,
  killer: KillerResult[],
  restarts: RestartResult[],
  restartSkipped: string | undefined,
): string {
  const plugin = killer.find((r) => r.variant === 'plugin')!;
  const clean = (r: KillerResult) =>
    r.stats.readErrors.total === 0 &&
    r.stats.writeErrors.total === 0 &&
    r.audit.extraRows === 0 &&
    r.audit.lost === 0;
  const pluginClean = clean(plugin);
  const noBreaker = killer.find((r) => r.variant === 'pluginNoBreaker');
  const opens = plugin.breaker?.opens.length ?? 0;
  const whyNotClean = pluginClean
    ? ''
    : [
        `\n\nWhy not met: ${plugin.stats.readErrors.total} reads and ${plugin.stats.writeErrors.total} transactions failed, ${plugin.audit.extraRows} duplicated rows.`,
        opens > 0
          ? ` The database breaker opened ${opens}× (errors below): a killed connection counts as the database being unavailable, and when every pooled connection is terminated at once the concurrent operations on them fail together — five consecutive failures — so the breaker refuses every call for its 5 s open period although the server is up and a new connection would succeed.`
          : '',
        noBreaker === undefined
          ? ''
          : ` With \`circuitBreaker: false\`, the same load had ${noBreaker.stats.readErrors.total} failed reads, ${noBreaker.stats.writeErrors.total} failed transactions and ${noBreaker.audit.extraRows} duplicated rows: the retries alone ${clean(noBreaker) ? 'meet the targets' : 'do not meet them either'}.`,
      ].join('');
  const outcomes = new Map<string, number>();
  for (const r of killer) {
    for (const [key, n] of r.telemetry?.get('resilience.db.commit_verifications') ?? []) {
      const outcome = /commit_outcome=(\w+)/.exec(key)?.[1] ?? 'unknown';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + n);
    }
  }
  const verifiedTotal = [...outcomes.values()].reduce((a, b) => a + b, 0);
  const duplicatesNote = `On duplicates: a transaction is applied twice only when a kill lands after its COMMIT is durable and before the acknowledgement is read — a narrow window — and the caller then runs it again. ${
    verifiedTotal === 0
      ? 'No COMMIT was in flight at a kill in the plugin runs here.'
      : `The plugin runs here saw ${verifiedTotal} COMMIT(s) in flight at a kill and asked the server (\`txid_status\`): ${[...outcomes.entries()].map(([k, n]) => `${n} ${k}`).join(', ')}.`
  } An aborted COMMIT is safe to re-run, which is why the naive retry may show no duplicates in a short run; the plugin re-runs a transaction after a lost COMMIT only when the server says it aborted, and returns success when it says committed.`;
  const killerRows = killer.map((r) => {
    const ops =
      r.stats.readsOk + r.stats.writesOk + r.stats.readErrors.total + r.stats.writeErrors.total;
    return `| ${VARIANT_LABEL[r.variant]} | ${ops.toLocaleString('en')} (${((ops / r.stats.elapsedMs) * 1000).toFixed(0)}/s) | ${r.stats.readErrors.total} | ${r.stats.writeErrors.total} | ${r.audit.duplicatedOps} (${r.audit.extraRows} extra rows) | ${r.audit.lost} | ${r.audit.failedButCommitted} | ${r.backends} in ${r.kills} kills |`;
  });
  const killerErrors = failureLists(killer);
  const stuck = [...killer, ...restarts].filter((r) => r.stats.stuckLoops > 0);

  const killerPart = `#### Every backend terminated once per second

${READERS} read loops (\`select … where id = ?\` on a ${KV_ROWS.toLocaleString('en')}-row table) and ${WRITERS}
write loops (\`transaction(trx => { select by key; insert a row with a client-generated operation id })\`),
closed loops with ${THINK_MS[0]}–${THINK_MS[1]} ms think time, pool max ${POOL.max}, for ${seconds} s per variant; once per
second an administrative connection runs \`pg_terminate_backend\` on every backend of the load's
\`application_name\` (pooled idle connections included). The operation id has no unique constraint,
so a transaction applied twice shows as two rows. "failed but committed": the caller got an error
for a transaction that is in the table.

Targets for the plugin (defaults) — 0 failed reads, 0 failed transactions, 0 duplicated writes: **${pluginClean ? 'met' : 'not met'}**.${whyNotClean}

| variant | operations (rate) | failed reads | failed transactions | duplicated writes | lost writes | failed but committed | backends terminated |
|---|---:|---:|---:|---:|---:|---:|---:|
${killerRows.join('\n')}

${duplicatesNote}

What the plugin did (its breaker's events, and its own OpenTelemetry counters read from an
in-memory reader):

${killer
  .filter((r) => r.telemetry !== undefined)
  .map(
    (r) => `${VARIANT_LABEL[r.variant]}:\n\n${telemetryLines(r.telemetry, r.breaker).join('\n')}\n`,
  )
  .join(
    '\n',
  )}${killerErrors === '' ? '' : `\nErrors that reached the caller, by signature (name [code]: message ← cause):\n\n${killerErrors}\n`}`;

  let restartPart: string;
  if (restartSkipped !== undefined) {
    restartPart = `#### Full server restart under load

${restartSkipped}.
`;
  } else {
    const rows = restarts.map((r) => {
      const failed = r.stats.readErrors.total + r.stats.writeErrors.total;
      const ms = (x: number | undefined) =>
        x === undefined ? 'not within 20 s' : `${x.toFixed(0)} ms`;
      return `| ${VARIANT_LABEL[r.variant]} | ${(r.outageMs / 1000).toFixed(1)} s | ${ms(r.readRecoveryMs)} | ${ms(r.writeRecoveryMs)} | ${failed} (${r.stats.readErrors.total} reads, ${r.stats.writeErrors.total} transactions) | ${r.failedAfterUp} | ${r.audit.extraRows} | ${r.audit.lost} |`;
    });
    const pluginRestart = restarts.find((r) => r.variant === 'plugin');
    const errors = failureLists(restarts);
    restartPart = `#### Full server restart under load

The same load (no killer); after 2 s, \`pg_ctlcluster stop\` (fast shutdown: every connection
closed), ${(downMs / 1000).toFixed(0)} s down, \`pg_ctlcluster start\`. "server back": the first moment a fresh
connection from a separate probe (every 25 ms) runs \`select 1\`; recovery is measured from there
to the load's first successful read and write. Failed operations while the server is down are
expected — there is no database to answer them. The plugin's breaker (5 consecutive failures to
connect, half-open after ${DEFAULT_HALF_OPEN_AFTER_MS / 1000} s) makes them fail at once instead of each trying to
connect (on localhost a refused connection fails within a millisecond anyway, so it saves little
here; against a remote server that drops packets it saves a connect timeout per call), and its
half-open trial, at most ${DEFAULT_HALF_OPEN_AFTER_MS / 1000} s after it opened, bounds its recovery time. The loops are closed
loops: a faster failure means more attempts, so compare the times, not the failure counts.

| variant | outage (stop → server back) | reads back after | writes back after | failed operations | of which after the server was back | duplicated writes | lost writes |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

${pluginRestart === undefined ? '' : `The plugin during the restart:\n\n${telemetryLines(pluginRestart.telemetry, pluginRestart.breaker).join('\n')}\n`}
${errors === '' ? '' : `Errors during the restart, by signature:\n\n${errors}\n`}`;
  }
  const verificationRefused = [...killer, ...restarts]
    .filter((r) => r.variant === 'plugin' || r.variant === 'pluginNoBreaker')
    .flatMap((r) => r.stats.writeErrors.top(100))
    .filter(([sig]) => /UnknownCommitOutcomeError.*BrokenCircuitError/.test(sig))
    .reduce((n, [, count]) => n + count, 0);
  const verificationNote =
    verificationRefused === 0
      ? ''
      : `\nNote: ${verificationRefused} transaction(s) failed with \`UnknownCommitOutcomeError\` caused by \`BrokenCircuitError\`: the COMMIT's connection was lost and the plugin's verification query (\`txid_status\`) runs through the plugin's own breaker, which was open, so the database was never asked.\n`;
  const stuckNote =
    stuck.length === 0
      ? ''
      : `\n**Warning:** loops still running ${DRAIN_BOUND_MS / 1000} s after the stop: ${stuck.map((r) => `${r.variant}: ${r.stats.stuckLoops}`).join(', ')}.\n`;
  return `### Recovery under real faults (PostgreSQL)

${killerPart}
${restartPart}${verificationNote}${stuckNote}`;
}
