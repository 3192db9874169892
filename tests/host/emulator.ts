// A Proxy-Wasm ABI 0.2.1 host in Node that follows Envoy's rules closely enough for fast,
// deterministic tests: several VMs share one SharedStore; time is virtual; HTTP-call answers
// arrive on the root context of the VM that made the call (a timed-out call as Envoy's own 504);
// local responses and continues made from a callback take effect when it returns; only proxy_log
// (and WASI) work during _initialize.
//
// What a stream may read follows Envoy 1.40 (checked with a probe filter, see docs/internals.md,
// "Tests"): the request header map and the request.* properties only inside the request-headers
// callback (the client's headers) and at access-log time (what the router sent, rewritten); never
// in body or response callbacks, nor from an HTTP-call callback. A StopIteration from response
// headers holds the body back from the filter until the stream continues, unless the filter
// config sets allow_on_headers_stop_iteration. An HTTP call belongs to the root context whatever
// context made it (proxy-wasm-cpp-host's http_call runs on `root_context()`), so it outlives the
// stream and its answer comes with the root id; only the root context's end cancels it. Shared
// data is scoped by vm_id; an unknown cluster is BadArgument; a header map that is not available
// is BadArgument (NotFound at log time), as in Envoy's context.cc. random_get is seeded
// (EMULATOR_SEED, printed when a test process fails), so a run can be replayed. Higress's Redis host
// functions run against a real Redis (redis_host.ts); `elapse` moves the clock letting it answer.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SharedStore } from './shared_store.js';
import { RedisHost } from './redis_host.js';
import { Headers, parseMap, serializeMap, type HeaderInit } from './header_map.js';
import { configuredTokens, type PluginConfig } from '../../envoy/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The module the emulator loads: build/plugin.wasm, or PLUGIN_WASM (the collect-always test build). */
export const DEFAULT_WASM = process.env.PLUGIN_WASM ? path.resolve(ROOT, process.env.PLUGIN_WASM) : path.join(ROOT, 'build/plugin.wasm');
const S = { OK: 0, NOT_FOUND: 1, BAD_ARGUMENT: 2, EMPTY: 7, CAS_MISMATCH: 8 };
const MAP = { REQ: 0, REQ_TRAILERS: 1, RESP: 2, RESP_TRAILERS: 3, CALL_RESP: 6, CALL_TRAILERS: 7 };
const BUF = { REQ_BODY: 0, RESP_BODY: 1, CALL_BODY: 4, VM_CONFIG: 6, PLUGIN_CONFIG: 7, REDIS_REPLY: 9 };

/** The module's exports the host calls (the Proxy-Wasm ABI 0.2.1 callbacks). */
type Callback = (...args: number[]) => number;
interface PluginExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  proxy_on_memory_allocate(size: number): number;
  [callback: string]: Callback | WebAssembly.Memory | (() => void);
}

export interface LogLine { vm: string; level: number; msg: string }
export interface Metric { type: number; value: number }

/** What the provider (or Envoy) answers to a call; `delayMs` delays it. */
export interface CallAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  delayMs?: number;
}
/** How a call is answered: an answer, `hang` (no answer until its deadline), or null (a failure without headers). */
export type CallReply = CallAnswer | { hang: true } | null;

/** An HTTP call the plugin made, waiting for its answer. */
export interface PendingCall {
  id: number;
  root: RootContext;
  /** The stream whose callback made the call (bookkeeping for tests: Envoy ties the call to the root). */
  madeDuring: Stream | null;
  cluster: string;
  headers: Headers;
  body: Buffer;
  timeoutMs: number;
  deadline: number;
  answerAt: number | null;
  answer: CallAnswer | null;
}

export interface RootContext {
  isRoot: true;
  id: number;
  config: Buffer;
  tickPeriod: number;
  nextTick: number;
  props: Record<string, string>;
  stopped?: boolean;
}

export interface LocalResponse { status: number; details: string; body: Buffer; headers: Headers }

/** A route as the emulated router applies it. */
export interface Route {
  cluster?: string;
  prefixRewrite?: [string, string];
  hostRewrite?: string;
  headersToAdd?: Record<string, string>;
}

export interface StreamOptions { allowOnHeadersStopIteration?: boolean; route?: Route; reachesRouter?: boolean }

type Phase = 'created' | 'requestHeaders' | 'requestBody' | 'responseHeaders' | 'responseBody' | 'waiting' | 'done' | 'log' | 'deleted';

/** The seed of every Host's random_get in this process: EMULATOR_SEED, or a fixed default. */
export const SEED = Number(process.env.EMULATOR_SEED ?? 0x5eed) >>> 0;
process.on('exit', (code) => { if (code !== 0) process.stderr.write(`emulator random_get seed: EMULATOR_SEED=${SEED}\n`); });

