import knexFactory, { type Knex } from 'knex';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type DatabaseTarget,
  describeDatabase,
  MARIADB,
  MYSQL_URL,
  PG_URL,
  POSTGRES,
} from './databases.js';
import {
  type Disconnect,
  FaultProxy,
  isCommitStatement,
  MysqlConversation,
  PostgresConversation,
  type WireConversation,
  type WireProtocol,
} from './FaultProxy.js';

const TEST_TIMEOUT_MS = 15_000;

function int32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
}

const pg = {
  startup: (): Buffer => {
    const body = Buffer.concat([int32(196_608), Buffer.from('user\0postgres\0\0')]);
    return Buffer.concat([int32(4 + body.length), body]);
  },
  sslRequest: (): Buffer => Buffer.concat([int32(8), int32(80_877_103)]),
  message: (type: string, payload: Buffer | string = ''): Buffer => {
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    return Buffer.concat([Buffer.from(type), int32(4 + body.length), body]);
  },
  query: (sql: string): Buffer => pg.message('Q', `${sql}\0`),
  parse: (sql: string): Buffer =>
    pg.message('P', Buffer.concat([Buffer.from(`\0${sql}\0`), Buffer.from([0, 0])])),
  ready: (): Buffer => pg.message('Z', 'T'),
  commandComplete: (tag: string): Buffer => pg.message('C', `${tag}\0`),
};

function mysqlPacket(sequenceId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}

/** A HandshakeResponse41 (sequence id 1) with `capabilities`, truncated after the user name. */
const mysqlHandshakeResponse = (capabilities: number): Buffer => {
  const fixed = Buffer.alloc(32);
  fixed.writeUInt32LE(capabilities, 0);
  fixed.writeUInt32LE(16_777_216, 4);
  fixed[8] = 224;
  return mysqlPacket(1, Buffer.concat([fixed, Buffer.from('root\0')]));
};

const mysqlQuery = (sql: string): Buffer =>
  mysqlPacket(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)]));

/** Feeds `stream` one byte at a time; returns what came out after each byte. */
function clientByteByByte(conversation: WireConversation, stream: Buffer) {
  return [...stream].map((byte) => conversation.fromClient(Buffer.from([byte])));
}

describe('isCommitStatement', () => {
  it('matches a bare COMMIT in any case, with optional ; and spaces', () => {
    for (const sql of ['COMMIT', 'commit;', '  Commit ; ', '\nCOMMIT;\n']) {
      expect(isCommitStatement(sql), sql).toBe(true);
    }
    for (const sql of ['COMMIT AND CHAIN', 'commit; select 1', 'ROLLBACK;', 'select 1', '']) {
      expect(isCommitStatement(sql), sql).toBe(false);
    }
  });
});

