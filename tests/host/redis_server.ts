// Debian's redis-server for tests: started on a free port without persistence, stopped, paused
// (SIGSTOP: connections stay open, nothing answers) and started again on the same port.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Why redis-server cannot run here, or null when it can. */
export function redisServerMissing(): string | null {
  const r = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${REDIS_BIN} not found: install Debian's redis-server (apt-get install redis-server) or set REDIS_SERVER_BIN`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export class RedisServer {
  private proc: ChildProcess | null = null;
  constructor(public port: number, private password: string | null) {}

  static async start(password: string | null = null): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), password);
    await server.resume();
    return server;
  }

  /** Starts (again) on the same port; resolves once it accepts connections. */
  async resume(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'];
    if (this.password) args.push('--requirepass', this.password);
    this.proc = spawn(REDIS_BIN, args, { stdio: 'ignore' });
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      if (await this.accepts()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(this.port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
  }

  /** Kills it (every connection closes); `resume()` starts an empty one on the same port. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  pause(): void { this.proc?.kill('SIGSTOP'); }
  unpause(): void { this.proc?.kill('SIGCONT'); }
}