export class Host {
  module: WebAssembly.Module;
  /** Shared data of every vm_id (the tests' VMs share the empty one). */
  shared = new SharedStore();
  /** The clusters Envoy knows: a call to any other is BadArgument. */
  clusters = new Set(['llm']);
  /** Higress's Redis clusters and clients (the Higress build's host functions). */
  redis = new RedisHost();
  /** xorshift32 state of random_get. */
  private randomState = SEED || 1;
  nowMs = 1_700_000_000_000;
  metrics = new Map<string, Metric>();
  metricIds: string[] = [];
  logs: LogLine[] = [];
  logLevel: number;
  vms: Vm[] = [];
  hostCalls = new Map<string, number>();
  /** Time inside each host function (ns), when a benchmark sets it to a map. */
  hostNs: Map<string, bigint> | null = null;
  nextCallId = 1;
  nextContextId = 1;
  /** Every API token any configuration named: none may appear in a log, metric name or local response. */
  secrets = new Set<string>();

  /** `seed`: random_get's seed (default SEED); two emulated processes need two, as two Envoys differ. */
  /** The VMs' environment (WASI environ_get), as Envoy's vm_config.environment_variables gives it. */
  env: Record<string, string>;

  constructor({ wasmPath = DEFAULT_WASM, logLevel = 2, seed = SEED, env = {} }: { wasmPath?: string; logLevel?: number; seed?: number; env?: Record<string, string> } = {}) {
    this.env = env;
    this.module = new WebAssembly.Module(fs.readFileSync(wasmPath));
    this.logLevel = logLevel;
    this.randomState = (seed >>> 0) || 1;
  }

  /** Throws when a configured token appears in `text` (a secret leaked through `where`). */
  checkSecret(text: string, where: string): void {
    for (const s of this.secrets) if (text.includes(s)) throw new Error(`a configured token leaked into ${where}`);
  }

  createVm(name = `vm${this.vms.length}`, vmId = ''): Vm {
    const vm = new Vm(this, name, vmId);
    this.vms.push(vm);
    return vm;
  }

  /** Moves the virtual clock, firing ticks and HTTP-call timeouts in time order. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let next: { at: number; fire: () => void } | null = null;
      for (const vm of this.vms) {
        for (const root of vm.roots.values()) {
          if (root.tickPeriod > 0 && root.nextTick <= end && (!next || root.nextTick < next.at)) next = { at: root.nextTick, fire: () => vm.tick(root) };
        }
        for (const call of vm.pendingCalls.values()) {
          const at = call.answerAt ?? call.deadline;
          if (at <= end && (!next || at < next.at)) next = { at, fire: () => vm.settleCall(call) };
        }
      }
      const redisAt = this.redis.nextDeadline();
      if (redisAt !== null && redisAt <= end && (!next || redisAt < next.at)) {
        next = { at: redisAt, fire: () => { this.redis.expire(redisAt); this.deliverRedis(); } };
      }
      if (!next) break;
      this.nowMs = Math.max(this.nowMs, next.at);
      next.fire();
    }
    this.nowMs = end;
  }

  /** Lets Redis answer what was sent (real time, bounded), then delivers every outcome to its VM. */
  async settleRedis(): Promise<void> {
    await this.redis.arrived();
    this.deliverRedis();
  }

  /** Moves the virtual clock in steps of `stepMs`, letting Redis answer before each step. */
  async elapse(ms: number, stepMs = 50): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      await this.settleRedis();
      this.advance(Math.min(stepMs, ms - t));
    }
    await this.settleRedis();
  }

  /** Calls proxy_on_redis_call_response for every command that has its outcome, on its VM's root. */
  deliverRedis(): void {
    for (const cmd of this.redis.takeDone()) {
      const vm = this.vms.find((v) => v.name === cmd.vm);
      const root = vm?.roots.get(cmd.rootId);
      if (!vm || !root || root.stopped) continue;
      vm.redisReply = cmd.done!.reply;
      try {
        vm.run(root, () => vm.callback('proxy_on_redis_call_response', root.id, cmd.token, cmd.done!.status, cmd.done!.reply.length));
      } finally {
        vm.redisReply = null;
      }
    }
  }

  /** The next random byte (xorshift32). */
  randomByte(): number {
    let x = this.randomState;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.randomState = x;
    return x & 0xff;
  }

  metric(name: string): number { return this.metrics.get(name)?.value ?? 0; }
  countCall(name: string): void { this.hostCalls.set(name, (this.hostCalls.get(name) ?? 0) + 1); }
  resetCallCounts(): void { this.hostCalls.clear(); }
}

export class Vm {
  host: Host;
  name: string;
  roots = new Map<number, RootContext>();
  streams = new Map<number, Stream>();
  pendingCalls = new Map<number, PendingCall>();
  effective: RootContext | Stream | null = null;
  /** The call whose answer is being delivered (its headers and body are readable). */
  callAnswer: { headers: Headers; body: Buffer } | null = null;
  /** The Redis reply being delivered (buffer 9, readable only then). */
  redisReply: Buffer | null = null;
  busyNs = 0n;
  initializing = true;
  instance: WebAssembly.Instance;
  exports: PluginExports;
  /** The root context of the last configuration (streams are created under it by default). */
  root!: RootContext;

  /** Envoy's vm_id: VMs with the same one share data. */
  vmId: string;

  constructor(host: Host, name: string, vmId = '') {
    this.host = host;
    this.name = name;
    this.vmId = vmId;
    this.instance = new WebAssembly.Instance(host.module, this.imports());
    this.exports = this.instance.exports as unknown as PluginExports;
    this.exports._initialize();
    this.initializing = false;
  }