describe('PostgresConversation', () => {
  it('frames client messages split byte by byte and flags the COMMIT', () => {
    const messages = [
      pg.sslRequest(),
      pg.startup(),
      pg.query('insert into t values (1)'),
      pg.query('COMMIT;'),
    ];
    const steps = clientByteByByte(new PostgresConversation(), Buffer.concat(messages));

    // A message comes out exactly when its last byte arrives, whole and unchanged.
    const ends = new Set(
      messages.map((_, i) => Buffer.concat(messages.slice(0, i + 1)).length - 1),
    );
    steps.forEach((out, i) => {
      expect(out.length, `after byte ${i}`).toBe(ends.has(i) ? 1 : 0);
    });
    const out = steps.flat();
    expect(out.map((message) => message.bytes)).toEqual(messages);
    expect(out.map((message) => message.commit)).toEqual([false, false, false, true]);
  });

  it("withholds the COMMIT's whole reply, split byte by byte, and reports it on its ReadyForQuery", () => {
    const conversation = new PostgresConversation();
    const client = conversation.fromClient(
      Buffer.concat([pg.sslRequest(), pg.startup(), pg.query('select 1')]),
    );
    expect(client.some((message) => message.commit)).toBe(false);
    const commit = conversation.fromClient(pg.query('commit'));
    expect(commit.map((message) => message.commit)).toEqual([true]);
    conversation.awaitCommitReply();

    // 'N' refuses TLS and is unframed; then startup, the select's reply, then the COMMIT's reply.
    const before = Buffer.concat([
      Buffer.from('N'),
      pg.message('R', int32(0)),
      pg.ready(),
      pg.message('D', Buffer.from([0, 1, 0, 0, 0, 1, 0x31])),
      pg.commandComplete('SELECT 1'),
      pg.ready(),
    ]);
    const reply = Buffer.concat([pg.commandComplete('COMMIT'), pg.ready()]);
    const stream = Buffer.concat([before, reply]);
    const forwarded: Buffer[] = [];
    stream.forEach((byte, i) => {
      const step = conversation.fromServer(Buffer.from([byte]));
      forwarded.push(step.forward);
      expect(step.commitReplied, `after byte ${i}`).toBe(i === stream.length - 1);
    });
    expect(Buffer.concat(forwarded)).toEqual(before);
  });

  it("finds the COMMIT's reply behind pipelined requests", () => {
    const conversation = new PostgresConversation();
    conversation.fromClient(pg.startup());
    expect(conversation.fromServer(pg.ready())).toEqual({
      forward: pg.ready(),
      commitReplied: false,
    });
    const out = conversation.fromClient(Buffer.concat([pg.query('select 1'), pg.query('COMMIT')]));
    expect(out.map((message) => message.commit)).toEqual([false, true]);
    conversation.awaitCommitReply();

    const selectReply = Buffer.concat([pg.commandComplete('SELECT 1'), pg.ready()]);
    const commitReply = Buffer.concat([pg.commandComplete('COMMIT'), pg.ready()]);
    expect(conversation.fromServer(Buffer.concat([selectReply, commitReply]))).toEqual({
      forward: selectReply,
      commitReplied: true,
    });
  });

  it('recognises a COMMIT sent through the extended protocol, answered at the next Sync', () => {
    const conversation = new PostgresConversation();
    conversation.fromClient(pg.startup());
    conversation.fromServer(pg.ready());
    const out = conversation.fromClient(
      Buffer.concat([
        pg.parse('COMMIT'),
        pg.message('B', Buffer.alloc(8)),
        pg.message('E', Buffer.alloc(5)),
        pg.message('S'),
      ]),
    );
    expect(out.map((message) => message.commit)).toEqual([true, false, false, false]);
    conversation.awaitCommitReply();
    const partial = Buffer.concat([pg.message('1'), pg.message('2'), pg.commandComplete('COMMIT')]);
    expect(conversation.fromServer(partial).commitReplied).toBe(false);
    expect(conversation.fromServer(pg.ready())).toEqual({
      forward: Buffer.alloc(0),
      commitReplied: true,
    });
  });

  it('forwards a connection that starts with a direct TLS ClientHello without parsing it', () => {
    const conversation = new PostgresConversation();
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]);
    expect(conversation.fromClient(hello)).toEqual([{ bytes: hello, commit: false }]);
    const commit = pg.query('COMMIT');
    expect(conversation.fromClient(commit)).toEqual([{ bytes: commit, commit: false }]);
  });

  it('forwards everything unchanged when no COMMIT reply is awaited', () => {
    const conversation = new PostgresConversation();
    conversation.fromClient(Buffer.concat([pg.startup(), pg.query('COMMIT')]));
    const stream = Buffer.concat([pg.ready(), pg.commandComplete('COMMIT'), pg.ready()]);
    expect(conversation.fromServer(stream)).toEqual({ forward: stream, commitReplied: false });
  });
});

