// Higress's Redis host functions for the emulator, against a real Redis: proxy_redis_init prepares a
// cluster's client (no connection), proxy_redis_call sends raw RESP on the VM's one pipelined
// connection to that cluster, and the reply comes to the root context of the VM through
// proxy_on_redis_call_response with status 0 (any reply, Redis errors included) or 1 (connection
// failed or closed, or a command timed out: a timeout fails every command in flight on its
// connection and closes it). The reply is buffer 9, readable only during that callback. An unknown
// cluster is BadArgument; a cluster without a host is InternalFailure. Timeouts run on the virtual
// clock: tests let replies arrive (`await host.redis.settled()`) before moving it.
import net from 'node:net';

export const REDIS_STATUS = { OK: 0, BAD_ARGUMENT: 2, INTERNAL_FAILURE: 10 };

/** A Redis service as a Higress cluster names it; `port` null: the cluster has no host. */
export interface RedisService { port: number | null; host?: string }

interface Client { username: string; password: string; timeoutMs: number }

export interface RedisCommand {
  token: number;
  vm: string;
  rootId: number;
  deadline: number;
  /** The reply once it arrived (status 0), or the failure (status 1). */
  done: { status: 0 | 1; reply: Buffer } | null;
}

/** The connection of one VM to one cluster: commands answered in the order they were sent. */
class Connection {
  socket: net.Socket;
  inFlight: RedisCommand[] = [];
  private pending = Buffer.alloc(0);
  /** Replies still owed to commands this connection sent itself (AUTH). */
  private internal = 0;
  closed = false;

  constructor(service: RedisService, client: Client) {
    this.socket = net.connect(service.port!, service.host ?? '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (d) => this.onData(d));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
    if (client.password) {
      this.internal++;
      const args = client.username ? ['AUTH', client.username, client.password] : ['AUTH', client.password];
      this.socket.write(args.reduce((s, a) => s + `$${Buffer.byteLength(a)}\r\n${a}\r\n`, `*${args.length}\r\n`));
    }
  }

  send(cmd: RedisCommand, query: Buffer): void {
    this.inFlight.push(cmd);
    this.socket.write(query);
  }

  /** Every command in flight fails and the connection closes. */
  fail(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.inFlight) if (!c.done) c.done = { status: 1, reply: Buffer.alloc(0) };
    this.inFlight = [];
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.pending = Buffer.concat([this.pending, d]);
    for (;;) {
      const end = replyEnd(this.pending, 0);
      if (end < 0) return;
      const reply = this.pending.subarray(0, end);
      this.pending = this.pending.subarray(end);
      if (this.internal > 0) { this.internal--; continue; }
      const cmd = this.inFlight.shift();
      if (cmd && !cmd.done) cmd.done = { status: 0, reply: Buffer.from(reply) };
    }
  }
}

// Where the complete RESP value starting at `at` ends, or -1 when it has not fully arrived.
function replyEnd(b: Buffer, at: number): number {
  const eol = b.indexOf('\r\n', at);
  if (eol < 0 || at >= b.length) return -1;
  const type = String.fromCharCode(b[at]);
  const n = Number(b.toString('latin1', at + 1, eol));
  if (type === '+' || type === '-' || type === ':') return eol + 2;
  if (type === '$') return n < 0 ? eol + 2 : (b.length >= eol + 2 + n + 2 ? eol + 2 + n + 2 : -1);
  if (type === '*') {
    let pos = eol + 2;
    for (let i = 0; i < n; i++) {
      pos = replyEnd(b, pos);
      if (pos < 0) return -1;
    }
    return pos;
  }
  throw new Error(`not RESP: ${b.toString('latin1', at, Math.min(b.length, at + 40))}`);
}

/** The clusters of one emulated gateway process, and every VM's clients and connections. */
export class RedisHost {
  services = new Map<string, RedisService>();
  private clients = new Map<string, Client>();
  private connections = new Map<string, Connection>();
  commands: RedisCommand[] = [];
  nextToken = 1;

  init(vm: string, service: string, client: Client): number {
    if (!this.services.has(service)) return REDIS_STATUS.BAD_ARGUMENT;
    this.clients.set(`${vm}|${service}`, client);
    return REDIS_STATUS.OK;
  }

  /** Sends a command; returns [status, token]. */
  call(vm: string, rootId: number, service: string, query: Buffer, now: number): [number, number] {
    const svc = this.services.get(service);
    const client = this.clients.get(`${vm}|${service}`);
    if (!svc || !client) return [REDIS_STATUS.BAD_ARGUMENT, 0];
    if (svc.port === null) return [REDIS_STATUS.INTERNAL_FAILURE, 0];
    const key = `${vm}|${service}`;
    let conn = this.connections.get(key);
    if (!conn || conn.closed) {
      conn = new Connection(svc, client);
      this.connections.set(key, conn);
    }
    const cmd: RedisCommand = { token: this.nextToken++, vm, rootId, deadline: now + client.timeoutMs, done: null };
    this.commands.push(cmd);
    conn.send(cmd, query);
    return [REDIS_STATUS.OK, cmd.token];
  }

  /** The earliest deadline of a command still waiting for Redis. */
  nextDeadline(): number | null {
    let at: number | null = null;
    for (const c of this.commands) if (!c.done && (at === null || c.deadline < at)) at = c.deadline;
    return at;
  }

  /** A command not answered by its deadline fails with every other in flight on its connection. */
  expire(now: number): void {
    for (const conn of this.connections.values()) {
      if (conn.inFlight.some((c) => !c.done && c.deadline <= now)) conn.fail();
    }
  }

  /** Commands that have their outcome, taken out (in the order they were sent). */
  takeDone(): RedisCommand[] {
    const done = this.commands.filter((c) => c.done);
    this.commands = this.commands.filter((c) => !c.done);
    return done;
  }

  /** Waits (real time, at most `maxMs`) until no command waits for Redis. */
  async arrived(maxMs = 250): Promise<void> {
    const end = Date.now() + maxMs;
    while (this.commands.some((c) => !c.done) && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
  }

  close(): void {
    for (const c of this.connections.values()) c.fail();
    this.connections.clear();
  }
}