  /** Calls one of the module's ABI callbacks. */
  /** Calls an exported callback; as Envoy (proxy-wasm-cpp-host) does, one the module does not export is skipped (proxy_on_done then reads as done). */
  callback(name: string, ...args: number[]): number {
    const f = this.exports[name] as Callback | undefined;
    if (f === undefined) return name === 'proxy_on_done' ? 1 : 0;
    return f(...args);
  }

  // ---- memory helpers
  bytes(ptr: number, len: number): Buffer { return Buffer.from(new Uint8Array(this.exports.memory.buffer, ptr, len)); }
  text(ptr: number, len: number): string { return this.bytes(ptr, len).toString('utf8'); }
  u32(ptr: number, v: number): void { new DataView(this.exports.memory.buffer).setUint32(ptr, v >>> 0, true); }
  u64(ptr: number, v: bigint | number): void { new DataView(this.exports.memory.buffer).setBigUint64(ptr, BigInt(v), true); }
  give(buf: Uint8Array, ptrOut: number, sizeOut: number): void {
    const p = buf.length > 0 ? this.exports.proxy_on_memory_allocate(buf.length) : 0;
    if (buf.length > 0) new Uint8Array(this.exports.memory.buffer, p, buf.length).set(buf);
    this.u32(ptrOut, p);
    this.u32(sizeOut, buf.length);
  }