describe('MysqlConversation', () => {
  it('frames client packets split byte by byte and flags only a COM_QUERY COMMIT', () => {
    const packets = [
      mysqlHandshakeResponse(0x000a_a20f),
      // Auth switch response: sequence id 3, whose first byte happens to be COM_QUERY's.
      mysqlPacket(3, Buffer.concat([Buffer.from([0x03]), Buffer.from('COMMIT')])),
      mysqlQuery('select 1'),
      mysqlQuery('COMMIT;'),
      // With CLIENT_QUERY_ATTRIBUTES: parameter_count 0, parameter_set_count 1.
      mysqlPacket(0, Buffer.concat([Buffer.from([0x03, 0, 1]), Buffer.from('commit')])),
      // COM_INIT_DB 'COMMIT'.
      mysqlPacket(0, Buffer.concat([Buffer.from([0x02]), Buffer.from('COMMIT')])),
    ];
    const steps = clientByteByByte(new MysqlConversation(), Buffer.concat(packets));
    expect(steps.filter((out) => out.length > 0)).toHaveLength(packets.length);
    const out = steps.flat();
    expect(out.map((message) => message.bytes)).toEqual(packets);
    expect(out.map((message) => message.commit)).toEqual([false, false, false, true, true, false]);
  });

  for (const [flag, capability] of [
    ['CLIENT_SSL', 0x800],
    ['CLIENT_COMPRESS', 0x20],
  ] as const) {
    it(`forwards a connection that negotiates ${flag} without parsing it`, () => {
      const conversation = new MysqlConversation();
      const handshake = mysqlHandshakeResponse(0x000a_a20f | capability);
      const rest = Buffer.concat([mysqlQuery('COMMIT'), Buffer.from([0x16, 0x03, 0x01])]);
      const out = conversation.fromClient(Buffer.concat([handshake, rest]));
      expect(out).toEqual([
        { bytes: handshake, commit: false },
        { bytes: rest, commit: false },
      ]);
    });
  }

  it("passes server bytes through, then withholds the COMMIT's reply until it is whole", () => {
    const conversation = new MysqlConversation();
    const greeting = mysqlPacket(0, Buffer.from([0x0a, 0x31, 0]));
    expect(conversation.fromServer(greeting)).toEqual({ forward: greeting, commitReplied: false });
    conversation.fromClient(mysqlQuery('COMMIT'));
    conversation.awaitCommitReply();
    const ok = mysqlPacket(1, Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]));
    ok.forEach((byte, i) => {
      const step = conversation.fromServer(Buffer.from([byte]));
      expect(step.forward).toHaveLength(0);
      expect(step.commitReplied, `after byte ${i}`).toBe(i === ok.length - 1);
    });
  });
});

interface Server {
  readonly target: DatabaseTarget;
  readonly protocol: WireProtocol;
  readonly url: string;
  /** A statement that runs for 2 s, tagged with `tag`. */
  readonly sleep: (tag: string) => string;
  /** How many sessions are running `sql` now. */
  readonly running: (db: Knex, sql: string) => Promise<number>;
  /** The error code and message end the driver reports when the proxy tears a connection down. */
  readonly lost: Record<
    Disconnect,
    { readonly code: string | undefined; readonly message: RegExp }
  >;
}

const RESET = { code: 'ECONNRESET', message: / - read ECONNRESET$/ };

const SERVERS: readonly Server[] = [
  {
    target: POSTGRES,
    protocol: 'postgresql',
    url: PG_URL,
    sleep: (tag) => `select pg_sleep(2) as ${tag}`,
    running: async (db, sql) => {
      const result = await db.raw(
        `select count(*)::int as n from pg_stat_activity where query = ? and state = 'active'`,
        [sql],
      );
      return (result.rows as { n: number }[])[0]?.n ?? 0;
    },
    lost: {
      close: { code: undefined, message: / - Connection terminated unexpectedly$/ },
      reset: RESET,
    },
  },
  {
    target: MARIADB,
    protocol: 'mysql',
    url: MYSQL_URL,
    sleep: (tag) => `select sleep(2) as ${tag}`,
    running: async (db, sql) => {
      const [rows] = await db.raw(
        'select count(*) as n from information_schema.processlist where info = ?',
        [sql],
      );
      return Number((rows as { n: number | string }[])[0]?.n ?? 0);
    },
    lost: {
      close: {
        code: 'PROTOCOL_CONNECTION_LOST',
        message: / - Connection lost: The server closed the connection\.$/,
      },
      reset: RESET,
    },
  },
];

function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The rejection of `promise`, or a failure if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error(`expected a rejection, got ${String(error)}`);
  return error;
}

