/* Test support (not part of the build): a loopback TCP proxy that injects real network faults
 * between a Knex pool and a real database server. */
import net from 'node:net';

/** The wire protocol spoken through a {@link FaultProxy}: decides how COMMITs are recognised. */
export type WireProtocol = 'postgresql' | 'mysql';

/** What a faulted COMMIT does: see {@link FaultProxy.failNextCommits}. */
export type CommitFault = 'drop-ack' | 'drop-before';

/**
 * How the proxy tears a connection down: `'close'` ends it with a FIN (the driver sees the server
 * hang up), `'reset'` with an RST (the driver sees `ECONNRESET`).
 */
export type Disconnect = 'close' | 'reset';

/**
 * How {@link FaultProxy.refuse} turns clients away: `'hang-up'` accepts each connection and tears
 * it down at once (see {@link Disconnect}); `'blackhole'` accepts it and never answers (a host that
 * went silent: the driver waits for its own timeout); `'stop-listening'` closes the listening socket, so
 * connecting fails with `ECONNREFUSED`.
 */
export type RefuseMode = 'hang-up' | 'stop-listening' | 'blackhole';

/** A whole client→server message, as it goes on the wire. */
export interface ClientMessage {
  /** The message, header included. */
  readonly bytes: Buffer;
  /** Whether the message is a COMMIT statement. */
  readonly commit: boolean;
}

/** What to do with bytes the server sent. */
export interface ServerStep {
  /** Bytes to forward to the client now (possibly empty). */
  readonly forward: Buffer;
  /**
   * Whether the whole reply to the COMMIT being awaited (see
   * {@link WireConversation.awaitCommitReply}) has arrived; nothing of it is in `forward`.
   */
  readonly commitReplied: boolean;
}

/**
 * One connection's protocol state: frames both byte streams, across any TCP chunk boundaries, well
 * enough to spot COMMITs and their replies. Pure (no I/O), so it can be tested byte by byte.
 */
export interface WireConversation {
  /** Splits client bytes into whole messages; a trailing partial message waits for more bytes. */
  fromClient(chunk: Buffer): ClientMessage[];
  /**
   * Holds back the reply to the COMMIT most recently returned by {@link fromClient}: call before
   * forwarding that COMMIT.
   */
  awaitCommitReply(): void;
  /** Takes server bytes. */
  fromServer(chunk: Buffer): ServerStep;
}

/** Whether `sql` is exactly a COMMIT statement (any case, optional `;`). */
export function isCommitStatement(sql: string): boolean {
  return /^commit\s*;?$/i.test(sql.trim());
}

// Longer text cannot be a bare COMMIT: skips decoding large statements.
const MAX_COMMIT_BYTES = 64;

function isCommitText(bytes: Buffer, start: number, end: number): boolean {
  return end - start <= MAX_COMMIT_BYTES && isCommitStatement(bytes.toString('utf8', start, end));
}

/**
 * Bytes received but not yet framed. Chunks are joined only when a message is taken (or its header
 * read), so a large message arriving in many chunks costs linear, not quadratic, copying.
 */