  imports(): WebAssembly.Imports {
    const self = this;
    const host = this.host;
    // Arguments arrive as numbers (i32, f64) or bigints (i64), as the ABI declares them.
    const guard = <A extends any[]>(name: string, fn: (...args: A) => number) => (...args: A): number => {
      host.countCall(name);
      if (self.initializing && name !== 'proxy_log') throw new Error(`${name} called during _initialize`);
      if (!host.hostNs) return fn(...args);
      const start = process.hrtime.bigint();
      try { return fn(...args); } finally { host.hostNs.set(name, (host.hostNs.get(name) ?? 0n) + process.hrtime.bigint() - start); }
    };
    const env = {
      proxy_log: guard('proxy_log', (level: number, p: number, n: number) => {
        const msg = self.text(p, n);
        host.checkSecret(msg, 'a log line');
        host.logs.push({ vm: self.name, level, msg });
        return S.OK;
      }),
      proxy_get_log_level: guard('proxy_get_log_level', (out: number) => { self.u32(out, host.logLevel); return S.OK; }),
      proxy_get_current_time_nanoseconds: guard('proxy_get_current_time_nanoseconds', (out: number) => { self.u64(out, BigInt(host.nowMs) * 1000000n); return S.OK; }),
      proxy_set_tick_period_milliseconds: guard('proxy_set_tick_period_milliseconds', (ms: number) => {
        const root = self.effective?.isRoot ? self.effective : null;
        if (!root) return S.BAD_ARGUMENT;
        root.tickPeriod = ms;
        root.nextTick = host.nowMs + ms;
        return S.OK;
      }),
      proxy_get_buffer_bytes: guard('proxy_get_buffer_bytes', (type: number, start: number, max: number, pOut: number, sOut: number) => {
        const buf = self.buffer(type);
        if (!buf) return S.NOT_FOUND;
        self.give(buf.subarray(start, start + max), pOut, sOut);
        return S.OK;
      }),
      // Envoy's Buffer::copyFrom: at 0, drain `length` bytes (Envoy asserts they exist) and prepend;
      // at or past the end, append; anywhere else refused.
      proxy_set_buffer_bytes: guard('proxy_set_buffer_bytes', (type: number, start: number, length: number, p: number, n: number) => {
        const ctx = self.effective;
        const buf = self.buffer(type);
        if (!buf || !ctx || ctx.isRoot || (type !== BUF.REQ_BODY && type !== BUF.RESP_BODY)) return S.NOT_FOUND;
        const data = self.bytes(p, n);
        let next: Buffer;
        if (start === 0) {
          if (length > buf.length) return S.BAD_ARGUMENT;
          next = Buffer.concat([data, buf.subarray(length)]);
        } else if (start >= buf.length) {
          next = Buffer.concat([buf, data]);
        } else {
          return S.BAD_ARGUMENT;
        }
        if (type === BUF.RESP_BODY) {
          host.checkSecret(next.toString(), 'a response body');
          ctx.responseBodyBuffer = next;
        } else {
          ctx.requestBodyBuffer = next;
        }
        return S.OK;
      }),
      proxy_get_buffer_status: guard('proxy_get_buffer_status', () => S.OK),
      // An unavailable map reads as empty pairs (Envoy's headerMapToPairs of null).
      proxy_get_header_map_pairs: guard('proxy_get_header_map_pairs', (type: number, pOut: number, sOut: number) => {
        const m = self.map(type);
        if (!m) { self.give(serializeMap([]), pOut, sOut); return S.OK; }
        self.give(serializeMap(m.pairs), pOut, sOut);
        return S.OK;
      }),
      proxy_get_header_map_value: guard('proxy_get_header_map_value', (type: number, kp: number, kn: number, pOut: number, sOut: number) => {
        const m = self.map(type);
        if (!m) return self.effective && !self.effective.isRoot && self.effective.phase === 'log' ? S.NOT_FOUND : S.BAD_ARGUMENT;
        const v = m.get(self.text(kp, kn));
        if (v === null) return S.NOT_FOUND;
        self.give(Buffer.from(v), pOut, sOut);
        return S.OK;
      }),
      proxy_replace_header_map_value: guard('proxy_replace_header_map_value', (type: number, kp: number, kn: number, vp: number, vn: number) => {
        const m = self.map(type);
        if (!m) return S.BAD_ARGUMENT;
        m.replace(self.text(kp, kn), self.text(vp, vn));
        return S.OK;
      }),
      proxy_add_header_map_value: guard('proxy_add_header_map_value', (type: number, kp: number, kn: number, vp: number, vn: number) => {
        const m = self.map(type);
        if (!m) return S.BAD_ARGUMENT;
        m.add(self.text(kp, kn), self.text(vp, vn));
        return S.OK;
      }),
      proxy_remove_header_map_value: guard('proxy_remove_header_map_value', (type: number, kp: number, kn: number) => {
        const m = self.map(type);
        if (!m) return S.BAD_ARGUMENT;
        m.remove(self.text(kp, kn));
        return S.OK;
      }),
      proxy_set_header_map_pairs: guard('proxy_set_header_map_pairs', (type: number, p: number, n: number) => {
        const m = self.map(type);
        if (!m) return S.BAD_ARGUMENT;
        const pairs = parseMap(self.bytes(p, n));
        if (type === MAP.RESP) host.checkSecret(JSON.stringify(pairs), 'response headers');
        m.pairs = new Headers(pairs).pairs;
        return S.OK;
      }),
      proxy_get_property: guard('proxy_get_property', (pp: number, pn: number, pOut: number, sOut: number) => {
        const key = self.text(pp, pn).split('\0').join('.');
        const ctx = self.effective;
        const value = ctx === null ? null : ctx.isRoot ? ctx.props[key] : ctx.property(key);
        if (value === undefined || value === null) return S.NOT_FOUND;
        self.give(Buffer.isBuffer(value) ? value : Buffer.from(String(value)), pOut, sOut);
        return S.OK;
      }),
      // Envoy keeps a set property in the stream's filter state as `wasm.<path>` (a root context has none).
      proxy_set_property: guard('proxy_set_property', (pp: number, pn: number, vp: number, vn: number) => {
        const ctx = self.effective;
        if (ctx === null || ctx.isRoot) return S.NOT_FOUND;
        ctx.filterState.set(`wasm.${self.text(pp, pn)}`, self.text(vp, vn));
        return S.OK;
      }),
      proxy_get_shared_data: guard('proxy_get_shared_data', (kp: number, kn: number, pOut: number, sOut: number, casOut: number) => {
        const e = host.shared.get(self.text(kp, kn), self.vmId);
        if (!e) return S.NOT_FOUND;
        self.give(e.value, pOut, sOut);
        self.u32(casOut, e.cas);
        return S.OK;
      }),
      proxy_set_shared_data: guard('proxy_set_shared_data', (kp: number, kn: number, vp: number, vn: number, cas: number) =>
        host.shared.set(self.text(kp, kn), self.bytes(vp, vn), cas >>> 0, self.vmId)),
      proxy_http_call: guard('proxy_http_call', (up: number, un: number, hp: number, hn: number, bp: number, bn: number, tp: number, tn: number, timeout: number, idOut: number) => {
        const ctx = self.effective;
        if (!ctx) return S.BAD_ARGUMENT;
        const root = ctx.isRoot ? ctx : ctx.root;
        const madeDuring = ctx.isRoot ? null : ctx;
        const cluster = self.text(up, un);
        if (!host.clusters.has(cluster)) return S.BAD_ARGUMENT;
        const headers = new Headers(parseMap(self.bytes(hp, hn)));
        if (!headers.get(':path') || !headers.get(':method') || !headers.get(':authority')) return S.BAD_ARGUMENT;
        const id = host.nextCallId++;
        const call: PendingCall = { id, root, madeDuring, cluster, headers, body: self.bytes(bp, bn), timeoutMs: timeout, deadline: host.nowMs + timeout, answerAt: null, answer: null };
        self.pendingCalls.set(id, call);
        self.u32(idOut, id);
        return S.OK;
      }),
      proxy_redis_init: guard('proxy_redis_init', (sp: number, sn: number, up: number, un: number, pp: number, pn: number, timeout: number) =>
        host.redis.init(self.name, self.text(sp, sn), { username: self.text(up, un), password: self.text(pp, pn), timeoutMs: timeout >>> 0 })),
      proxy_redis_call: guard('proxy_redis_call', (sp: number, sn: number, qp: number, qn: number, tokenOut: number) => {
        const ctx = self.effective;
        if (!ctx) return S.BAD_ARGUMENT;
        // As HTTP calls: the command belongs to the root context, whatever context sent it.
        const root = ctx.isRoot ? ctx : ctx.root;
        const [status, token] = host.redis.call(self.name, root.id, self.text(sp, sn), self.bytes(qp, qn), host.nowMs);
        if (status === S.OK) self.u32(tokenOut, token);
        return status;
      }),
      proxy_send_local_response: guard('proxy_send_local_response', (status: number, dp: number, dn: number, bp: number, bn: number, hp: number, hn: number) => {
        const stream = self.effective?.isRoot ? null : self.effective;
        if (!stream) return S.BAD_ARGUMENT;
        const local = { status, details: self.text(dp, dn), body: self.bytes(bp, bn), headers: new Headers(parseMap(self.bytes(hp, hn))) };
        stream.pendingLocal = local;
        host.checkSecret(local.body.toString() + JSON.stringify(local.headers.pairs), 'a local response');
        return S.OK;
      }),
      proxy_set_effective_context: guard('proxy_set_effective_context', (id: number) => {
        const ctx = self.streams.get(id) ?? self.roots.get(id);
        if (!ctx) return S.BAD_ARGUMENT;
        self.effective = ctx;
        return S.OK;
      }),
      proxy_continue_stream: guard('proxy_continue_stream', (type: number) => {
        const stream = self.effective?.isRoot ? null : self.effective;
        if (!stream) return S.BAD_ARGUMENT;
        stream.pendingContinue.push(type);
        return S.OK;
      }),
      proxy_define_metric: guard('proxy_define_metric', (type: number, np: number, nn: number, idOut: number) => {
        const name = self.text(np, nn);
        host.checkSecret(name, 'a metric name');
        if (!host.metrics.has(name)) {
          host.metrics.set(name, { type, value: 0 });
          host.metricIds.push(name);
        }
        self.u32(idOut, host.metricIds.indexOf(name) + 1);
        return S.OK;
      }),
      proxy_increment_metric: guard('proxy_increment_metric', (id: number, delta: bigint) => {
        const m = host.metrics.get(host.metricIds[id - 1]);
        if (!m) return S.NOT_FOUND;
        if (m.type === 0 && delta < 0n) return S.BAD_ARGUMENT;
        m.value += Number(delta);
        return S.OK;
      }),
      proxy_record_metric: guard('proxy_record_metric', (id: number, value: bigint) => {
        const m = host.metrics.get(host.metricIds[id - 1]);
        if (!m) return S.NOT_FOUND;
        m.value = Number(value);
        return S.OK;
      }),
      // One stat per name for the whole process, as in Envoy: a VM reads what every VM added.
      proxy_get_metric: guard('proxy_get_metric', (id: number, out: number) => {
        const m = host.metrics.get(host.metricIds[id - 1]);
        if (!m) return S.NOT_FOUND;
        new DataView(self.exports.memory.buffer).setBigUint64(out, BigInt(m.value), true);
        return S.OK;
      }),
      proxy_done: guard('proxy_done', () => S.OK),
    };
    const wasi = {
      random_get: (p: number, n: number) => { host.countCall('random_get'); for (let i = 0; i < n; i++) new Uint8Array(self.exports.memory.buffer)[p + i] = host.randomByte(); return 0; },
      fd_write: () => 8,
      proc_exit: () => { throw new Error('proc_exit'); },
      clock_time_get: (id: number, prec: bigint, out: number) => { self.u64(out, BigInt(host.nowMs) * 1000000n); return 0; },
      environ_sizes_get: (countOut: number, sizeOut: number) => {
        const entries = Object.entries(host.env).map(([k, v]) => Buffer.from(`${k}=${v}\0`));
        self.u32(countOut, entries.length);
        self.u32(sizeOut, entries.reduce((n, e) => n + e.length, 0));
        return 0;
      },
      environ_get: (pointers: number, bytes: number) => {
        const memory = new Uint8Array(self.exports.memory.buffer);
        let at = bytes;
        Object.entries(host.env).forEach(([k, v], i) => {
          const entry = Buffer.from(`${k}=${v}\0`);
          self.u32(pointers + 4 * i, at);
          memory.set(entry, at);
          at += entry.length;
        });
        return 0;
      },
      args_sizes_get: (a: number, b: number) => { self.u32(a, 0); self.u32(b, 0); return 0; },
      args_get: () => 0,
    };
    return { env, wasi_snapshot_preview1: wasi };
  }