/** Asserts `error` is the driver's report of a connection the proxy tore down. */
function expectLost(server: Server, disconnect: Disconnect, error: Error): void {
  const { code, message } = server.lost[disconnect];
  expect(shape(error)).toMatchObject({ code, message: expect.stringMatching(message) });
}

/** The parts of a driver error a classifier looks at. */
function shape(error: Error) {
  const { code, errno, fatal } = error as { code?: unknown; errno?: unknown; fatal?: unknown };
  return { name: error.name, message: error.message, code, errno, fatal };
}

/** Prints the driver errors the faults produce, for error classifiers: FAULT_PROXY_PRINT_ERRORS=1. */
function report(label: string, error: Error): void {
  if (process.env.FAULT_PROXY_PRINT_ERRORS === '1') console.log(label, shape(error));
}

for (const server of SERVERS) {
  await describeDatabase(server.target, 'FaultProxy', () => {
    let direct: Knex;
    let table: string;
    const cleanups: (() => Promise<void>)[] = [];

    /** A proxy to the server and a Knex pool of at most 2 connections through it. */
    async function proxied(disconnect?: Disconnect): Promise<{ proxy: FaultProxy; db: Knex }> {
      const proxy = await FaultProxy.start({
        target: targetOf(server.url),
        protocol: server.protocol,
        ...(disconnect === undefined ? {} : { disconnect }),
      });
      const db = knexFactory({
        ...server.target.config({ min: 0, max: 2, acquireTimeoutMillis: 3_000 }),
        connection: proxy.url(server.url),
        // Knex warns about each connection a fault killed: expected here.
        log: { warn: () => {} },
      });
      cleanups.push(async () => {
        await db.destroy();
        await proxy.close();
      });
      return { proxy, db };
    }

    const rowCount = async () => {
      const [row] = await direct(table).count({ n: '*' });
      return Number(row?.n);
    };

    const insertInTransaction = (db: Knex, id: number) =>
      db.transaction(async (trx) => {
        await trx(table).insert({ id, note: `row ${id}` });
      });

    beforeAll(() => {
      direct = knexFactory(server.target.config({ min: 0, max: 2, acquireTimeoutMillis: 3_000 }));
    });

    afterAll(async () => {
      await direct.destroy();
    });

    beforeEach(async () => {
      table = `fault_proxy_${Math.random().toString(36).slice(2, 10)}`;
      await direct.schema.createTable(table, (t) => {
        t.integer('id').primary();
        t.text('note', 'mediumtext');
      });
    });

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
      await direct.schema.dropTableIfExists(table);
    });

    it(
      'passes selects, inserts and committed transactions through unchanged',
      async () => {
        const { proxy, db } = await proxied();
        const selected = await db.raw(`select 'héllo' as greeting, 41 + 1 as answer`);
        const row = server.protocol === 'postgresql' ? selected.rows[0] : selected[0][0];
        expect(row).toEqual({ greeting: 'héllo', answer: 42 });

        await db(table).insert({ id: 1, note: 'x'.repeat(200_000) });
        await insertInTransaction(db, 2);
        expect(await rowCount()).toBe(2);
        const rows = await db(table).select('id', 'note').orderBy('id');
        expect(rows).toEqual([
          { id: 1, note: 'x'.repeat(200_000) },
          { id: 2, note: 'row 2' },
        ]);
        expect(proxy.openConnections).toBeGreaterThan(0);
        expect(proxy.injected).toEqual({
          commitAcksDropped: 0,
          commitsDropped: 0,
          connectionsDropped: 0,
          connectionsRefused: 0,
        });

        await db.destroy();
        await waitFor(() => proxy.openConnections === 0);
      },
      TEST_TIMEOUT_MS,
    );

    for (const disconnect of ['close', 'reset'] as const) {
      it(
        `drop-ack (${disconnect}): the transaction rejects, yet the row is committed`,
        async () => {
          const { proxy, db } = await proxied(disconnect);
          proxy.failNextCommits('drop-ack');
          const error = await rejectionOf(insertInTransaction(db, 1));
          report(`${server.target.label} drop-ack (${disconnect}):`, error);
          expectLost(server, disconnect, error);
          expect(error.message).toMatch(/^COMMIT; - /);

          expect(await rowCount()).toBe(1);
          expect(proxy.injected.commitAcksDropped).toBe(1);
          expect(proxy.pendingCommitFaults).toBe(0);
          // The fault is spent: the next transaction goes through.
          await insertInTransaction(db, 2);
          expect(await rowCount()).toBe(2);
        },
        TEST_TIMEOUT_MS,
      );
    }

    it(
      'drop-before: the transaction rejects and the row is rolled back',
      async () => {
        const { proxy, db } = await proxied();
        proxy.failNextCommits('drop-before');
        const error = await rejectionOf(insertInTransaction(db, 1));
        report(`${server.target.label} drop-before:`, error);
        expectLost(server, 'close', error);

        expect(await rowCount()).toBe(0);
        expect(proxy.injected.commitsDropped).toBe(1);
        // Had the server kept the transaction open, its row lock would block this insert.
        await insertInTransaction(db, 1);
        expect(await direct(table).pluck('id')).toEqual([1]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'counts each kind of fault and applies queued COMMIT faults in order',
      async () => {
        const { proxy, db } = await proxied();
        proxy.failNextCommits('drop-before', 2);
        proxy.failNextCommits('drop-ack');
        expect(proxy.pendingCommitFaults).toBe(3);
        // A ROLLBACK is no COMMIT: it leaves the armed faults alone.
        const rollback = new Error('roll back');
        const rolledBack = db.transaction(async (trx) => {
          await trx(table).insert({ id: 9 });
          throw rollback;
        });
        expect(await rejectionOf(rolledBack)).toBe(rollback);
        expect(proxy.pendingCommitFaults).toBe(3);

        await rejectionOf(insertInTransaction(db, 1));
        await rejectionOf(insertInTransaction(db, 2));
        await rejectionOf(insertInTransaction(db, 3));
        await insertInTransaction(db, 4);
        expect(await direct(table).pluck('id').orderBy('id')).toEqual([3, 4]);

        await db.raw('select 1');
        const dropped = proxy.dropAll();
        expect(dropped).toBeGreaterThan(0);
        expect(proxy.injected).toEqual({
          commitAcksDropped: 1,
          commitsDropped: 2,
          connectionsDropped: dropped,
          connectionsRefused: 0,
        });
        expect(proxy.pendingCommitFaults).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'dropAll() fails an in-flight query fast, and new connections work',
      async () => {
        const { proxy, db } = await proxied();
        const sleep = server.sleep(table);
        const sleeping = rejectionOf(db.raw(sleep));
        await waitFor(async () => (await server.running(direct, sleep)) > 0);

        const started = Date.now();
        expect(proxy.dropAll()).toBe(1);
        const error = await sleeping;
        expect(Date.now() - started).toBeLessThan(1_000);
        report(`${server.target.label} dropAll:`, error);
        expectLost(server, 'close', error);
        expect(proxy.injected.connectionsDropped).toBe(1);
        await waitFor(() => proxy.openConnections === 0);

        const result = await db.raw('select 1 as one');
        expect(server.protocol === 'postgresql' ? result.rows : result[0]).toEqual([{ one: 1 }]);
        expect(proxy.openConnections).toBe(1);
      },
      TEST_TIMEOUT_MS,
    );

    for (const mode of ['hang-up', 'stop-listening'] as const) {
      it(
        `refuse('${mode}') fails new connections until resume()`,
        async () => {
          const { proxy, db } = await proxied();
          proxy.refuse(mode);
          const error = await rejectionOf(db.raw('select 1'));
          report(`${server.target.label} refuse(${mode}):`, error);
          if (mode === 'stop-listening') expect(shape(error).code).toBe('ECONNREFUSED');
          if (mode === 'hang-up') expect(proxy.injected.connectionsRefused).toBeGreaterThan(0);
          else expect(proxy.injected.connectionsRefused).toBe(0);

          await proxy.resume();
          await db.raw('select 1');
          expect(proxy.openConnections).toBe(1);
        },
        TEST_TIMEOUT_MS,
      );
    }
  });
}