class ByteQueue {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `length` bytes (at most {@link length}), left in the queue. */
  peek(length: number): Buffer {
    const first = this.#chunks[0] ?? Buffer.alloc(0);
    if (first.length >= length) return first.subarray(0, length);
    let count = 0;
    let covered = 0;
    for (const chunk of this.#chunks) {
      if (covered >= length) break;
      covered += chunk.length;
      count++;
    }
    const joined = Buffer.concat(this.#chunks.slice(0, count));
    this.#chunks.splice(0, count, joined);
    return joined.subarray(0, length);
  }

  /** Removes and returns the first `length` bytes (at most {@link length}). */
  take(length: number): Buffer {
    const taken = this.peek(length);
    const head = this.#chunks[0];
    if (head !== undefined) {
      if (head.length === taken.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(taken.length);
    }
    this.#length -= taken.length;
    return taken;
  }

  takeAll(): Buffer {
    return this.take(this.#length);
  }
}

const PG_SSL_REQUEST = 80877103;
const PG_GSSENC_REQUEST = 80877104;
const PG_CANCEL_REQUEST = 80877102;
const PG_MAX_STARTUP_LENGTH = 10_000;
const PG_QUERY = 0x51; // 'Q'
const PG_PARSE = 0x50; // 'P'
const PG_SYNC = 0x53; // 'S'
const PG_FUNCTION_CALL = 0x46; // 'F'
const PG_READY_FOR_QUERY = 0x5a; // 'Z'
const PG_SSL_REFUSED = 0x4e; // 'N'

/**
 * PostgreSQL frontend/backend protocol v3. Every ReadyForQuery answers exactly one sync point
 * (the StartupMessage, a simple Query, a Sync, a FunctionCall), so counting both tells which
 * ReadyForQuery closes a COMMIT's reply even with pipelined requests.
 */
export class PostgresConversation implements WireConversation {
  readonly #client = new ByteQueue();
  readonly #server = new ByteQueue();
  #startup = true;
  // Once TLS or GSS encryption is negotiated (or framing is lost) the bytes are opaque.
  #opaque = false;
  // An SSLRequest or GSSENCRequest is answered by one unframed byte.
  #singleByteReplies = 0;
  #syncPointsSent = 0;
  #readyReceived = 0;
  #lastCommitReply: number | undefined;
  #awaitedReply: number | undefined;

  fromClient(chunk: Buffer): ClientMessage[] {
    this.#client.push(chunk);
    const messages: ClientMessage[] = [];
    for (;;) {
      if (this.#opaque) {
        if (this.#client.length > 0)
          messages.push({ bytes: this.#client.takeAll(), commit: false });
        return messages;
      }
      const headerLength = this.#startup ? 4 : 5;
      if (this.#client.length < headerLength) return messages;
      const length = this.#client.peek(headerLength).readInt32BE(headerLength - 4);
      // A startup packet is 8 to 10000 bytes (the server's limit): anything else, such as a
      // direct TLS ClientHello, is not ours to parse.
      if (length < 4 || (this.#startup && (length < 8 || length > PG_MAX_STARTUP_LENGTH))) {
        this.#opaque = true;
        continue;
      }
      const total = headerLength - 4 + length;
      if (this.#client.length < total) return messages;
      const bytes = this.#client.take(total);
      messages.push({
        bytes,
        commit: this.#startup ? this.#onStartup(bytes) : this.#onMessage(bytes),
      });
    }
  }

  #onStartup(bytes: Buffer): boolean {
    const code = bytes.length >= 8 ? bytes.readInt32BE(4) : 0;
    if (bytes.length === 8 && (code === PG_SSL_REQUEST || code === PG_GSSENC_REQUEST)) {
      this.#singleByteReplies++;
    } else if (code !== PG_CANCEL_REQUEST) {
      this.#startup = false;
      this.#syncPointsSent++;
    }
    return false;
  }

  #onMessage(bytes: Buffer): boolean {
    switch (bytes[0]) {
      case PG_QUERY: {
        this.#syncPointsSent++;
        const end = bytes.indexOf(0, 5);
        if (!isCommitText(bytes, 5, end < 0 ? bytes.length : end)) return false;
        this.#lastCommitReply = this.#syncPointsSent;
        return true;
      }
      case PG_PARSE: {
        const nameEnd = bytes.indexOf(0, 5);
        if (nameEnd < 0) return false;
        const queryEnd = bytes.indexOf(0, nameEnd + 1);
        if (!isCommitText(bytes, nameEnd + 1, queryEnd < 0 ? bytes.length : queryEnd)) return false;
        // Answered by the ReadyForQuery of the next Sync.
        this.#lastCommitReply = this.#syncPointsSent + 1;
        return true;
      }
      case PG_SYNC:
      case PG_FUNCTION_CALL:
        this.#syncPointsSent++;
        return false;
      default:
        return false;
    }
  }

  awaitCommitReply(): void {
    this.#awaitedReply = this.#lastCommitReply;
  }

  fromServer(chunk: Buffer): ServerStep {
    this.#server.push(chunk);
    const forward: Buffer[] = [];
    for (;;) {
      if (this.#opaque) {
        if (this.#server.length > 0) forward.push(this.#server.takeAll());
        break;
      }
      if (this.#singleByteReplies > 0) {
        if (this.#server.length < 1) break;
        this.#singleByteReplies--;
        const reply = this.#server.take(1);
        if (reply[0] !== PG_SSL_REFUSED) this.#opaque = true;
        forward.push(reply);
        continue;
      }
      if (this.#server.length < 5) break;
      const length = this.#server.peek(5).readInt32BE(1);
      if (length < 4) {
        this.#opaque = true;
        continue;
      }
      if (this.#server.length < 1 + length) break;
      const message = this.#server.take(1 + length);
      const readyBefore = this.#readyReceived;
      if (message[0] === PG_READY_FOR_QUERY) this.#readyReceived++;
      const awaited = this.#awaitedReply;
      if (awaited === undefined || readyBefore < awaited - 1) {
        forward.push(message);
      } else if (this.#readyReceived === awaited) {
        this.#awaitedReply = undefined;
        return { forward: Buffer.concat(forward), commitReplied: true };
      }
    }
    return { forward: Buffer.concat(forward), commitReplied: false };
  }
}

const MYSQL_COM_QUERY = 0x03;
const MYSQL_CLIENT_COMPRESS = 0x20;
const MYSQL_CLIENT_SSL = 0x800;

/**
 * MySQL/MariaDB client/server protocol. Every command starts a new sequence at 0 while handshake
 * and authentication packets from the client carry sequence ids of 1 and up, so a client packet
 * with sequence id 0 and command byte COM_QUERY is a query. A connection that negotiates TLS or
 * compression is forwarded without parsing.
 */
export class MysqlConversation implements WireConversation {
  readonly #client = new ByteQueue();
  readonly #server = new ByteQueue();
  #handshakeSeen = false;
  #opaque = false;
  #awaitingReply = false;

  fromClient(chunk: Buffer): ClientMessage[] {
    this.#client.push(chunk);
    const messages: ClientMessage[] = [];
    for (;;) {
      if (this.#opaque) {
        if (this.#client.length > 0)
          messages.push({ bytes: this.#client.takeAll(), commit: false });
        return messages;
      }
      if (this.#client.length < 4) return messages;
      const total = 4 + this.#client.peek(4).readUIntLE(0, 3);
      if (this.#client.length < total) return messages;
      const bytes = this.#client.take(total);
      if (!this.#handshakeSeen) this.#onHandshakeResponse(bytes);
      messages.push({ bytes, commit: MysqlConversation.#isCommit(bytes) });
    }
  }

  // The client's first packet (HandshakeResponse or SSLRequest) starts with its capability flags.
  #onHandshakeResponse(packet: Buffer): void {
    this.#handshakeSeen = true;
    if (packet.length < 8) return;
    const capabilities = packet.readUInt32LE(4);
    if ((capabilities & (MYSQL_CLIENT_SSL | MYSQL_CLIENT_COMPRESS)) !== 0) this.#opaque = true;
  }

  static #isCommit(packet: Buffer): boolean {
    if (packet[3] !== 0 || packet[4] !== MYSQL_COM_QUERY) return false;
    if (isCommitText(packet, 5, packet.length)) return true;
    // With CLIENT_QUERY_ATTRIBUTES (MySQL 8) the SQL follows parameter_count 0 and parameter_set_count 1.
    return packet[5] === 0 && packet[6] === 1 && isCommitText(packet, 7, packet.length);
  }

  awaitCommitReply(): void {
    this.#awaitingReply = true;
  }

  fromServer(chunk: Buffer): ServerStep {
    // The client waits for each reply before its next command, so nothing else is in flight once
    // a COMMIT has been forwarded: its reply starts at the next server byte.
    if (!this.#awaitingReply) return { forward: chunk, commitReplied: false };
    this.#server.push(chunk);
    const length = this.#server.length;
    if (length < 4 || length < 4 + this.#server.peek(4).readUIntLE(0, 3)) {
      return { forward: Buffer.alloc(0), commitReplied: false };
    }
    this.#awaitingReply = false;
    return { forward: Buffer.alloc(0), commitReplied: true };
  }
}

/** A new {@link WireConversation} for `protocol`. */
export function createConversation(protocol: WireProtocol): WireConversation {
  return protocol === 'postgresql' ? new PostgresConversation() : new MysqlConversation();
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** The database server. */
  readonly target: { readonly host: string; readonly port: number };
  readonly protocol: WireProtocol;
  /** How injected faults tear connections down; default `'close'`. */
  readonly disconnect?: Disconnect;
}

/** Faults injected so far, by kind. */
export interface InjectedFaults {
  /** COMMITs the server executed whose reply was dropped (`'drop-ack'`). */
  readonly commitAcksDropped: number;
  /** COMMITs dropped before reaching the server (`'drop-before'`). */
  readonly commitsDropped: number;
  /** Connection pairs torn down by {@link FaultProxy.dropAll}. */
  readonly connectionsDropped: number;
  /** Connections turned away by {@link FaultProxy.refuse} in `'hang-up'` mode. */
  readonly connectionsRefused: number;
}

interface ConnectionPair {
  readonly client: net.Socket;
  readonly server: net.Socket;
  readonly conversation: WireConversation;
  /** Set by {@link FaultProxy.silenceAll}: bytes are swallowed in both directions. */
  silenced?: boolean;
}

// A connection half-closed by one side is destroyed if the other does not close within this time.
const HALF_CLOSE_GRACE_MS = 2_000;

/**
 * A loopback TCP proxy in front of a database server that injects real network faults: dropped
 * connections, refused connections, and COMMITs whose request or reply is lost.
 *
 * ```ts
 * const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: 5432 }, protocol: 'postgresql' });
 * const db = knex({ client: 'pg', connection: proxy.url(PG_URL) });
 * proxy.failNextCommits('drop-ack'); // the next COMMIT happens, but the client never hears so
 * ```
 */
export class FaultProxy {
  /** The proxy's host: it listens on the loopback interface only. */
  readonly host = '127.0.0.1';
  readonly #listener: net.Server;
  readonly #options: FaultProxyOptions;
  readonly #pairs = new Set<ConnectionPair>();
  readonly #armedCommits: CommitFault[] = [];
  #port = 0;
  #refusing = false;
  #refuseMode: RefuseMode = 'hang-up';
  readonly #held = new Set<net.Socket>();
  #listening = false;
  #closed = false;
  #commitAcksDropped = 0;
  #commitsDropped = 0;
  #connectionsDropped = 0;
  #connectionsRefused = 0;

  private constructor(options: FaultProxyOptions) {
    this.#options = options;
    this.#listener = net.createServer((socket) => this.#accept(socket));
    // Accept errors (such as EMFILE) only cost the connection being accepted; listen errors are
    // reported by #listen.
    this.#listener.on('error', () => {});
  }

  /** Starts a proxy to `options.target` on `127.0.0.1` and a free port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.#listen();
    return proxy;
  }

  /** The proxy's port. */
  get port(): number {
    return this.#port;
  }

  /** `databaseUrl` with its host and port replaced by the proxy's. */
  url(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = this.host;
    url.port = String(this.port);
    return url.toString();
  }

  /** Destroys every open client↔server connection pair now (both sockets). Returns how many. */
  dropAll(): number {
    const open = this.#openPairs();
    for (const pair of open) this.#teardown(pair);
    this.#connectionsDropped += open.length;
    return open.length;
  }

  /**
   * Makes every open connection pair go silent: bytes in both directions are swallowed, nothing is
   * closed — what a connection looks like after a firewall forgot it. Returns how many.
   */
  silenceAll(): number {
    const open = this.#openPairs();
    for (const pair of open) pair.silenced = true;
    return open.length;
  }

  /**
   * Turns new connections away until {@link resume}; open connections are left alone. `'hang-up'`
   * (the default) accepts and tears each one down at once, `'stop-listening'` closes the listening
   * socket.
   */
  refuse(mode: RefuseMode = 'hang-up'): void {
    this.#refusing = true;
    this.#refuseMode = mode;
    if (mode === 'stop-listening' && this.#listening) {
      this.#listening = false;
      this.#listener.close();
    }
  }

  /** Accepts new connections again, on the same port. */
  async resume(): Promise<void> {
    this.#refusing = false;
    this.#releaseHeld();
    if (!this.#listening && !this.#closed) await this.#listen();
  }

  /**
   * Arms a fault for the next `count` COMMIT statements the clients send (counted across all
   * connections; successive calls queue up):
   * - `'drop-ack'`: the COMMIT reaches the server, then once the server's whole reply to it has
   *   arrived (the transaction is committed) both sockets are torn down without forwarding it;
   * - `'drop-before'`: both sockets are torn down without forwarding the COMMIT, so the server
   *   rolls the transaction back.
   */
  failNextCommits(mode: CommitFault, count = 1): void {
    for (let i = 0; i < count; i++) this.#armedCommits.push(mode);
  }

  /** COMMIT faults armed by {@link failNextCommits} that have not been triggered yet. */
  get pendingCommitFaults(): number {
    return this.#armedCommits.length;
  }

  /** Faults injected so far, by kind (a snapshot). */
  get injected(): InjectedFaults {
    return {
      commitAcksDropped: this.#commitAcksDropped,
      commitsDropped: this.#commitsDropped,
      connectionsDropped: this.#connectionsDropped,
      connectionsRefused: this.#connectionsRefused,
    };
  }

  /** Number of open connection pairs (neither socket destroyed). */
  get openConnections(): number {
    return this.#openPairs().length;
  }

  #openPairs(): ConnectionPair[] {
    return [...this.#pairs].filter((pair) => !pair.client.destroyed && !pair.server.destroyed);
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#refusing = true;
    for (const pair of [...this.#pairs]) this.#teardown(pair);
    this.#releaseHeld();
    if (!this.#listening) return;
    this.#listening = false;
    await new Promise<void>((resolve) => this.#listener.close(() => resolve()));
  }

  #listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#listener.once('error', onError);
      this.#listener.listen(this.#port, this.host, () => {
        this.#listener.off('error', onError);
        const address = this.#listener.address();
        if (address !== null && typeof address !== 'string') this.#port = address.port;
        this.#listening = true;
        resolve();
      });
    });
  }

  #accept(client: net.Socket): void {
    if (this.#refusing) {
      client.on('error', () => {});
      this.#connectionsRefused++;
      if (this.#refuseMode === 'blackhole') {
        this.#held.add(client);
        client.on('close', () => this.#held.delete(client));
      } else {
        this.#disconnect(client);
      }
      return;
    }
    const server = net.connect({
      host: this.#options.target.host,
      port: this.#options.target.port,
    });
    const pair: ConnectionPair = {
      client,
      server,
      conversation: createConversation(this.#options.protocol),
    };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    server.setNoDelay(true);
    server.on('error', () => client.destroy());
    client.on('error', () => server.destroy());
    const onClose = () => {
      if (client.closed && server.closed) this.#pairs.delete(pair);
    };
    client.on('close', onClose);
    server.on('close', onClose);
    halfClose(client, server);
    halfClose(server, client);
    client.on('data', (chunk: Buffer) => this.#fromClient(pair, chunk));
    server.on('data', (chunk: Buffer) => this.#fromServer(pair, chunk));
  }

  /** Tears down the connections a blackhole held. */
  #releaseHeld(): void {
    for (const socket of this.#held) socket.destroy();
    this.#held.clear();
  }

  #fromClient(pair: ConnectionPair, chunk: Buffer): void {
    if (pair.silenced) return;
    const forward: Buffer[] = [];
    for (const message of pair.conversation.fromClient(chunk)) {
      if (message.commit) {
        const fault = this.#armedCommits.shift();
        if (fault === 'drop-before') {
          this.#commitsDropped++;
          this.#teardown(pair);
          return;
        }
        if (fault === 'drop-ack') pair.conversation.awaitCommitReply();
      }
      forward.push(message.bytes);
    }
    if (forward.length > 0) pair.server.write(Buffer.concat(forward));
  }

  #fromServer(pair: ConnectionPair, chunk: Buffer): void {
    if (pair.silenced) return;
    const step = pair.conversation.fromServer(chunk);
    if (step.forward.length > 0) pair.client.write(step.forward);
    if (step.commitReplied) {
      this.#commitAcksDropped++;
      this.#teardown(pair);
    }
  }

  #teardown(pair: ConnectionPair): void {
    this.#disconnect(pair.client);
    this.#disconnect(pair.server);
  }

  #disconnect(socket: net.Socket): void {
    if (this.#options.disconnect === 'reset') {
      if (!socket.destroyed) socket.resetAndDestroy();
    } else {
      socket.destroy();
    }
  }
}

/** When `from` stops sending, stops `to` once its pending bytes are written. */
function halfClose(from: net.Socket, to: net.Socket): void {
  from.on('end', () => to.end());
  from.on('close', (hadError) => {
    if (hadError) {
      to.destroy();
      return;
    }
    if (to.destroyed) return;
    to.end();
    setTimeout(() => to.destroy(), HALF_CLOSE_GRACE_MS).unref();
  });
}