  buffer(type: number): Buffer | null {
    const ctx = this.effective;
    if (type === BUF.PLUGIN_CONFIG) return ctx?.isRoot ? ctx.config : null;
    if (type === BUF.VM_CONFIG) return Buffer.alloc(0);
    if (type === BUF.CALL_BODY) return this.callAnswer?.body ?? null;
    if (type === BUF.REDIS_REPLY) return this.redisReply;
    if (!ctx || ctx.isRoot) return null;
    if (type === BUF.REQ_BODY) return ctx.phase === 'requestBody' ? ctx.requestBodyBuffer : null;
    // As in Envoy: the current data in its callback; the buffered body, from any callback, while
    // the filter's last answer to body data was StopIterationAndBuffer.
    if (type === BUF.RESP_BODY) return ctx.phase === 'responseBody' || ctx.lastResponseBodyAction === 1 ? ctx.responseBodyBuffer : null;
    return null;
  }

  map(type: number): Headers | null {
    if (type === MAP.CALL_RESP) return this.callAnswer?.headers ?? null;
    if (type === MAP.CALL_TRAILERS) return this.callAnswer ? new Headers() : null;
    const ctx = this.effective;
    if (!ctx || ctx.isRoot) return null;
    if (type === MAP.REQ) return ctx.requestMapReadable() ? ctx.requestHeaders : null;
    if (type === MAP.RESP) return ctx.responseHeaders;
    return null;
  }

  /**
   * Runs a callback with `ctx` effective, then applies deferred local responses and continues.
   * `busyNs` adds up the time spent inside the module's callbacks (the benchmark's module figure).
   */
  run<T>(ctx: RootContext | Stream, fn: () => T): T {
    const prev = this.effective;
    this.effective = ctx;
    const start = process.hrtime.bigint();
    try {
      return fn();
    } finally {
      this.busyNs += process.hrtime.bigint() - start;
      this.effective = prev;
      for (const s of this.streams.values()) s.applyDeferred();
    }
  }

  /** Creates a root context and configures it; returns [ok, root]. */
  configure(config: PluginConfig | string): [boolean, RootContext] {
    const id = this.host.nextContextId++;
    const root: RootContext = { isRoot: true, id, config: Buffer.from(typeof config === 'string' ? config : JSON.stringify(config)), tickPeriod: 0, nextTick: 0, props: {} };
    for (const t of typeof config === 'object' ? configuredTokens(config) : []) if (t.length > 3) this.host.secrets.add(t);
    this.roots.set(id, root);
    this.run(root, () => this.callback('proxy_on_context_create', id, 0));
    this.run(root, () => this.callback('proxy_on_vm_start', id, 0));
    const ok = this.run(root, () => this.callback('proxy_on_configure', id, root.config.length)) !== 0;
    this.root = root;
    return [ok, root];
  }

  /** Removes a root context (a configuration replaced or a VM going away); its calls are cancelled with it. */
  deleteRoot(root: RootContext): void {
    this.run(root, () => this.callback('proxy_on_done', root.id));
    this.run(root, () => this.callback('proxy_on_delete', root.id));
    this.roots.delete(root.id);
    for (const [id, call] of this.pendingCalls) if (call.root === root) this.pendingCalls.delete(id);
  }

  tick(root: RootContext): void {
    root.nextTick = this.host.nowMs + root.tickPeriod;
    if (root.stopped) return;
    this.run(root, () => this.callback('proxy_on_tick', root.id));
  }

  /**
   * Answers a pending call: with `answer` {status, headers, body}, or null for a failure (no
   * headers). Past its deadline a call gets what Envoy's router makes: 504 "upstream request timeout".
   */
  settleCall(call: PendingCall, answer: CallAnswer | null = call.answer): void {
    if (!this.pendingCalls.has(call.id)) return;
    this.pendingCalls.delete(call.id);
    if (this.host.nowMs >= call.deadline) answer = { status: 504, headers: { 'content-type': 'text/plain' }, body: 'upstream request timeout' };
    if (answer) {
      const headers = new Headers([[':status', String(answer.status)], ...Object.entries(answer.headers ?? {})]);
      this.callAnswer = { headers, body: Buffer.from(answer.body ?? '') };
    } else {
      this.callAnswer = { headers: new Headers(), body: Buffer.alloc(0) };
    }
    const numHeaders = this.callAnswer.headers.pairs.length;
    const bodySize = this.callAnswer.body.length;
    try {
      this.run(call.root, () => this.callback('proxy_on_http_call_response', call.root.id, call.id, numHeaders, bodySize, 0));
    } finally {
      this.callAnswer = null;
    }
  }

  /** The plugin's HTTP calls still waiting for an answer, oldest first. */
  calls(): PendingCall[] { return [...this.pendingCalls.values()]; }

  /** Answers every pending call through `upstream(call)`, which returns an answer, null (failure) or {delayMs, ...answer}. */
  answerCalls(upstream: (call: PendingCall) => CallReply): void {
    for (const call of [...this.pendingCalls.values()]) {
      if (call.answerAt !== null) continue;
      const answer = upstream(call);
      if (answer && 'hang' in answer) {
        call.answerAt = call.deadline;
        call.answer = null;
      } else if (answer && answer.delayMs) {
        call.answer = answer;
        call.answerAt = this.host.nowMs + answer.delayMs;
      } else {
        this.settleCall(call, answer);
      }
    }
  }

  newStream(root: RootContext = this.root, props: Record<string, string> = {}, options: StreamOptions = {}): Stream {
    const id = this.host.nextContextId++;
    const stream = new Stream(this, id, root, props, options);
    this.streams.set(id, stream);
    this.run(root, () => this.callback('proxy_on_context_create', id, root.id));
    return stream;
  }
}

/**
 * A route as Envoy's router applies it when it forwards a request: cluster, host and prefix
 * rewrites, added headers, and the router's own x-envoy-* headers.
 */
export function applyRoute(headers: Headers, route: Route = {}): void {
  const path = headers.get(':path') ?? '/';
  const authority = headers.get(':authority');
  if (route.prefixRewrite && path.startsWith(route.prefixRewrite[0])) {
    headers.replace(':path', route.prefixRewrite[1] + path.slice(route.prefixRewrite[0].length));
    headers.add('x-envoy-original-path', path);
  }
  if (route.hostRewrite) {
    headers.replace(':authority', route.hostRewrite);
    headers.add('x-envoy-original-host', authority ?? '');
  }
  for (const [k, v] of Object.entries(route.headersToAdd ?? {})) headers.replace(k, v);
  headers.add('x-envoy-expected-rq-timeout-ms', '30000');
}

/** One HTTP stream through the plugin; the test plays Envoy's router around it. */
export class Stream {
  readonly isRoot = false;
  vm: Vm;
  id: number;
  root: RootContext;
  props: Record<string, string>;
  route: Route & { cluster: string };
  allowOnHeadersStopIteration: boolean;
  phase: Phase = 'created';
  requestHeaders: Headers = new Headers();
  responseHeaders: Headers | null = null;
  requestBodyBuffer: Buffer | null = null;
  responseBodyBuffer: Buffer | null = null;
  heldResponseBody: { data: Buffer; endOfStream: boolean } | null = null;
  /** A request body Envoy keeps from the filter while it holds the request headers (no allow_on_headers_stop_iteration). */
  heldRequestBody: { data: Buffer; endOfStream: boolean } | null = null;
  /** Request body bytes Envoy has received from the client, shown to the filter or not (StreamInfo::bytesReceived). */
  requestBytesReceived = 0;
  /** The response body the filter let through to the client, chunk by chunk. */
  clientBody: Buffer[] = [];
  pendingLocal: LocalResponse | null = null;
  pendingContinue: number[] = [];
  localResponse: LocalResponse | null = null;
  continued = { request: false, response: false };
  responseHeadersAction = 0;
  requestHeadersAction = 0;
  lastRequestBodyAction = 0;
  lastResponseBodyAction = 0;
  /** true once the router has the request; starts true when a later filter answers before the router (its map is never rewritten). */
  forwarded: boolean;
  done = false;

  constructor(vm: Vm, id: number, root: RootContext, props: Record<string, string>, { allowOnHeadersStopIteration = false, route = {}, reachesRouter = true }: StreamOptions = {}) {
    this.vm = vm;
    this.id = id;
    this.root = root;
    this.props = { ...props };
    this.route = { cluster: 'llm', ...route };
    this.allowOnHeadersStopIteration = allowOnHeadersStopIteration;
    this.forwarded = !reachesRouter;
  }

  /**
   * The request map is readable in the request-headers callback, at log time, and from any
   * callback (a body, a tick or a call answer with the stream effective) while the filter still
   * holds the headers (Envoy clears its pointer once they continue).
   */
  requestMapReadable(): boolean {
    if (this.phase === 'requestHeaders' || this.phase === 'log') return true;
    return this.holdsRequestHeaders();
  }

  /** Whether the filter stopped the request at its headers and has not continued it. */
  holdsRequestHeaders(): boolean {
    return this.requestHeadersAction === 1 && !this.continued.request && !this.forwarded;
  }

  /** What the plugin set with proxy_set_property, as Envoy's filter state holds it (`wasm.<name>`). */
  filterState = new Map<string, string>();

  /** Sets a stream property as Envoy would (`response.code_details`, `xds.cluster_name`, …). */
  setProperty(name: string, value: string): void { this.props[name] = value; }

  /** Stream properties as Envoy has them at this point of the stream. */
  property(key: string): string | Buffer | null {
    if (key in this.props) return this.props[key];
    // Envoy's CEL request wrapper: body bytes received plus the header map's byte size, an int64
    // (8 little-endian bytes), readable whatever the phase.
    if (key === 'request.total_size') {
      const headerBytes = this.requestHeaders.pairs.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
      const out = Buffer.alloc(8);
      out.writeBigInt64LE(BigInt(this.requestBytesReceived + headerBytes));
      return out;
    }
    if (key === 'xds.cluster_name') return this.route.cluster;
    if (key.startsWith('request.')) {
      if (!this.requestMapReadable()) return null;
      const h = this.requestHeaders;
      const path = h.get(':path') ?? '';
      if (key === 'request.host') return h.get(':authority');
      if (key === 'request.path') return path;
      if (key === 'request.url_path') return path.split('?')[0];
      if (key === 'request.method') return h.get(':method');
      return null;
    }
    return null;
  }

  applyDeferred(): void {
    if (this.pendingLocal) { this.localResponse = this.pendingLocal; this.pendingLocal = null; }
    const resumed = this.pendingContinue.includes(1) && !this.continued.response;
    const requestResumed = this.pendingContinue.includes(0) && this.holdsRequestHeaders();
    for (const t of this.pendingContinue) { if (t === 0) this.continued.request = true; else this.continued.response = true; }
    this.pendingContinue = [];
    // The held request goes on: the router gets it, and the filter the body Envoy kept from it.
    if (requestResumed && !this.localResponse) {
      this.forward();
      const held = this.heldRequestBody;
      this.heldRequestBody = null;
      if (held) {
        this.requestBodyBuffer = held.data;
        this.lastRequestBodyAction = this.call('proxy_on_request_body', 'requestBody', held.data.length, held.endOfStream ? 1 : 0);
      }
    }
    // Continuing sends the body buffered so far after the headers.
    if (resumed && !this.localResponse && this.lastResponseBodyAction === 1) this.passResponseBody();
    // A response held at its headers gets its body once it continues.
    if (resumed && !this.localResponse && this.heldResponseBody) {
      const { data, endOfStream } = this.heldResponseBody;
      this.heldResponseBody = null;
      this.deliverResponseBody(data, endOfStream);
    }
  }

  call(name: string, phase: Phase, ...args: number[]): number {
    this.phase = phase;
    try {
      return this.vm.run(this, () => this.vm.callback(name, this.id, ...args));
    } finally {
      if ((this.phase as Phase) === phase) this.phase = 'waiting';
    }
  }

  onRequestHeaders(headers: Headers | HeaderInit, endOfStream = false): number {
    this.requestHeaders = headers instanceof Headers ? headers : new Headers(headers);
    this.requestHeadersAction = this.call('proxy_on_request_headers', 'requestHeaders', this.requestHeaders.pairs.length, endOfStream ? 1 : 0);
    if (endOfStream && this.requestHeadersAction === 0) this.forward();
    return this.requestHeadersAction;
  }

  /** A request body chunk; held back from the filter while it stopped at headers (ABI 0.2.1 default). */
  onRequestBody(chunk: string | Uint8Array, endOfStream = true): number {
    if (this.localResponse) return 3;
    this.requestBytesReceived += Buffer.byteLength(chunk);
    const held = this.holdsRequestHeaders();
    if (held && !this.allowOnHeadersStopIteration) {
      const prev = this.heldRequestBody?.data ?? Buffer.alloc(0);
      this.heldRequestBody = { data: Buffer.concat([prev, Buffer.from(chunk)]), endOfStream };
      return 1;
    }
    // The router has the headers as soon as the filter continues them.
    if (!held && !this.forwarded) this.forward();
    const data = Buffer.from(chunk);
    this.requestBodyBuffer = this.lastRequestBodyAction === 1 && this.requestBodyBuffer ? Buffer.concat([this.requestBodyBuffer, data]) : data;
    this.lastRequestBodyAction = this.call('proxy_on_request_body', 'requestBody', this.requestBodyBuffer.length, endOfStream ? 1 : 0);
    // Continue from a body callback also continues the held headers.
    if (held && this.lastRequestBodyAction === 0 && !this.localResponse) this.forward();
    return this.lastRequestBodyAction;
  }

  /** The router forwards the request: its map is rewritten as the route says (seen again only at log). */
  forward(): void {
    if (this.forwarded) return;
    this.forwarded = true;
    applyRoute(this.requestHeaders, this.route);
  }

  onResponseHeaders(headers: Headers | HeaderInit, endOfStream = false): number {
    if (!this.forwarded) this.forward();
    if (!('response.code_details' in this.props)) this.props['response.code_details'] = 'via_upstream';
    this.responseHeaders = headers instanceof Headers ? headers : new Headers(headers);
    this.responseHeadersAction = this.call('proxy_on_response_headers', 'responseHeaders', this.responseHeaders.pairs.length, endOfStream ? 1 : 0);
    return this.responseHeadersAction;
  }

  /** A body chunk from upstream; held back while the filter stopped at headers (ABI 0.2.1 default). */
  onResponseBody(chunk: string | Uint8Array, endOfStream = true): number {
    const data = Buffer.from(chunk);
    const held = this.responseHeadersAction === 1 && !this.continued.response;
    if (held && !this.allowOnHeadersStopIteration) {
      const prev = this.heldResponseBody?.data ?? Buffer.alloc(0);
      this.heldResponseBody = { data: Buffer.concat([prev, data]), endOfStream };
      return 1;
    }
    return this.deliverResponseBody(data, endOfStream);
  }

  /**
   * Calls the filter with a body chunk. While it buffers (its last answer was
   * StopIterationAndBuffer), Envoy (since 1.32) adds the chunk to the buffer first, so the filter
   * sees everything so far. Continue lets the buffer through (and the headers, if held).
   */
  deliverResponseBody(data: Buffer, endOfStream: boolean): number {
    this.responseBodyBuffer = this.lastResponseBodyAction === 1 && this.responseBodyBuffer ? Buffer.concat([this.responseBodyBuffer, data]) : data;
    this.lastResponseBodyAction = this.call('proxy_on_response_body', 'responseBody', this.responseBodyBuffer.length, endOfStream ? 1 : 0);
    if (this.lastResponseBodyAction === 0 && !this.localResponse) {
      this.continued.response = true;
      this.passResponseBody();
    }
    return this.lastResponseBodyAction;
  }

  private passResponseBody(): void {
    if (this.responseBodyBuffer) this.clientBody.push(this.responseBodyBuffer);
    this.responseBodyBuffer = null;
    this.lastResponseBodyAction = 0;
  }

  /** Ends the stream as Envoy does: on_done, on_log (the sent request readable), on_delete. Calls it made go on (they belong to the root). */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.call('proxy_on_done', 'done');
    this.call('proxy_on_log', 'log');
    this.call('proxy_on_delete', 'deleted');
    this.vm.streams.delete(this.id);
  }
}

export { Headers } from './header_map.js';
