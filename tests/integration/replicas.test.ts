// Gateway replicas sharing one pool through Redis (the Higress build): two emulated gateway
// processes (separate shared data, two VMs each) and Debian's redis-server on a free port.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import path from 'node:path';
import { Host, type Vm, DEFAULT_WASM, SEED } from '../host/emulator.js';
import { roundTrip, type Upstream } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';
import { RedisServer, redisServerMissing } from '../host/redis_server.js';
import type { PluginConfig } from '../../envoy/config.js';

const HIGRESS_WASM = path.join(path.dirname(DEFAULT_WASM), 'plugin.higress.wasm');
const CLUSTER = 'outbound|6379||redis.dns';
const KEYS = ['sk-r1', 'sk-r2', 'sk-r3', 'sk-r4'];
let redis: RedisServer;
let prefixes = 0;

// Debian's redis-server runs these tests; without it they are skipped, saying so, except where
// REQUIRE_REDIS is set (CI), where that is a failure.
const missing = redisServerMissing();
if (missing && process.env.REQUIRE_REDIS) throw new Error(missing);
const withRedis = missing ? { skip: missing } : {};

before(async () => { if (!missing) redis = await RedisServer.start(); });
after(async () => { if (!missing) await redis.stop(); });

interface Gateway { host: Host; vms: Vm[] }

function config(extra: Record<string, unknown> = {}, provider: Record<string, unknown> = {}, redisExtra: Record<string, unknown> = {}): PluginConfig {
  return {
    statusPath: '/status', statusToken: 'st',
    provider: {
      type: 'openai', apiTokens: KEYS,
      failover: { enabled: true, failureThreshold: 2, healthCheckInterval: 1000, healthCheckModel: 'm' },
      retryOnFailure: { enabled: true, maxRetries: 2 },
      ...provider,
    },
    redis: { serviceName: 'redis.dns', syncInterval: 1000, timeout: 300, keyPrefix: `t${prefixes}:`, ...redisExtra },
    ...extra,
  };
}

/** Two gateway processes on one clock, both configured with `cfg`. */
function twoGateways(cfg: PluginConfig): [Gateway, Gateway] {
  prefixes++;
  const make = (name: string, seed: number): Gateway => {
    const host = new Host({ wasmPath: HIGRESS_WASM, seed });
    host.redis.services.set(CLUSTER, { port: redis.port });
    const vms = [host.createVm(`${name}0`), host.createVm(`${name}1`)];
    for (const vm of vms) assert.equal(vm.configure(cfg)[0], true, JSON.stringify(host.logs));
    return { host, vms };
  };
  return [make('a', SEED), make('b', SEED + 1)];
}

/** Moves both processes' clocks together, letting Redis answer at every step. */
async function elapse(gateways: Gateway[], ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    for (const g of gateways) await g.host.settleRedis();
    for (const g of gateways) g.host.advance(Math.min(step, ms - t));
  }
  for (const g of gateways) await g.host.settleRedis();
}

const status = (vm: Vm) => statusOf(vm);

const logged = (g: Gateway, part: string) => g.host.logs.filter((l) => l.msg.includes(part));
const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });

test('the standard build refuses redis with one line; the Higress build refuses an unknown cluster', () => {
  const standard = new Host();
  const vm = standard.createVm();
  assert.equal(vm.configure(config())[0], false);
  const lines = standard.logs.filter((l) => l.level >= 4);
  assert.equal(lines.length, 1);
  assert.match(lines[0].msg, /redis needs the Higress build \(plugin\.higress\.wasm\)/);

  const higress = new Host({ wasmPath: HIGRESS_WASM });
  const hvm = higress.createVm();
  assert.equal(hvm.configure(config())[0], false);
  assert.match(higress.logs.map((l) => l.msg).join('\n'), /redis\.serviceName: the gateway has no cluster outbound\|6379\|\|redis\.dns/);
  // Without redis the Higress build behaves as the standard one.
  assert.equal(higress.createVm().configure({ provider: { apiTokens: KEYS } })[0], true);
});

test('a key taken out in one process is out in the other within one sync interval', withRedis, async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  const dead: Upstream = (r) => (r.token === 'sk-r1' ? { status: 401, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 40 && logged(a, 'taken out of the pool').length == 0; i++) {
    assert.equal(roundTrip(a.vms[i % 2], dead).client.status, 200);
  }
  assert.equal(logged(a, 'taken out of the pool').length, 1);
  let waited = 0;
  while (logged(b, 'another replica took it out').length == 0 && waited <= 1000) { await elapse([a, b], 50); waited += 50; }
  assert.ok(waited <= 1000, `seen in the other process after ${waited} ms`);
  for (let i = 0; i < 40; i++) assert.notEqual(roundTrip(b.vms[i % 2], ok).token, 'sk-r1');
});

/** Answers the plugin's own calls (probes) in every VM of `g` with `upstream`; returns how many. */
function answerProbes(g: Gateway, upstream: Upstream): number {
  let n = 0;
  for (const vm of g.vms) {
    vm.answerCalls((call) => {
      n++;
      const auth = call.headers.get('authorization') ?? '';
      const answer = upstream({ token: auth.replace('Bearer ', ''), headers: call.headers, body: call.body.toString(), call });
      return answer;
    });
  }
  return n;
}

test('a Retry-After seen in one process benches the key in both, the later deadline kept', withRedis, async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  const limited = (seconds: number): Upstream => (r) => (r.token === 'sk-r1'
    ? { status: 429, headers: { 'retry-after': String(seconds) }, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  // Within the 10 s one request's Retry-After may bench a key by itself (see docs/behaviour.md).
  for (let i = 0; i < 40 && logged(a, 'Retry-After').length == 0; i++) roundTrip(a.vms[i % 2], limited(4));
  for (let i = 0; i < 40 && logged(b, 'Retry-After').length == 0; i++) roundTrip(b.vms[i % 2], limited(9));
  assert.equal(logged(a, 'Retry-After').length, 1);
  assert.equal(logged(b, 'Retry-After').length, 1);
  const uses = (g: Gateway) => Array.from({ length: 40 }, (_, i) => roundTrip(g.vms[i % 2], ok).token).filter((t) => t === 'sk-r1').length;
  // Past the first deadline (4 s) neither process sends to the key: the later one (9 s) holds in both.
  await elapse([a, b], 6000);
  assert.equal(uses(a), 0);
  assert.equal(uses(b), 0);
  await elapse([a, b], 4000);
  assert.ok(uses(a) > 0);
  assert.ok(uses(b) > 0);
});

test('one prober for both processes', withRedis, async () => {
  const [a, b] = twoGateways(config());
  // Both learn the probe target from successful requests.
  for (let i = 0; i < 8; i++) { roundTrip(a.vms[i % 2], ok); roundTrip(b.vms[i % 2], ok); }
  await elapse([a, b], 3000);
  // 503: a tired key, probed every interval.
  const dead: Upstream = (r) => (r.token === 'sk-r1' ? { status: 503, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 40 && logged(a, 'taken out of the pool').length == 0; i++) roundTrip(a.vms[i % 2], dead);
  const probes = [0, 0];
  for (let t = 0; t < 10_000; t += 100) {
    await elapse([a, b], 100);
    probes[0] += answerProbes(a, dead);
    probes[1] += answerProbes(b, dead);
  }
  assert.ok(probes[0] + probes[1] >= 5, `probes ${probes}`);
  assert.ok(probes[0] == 0 || probes[1] == 0, `both processes probed: ${probes}`);
  // The key heals: the prober's success brings it back in both.
  for (let t = 0; t < 3000; t += 100) {
    await elapse([a, b], 100);
    answerProbes(a, ok);
    answerProbes(b, ok);
  }
  await elapse([a, b], 1100);
  assert.ok(Array.from({ length: 40 }, (_, i) => roundTrip(b.vms[i % 2], ok).token).includes('sk-r1'));
  assert.ok(Array.from({ length: 40 }, (_, i) => roundTrip(a.vms[i % 2], ok).token).includes('sk-r1'));
});

test('rpm 60 offered twice that across both processes: the provider receives at most 60 a minute', withRedis, async (t) => {
  const cfg = config({}, { apiTokens: [{ token: 'sk-q', rpm: 60 }], retryOnFailure: { enabled: false } });
  const [a, b] = twoGateways(cfg);
  const received: number[] = [];
  let level = 60, at = a.host.nowMs, refused = 0;
  const provider: Upstream = () => {
    const now = a.host.nowMs;
    level = Math.min(60, level + (now - at) / 1000);
    at = now;
    received.push(now);
    if (level < 1) { refused++; return { status: 429, body: '{}' }; }
    level -= 1;
    return { status: 200, body: '{"choices":[]}' };
  };
  const start = a.host.nowMs;
  let served = 0, limited = 0;
  for (let i = 0; i < 360; i++) {
    const g = i % 2 == 0 ? a : b;
    const r = roundTrip(g.vms[(i >> 1) % 2], provider);
    if (r.client.status == 200) served++;
    else if (r.client.status == 429 && r.client.local) limited++;
    await elapse([a, b], 500);
  }
  const minutes = (received[received.length - 1] - start) / 60_000;
  let worst = 0;
  for (let t = start + 60_000; t + 60_000 <= start + 180_000; t += 1000) {
    worst = Math.max(worst, received.filter((x) => x >= t && x < t + 60_000).length);
  }
  t.diagnostic(`served ${served} of 360 over 3 min, ${limited} answered 429 by the plugin, busiest minute after the first ${worst}, provider refused ${refused}`);
  assert.ok(worst <= 62, `a minute after the first had ${worst} requests`);
  assert.ok(refused <= 2, `the provider refused ${refused}`);
  // Not a quarter of the limit either: the first minute's bucket and a request a second after it.
  assert.ok(served >= 200, `served ${served} of 360 in ${minutes.toFixed(1)} min (${limited} answered 429 by the plugin)`);
});

test('an account group with rpm 60 over two keys, offered twice that across both processes: the provider receives at most 60 a minute', withRedis, async (t) => {
  const cfg = config({}, { apiTokens: [{ token: 'sk-g1', group: 'org' }, { token: 'sk-g2', group: 'org' }], groups: { org: { rpm: 60 } },
    retryOnFailure: { enabled: false } });
  const [a, b] = twoGateways(cfg);
  const received: number[] = [];
  const start = a.host.nowMs;
  let served = 0;
  for (let i = 0; i < 240; i++) {
    const g = i % 2 == 0 ? a : b;
    const r = roundTrip(g.vms[(i >> 1) % 2], () => { received.push(a.host.nowMs); return { status: 200, body: '{"choices":[]}' }; });
    if (r.client.status == 200) served++;
    await elapse([a, b], 500);
  }
  let worst = 0;
  for (let at = start + 60_000; at + 60_000 <= start + 120_000; at += 1000) {
    worst = Math.max(worst, received.filter((x) => x >= at && x < at + 60_000).length);
  }
  t.diagnostic(`served ${served} of 240 over 2 min, busiest minute after the first ${worst}`);
  assert.ok(worst <= 62, `a minute after the first had ${worst} requests`);
  assert.ok(served >= 100, `served ${served} of 240`);
});

test('rpd 100 and a group\'s tpd shared by both processes: offered 300 requests, Redis restarted empty half-way, the provider receives at most the day, and the status shows the day spent in both', withRedis, async (t) => {
  const cfg = config({}, { apiTokens: [{ token: 'sk-d1', rpd: 100 }, { token: 'sk-d2', group: 'org' }], groups: { org: { tpd: 20_000 } },
    retryOnFailure: { enabled: false } });
  const [a, b] = twoGateways(cfg);
  const received: Record<string, number> = { 'sk-d1': 0, 'sk-d2': 0 };
  // Each answer uses 400 tokens: the group's day holds 50 of them.
  const provider: Upstream = ({ token }) => {
    received[token ?? ''] = (received[token ?? ''] ?? 0) + 1;
    return { status: 200, body: '{"choices":[],"usage":{"prompt_tokens":300,"completion_tokens":100,"total_tokens":400}}' };
  };
  let served = 0, limited = 0;
  for (let i = 0; i < 300; i++) {
    const g = i % 2 == 0 ? a : b;
    // Bursts of ten between syncs: each process spends within its allowance, then waits for the next one.
    const r = roundTrip(g.vms[(i >> 1) % 2], provider, { body: '{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}' });
    if (r.client.status == 200) served++;
    else if (r.client.status == 429 && r.client.local) limited++;
    if (i % 10 == 9) await elapse([a, b], 1000);
    // Redis loses the day: each replica's next report (its whole day so far) counts it again.
    if (i == 99) { await redis.stop(); await redis.resume(); }
  }
  t.diagnostic(`served ${served} of 300, ${limited} answered 429 by the plugin; the provider received ${JSON.stringify(received)}`);
  // Rounding up each replica's share lets at most one request more per replica.
  assert.ok(received['sk-d1'] <= 102, `sk-d1 received ${received['sk-d1']} of its 100 a day`);
  assert.ok(received['sk-d1'] >= 90, `sk-d1 received only ${received['sk-d1']} of its 100 a day`);
  assert.ok(received['sk-d2'] <= 52, `sk-d2 received ${received['sk-d2']} requests of 400 tokens from its group's 20000 a day`);
  assert.equal(served + limited, 300);
  await elapse([a, b], 2000);
  for (const g of [a, b]) {
    const left = status(g.vms[0]).tokens[0].budgetLeft;
    assert.equal(left?.requestsToday, 0, `the status shows ${JSON.stringify(left)}`);
  }
});

test('a day that starts while Redis is down: each process may use an even split of it, not the first lease\'s hundredth', withRedis, async (t) => {
  const hourOf = (ms: number) => new Date(ms).getUTCHours();
  const [a, b] = twoGateways(config({}, { apiTokens: [{ token: 'sk-n', rpd: 100 }], retryOnFailure: { enabled: false },
    dailyResetUtcHour: (hourOf(new Host().nowMs) + 1) % 24 }));
  await elapse([a, b], 3000);
  await redis.stop();
  try {
    await elapse([a, b], 3000);
    // To the next reset, past it, and two failed syncs later.
    const untilReset = 3_600_000 - (a.host.nowMs % 3_600_000);
    for (const g of [a, b]) g.host.advance(untilReset + 10);
    await elapse([a, b], 2000);
    let received = 0;
    const provider: Upstream = () => { received++; return { status: 200, body: '{"choices":[]}' }; };
    for (let i = 0; i < 120; i++) roundTrip((i % 2 == 0 ? a : b).vms[(i >> 1) % 2], provider);
    t.diagnostic(`the provider received ${received} of 120 on the new day while Redis was down`);
    assert.ok(received >= 90 && received <= 100, `received ${received}`);
  } finally {
    await redis.resume();
  }
});

test('Redis stopped mid-run: no client error, one log line and the link metric; back: in sync within two intervals', withRedis, async () => {
  const [a, b] = twoGateways(config());
  const metric = (g: Gateway) => g.host.metric('ai_token_failover.pool.ai-token-failover:openai.redis_link_up');
  await elapse([a, b], 3000);
  assert.equal(metric(a), 1);
  await redis.stop();
  for (let i = 0; i < 30; i++) {
    assert.equal(roundTrip(a.vms[i % 2], ok).client.status, 200);
    assert.equal(roundTrip(b.vms[i % 2], ok).client.status, 200);
    await elapse([a, b], 100);
  }
  for (const g of [a, b]) {
    assert.equal(logged(g, 'unreachable').length, 1, JSON.stringify(g.host.logs));
    assert.equal(metric(g), 0);
  }
  // While Redis is away, A takes a key out.
  const dead: Upstream = (r) => (r.token === 'sk-r2' ? { status: 401, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 40 && logged(a, 'taken out of the pool').length == 0; i++) assert.equal(roundTrip(a.vms[i % 2], dead).client.status, 200);
  assert.equal(logged(a, 'taken out of the pool').length, 1);
  await redis.resume();
  await elapse([a, b], 2000);
  for (const g of [a, b]) {
    assert.equal(metric(g), 1);
    assert.equal(logged(g, 'reachable again').length, 1);
  }
  assert.equal(logged(b, 'another replica took it out').length, 1);
  for (let i = 0; i < 40; i++) assert.notEqual(roundTrip(b.vms[i % 2], ok).token, 'sk-r2');
});

test('the status document shows the link, the live replicas and which process probes', withRedis, async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  const docs = [status(a.vms[1]), status(b.vms[0])];
  for (const d of docs) {
    assert.equal(d.replicas?.link, 'up');
    assert.equal(d.replicas?.liveReplicas, 2);
    assert.ok((d.replicas?.syncedMsAgo ?? 9999) <= 1000);
  }
  assert.equal(docs.filter((d) => d.replicas?.proberHere).length, 1);
  const alone = new Host({ wasmPath: HIGRESS_WASM }).createVm();
  assert.equal(alone.configure({ provider: { apiTokens: KEYS }, statusPath: '/status', statusToken: 'st' })[0], true);
  assert.equal(status(alone).replicas, null);
});

test('Redis that stops answering: commands time out together, clients are served, the link comes back', withRedis, async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  redis.pause();
  try {
    for (let i = 0; i < 6; i++) {
      assert.equal(roundTrip(a.vms[i % 2], ok).client.status, 200);
      assert.equal(roundTrip(b.vms[i % 2], ok).client.status, 200);
      await elapse([a, b], 500, 250);
    }
    for (const g of [a, b]) {
      assert.equal(logged(g, 'unreachable: no answer').length, 1, JSON.stringify(g.host.logs));
      assert.equal(status(g.vms[0]).replicas?.link, 'down');
    }
  } finally {
    redis.unpause();
  }
  await elapse([a, b], 2000);
  for (const g of [a, b]) assert.equal(logged(g, 'reachable again').length, 1);
});

test('Redis answering errors (a wrong password): one line naming the error, the process serves alone', withRedis, async () => {
  const guarded = await RedisServer.start('the-password');
  const [a] = twoGateways(config({}, {}, { password: 'not-the-password' }));
  a.host.redis.services.set(CLUSTER, { port: guarded.port });
  try {
    await elapse([a], 3000);
  } finally {
    await guarded.stop();
  }
  const lines = logged(a, 'unreachable');
  assert.equal(lines.length, 1);
  assert.match(lines[0].msg, /Redis answered (ERR|WRONGPASS|NOAUTH)/);
  assert.ok(!lines[0].msg.includes('not-the-password'));
  assert.equal(roundTrip(a.vms[0], ok).client.status, 200);
  assert.equal(status(a.vms[0]).replicas?.link, 'down');
});

test('a 429 without Retry-After halves the key\'s share in both processes', withRedis, async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  const throttled: Upstream = (r) => (r.token === 'sk-r3' ? { status: 429, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  let hit = false;
  for (let i = 0; i < 40 && !hit; i++) hit = roundTrip(a.vms[i % 2], throttled).token === 'sk-r3';
  assert.ok(hit);
  await elapse([a, b], 1000);
  const shares = (g: Gateway) => status(g.vms[0]).tokens.map((t) => t.rateShare);
  assert.deepEqual(shares(a), [1, 1, 0.5, 1]);
  assert.deepEqual(shares(b), [1, 1, 0.5, 1]);
});

test('emulated host functions: replies in order on one connection; a timeout fails every command in flight', withRedis, async () => {
  const host = new Host({ wasmPath: HIGRESS_WASM });
  host.redis.services.set(CLUSTER, { port: redis.port });
  host.redis.services.set('outbound|6379||nohost.dns', { port: null });
  assert.equal(host.redis.init('vm', 'outbound|6379||unknown.dns', { username: '', password: '', timeoutMs: 100 }), 2);
  assert.equal(host.redis.init('vm', CLUSTER, { username: '', password: '', timeoutMs: 100 }), 0);
  assert.equal(host.redis.init('vm', 'outbound|6379||nohost.dns', { username: '', password: '', timeoutMs: 100 }), 0);
  assert.equal(host.redis.call('vm', 1, 'outbound|6379||nohost.dns', Buffer.from('*1\r\n$4\r\nPING\r\n'), host.nowMs)[0], 10);
  const ping = Buffer.from('*1\r\n$4\r\nPING\r\n');
  const [s1] = host.redis.call('vm', 1, CLUSTER, Buffer.from('*2\r\n$4\r\nECHO\r\n$1\r\na\r\n'), host.nowMs);
  host.redis.call('vm', 1, CLUSTER, ping, host.nowMs);
  assert.equal(s1, 0);
  await host.redis.arrived();
  assert.deepEqual(host.redis.takeDone().map((c) => c.done!.reply.toString()), ['$1\r\na\r\n', '+PONG\r\n']);
  redis.pause();
  try {
    host.redis.call('vm', 1, CLUSTER, ping, host.nowMs);
    host.redis.call('vm', 1, CLUSTER, ping, host.nowMs + 50);
    await host.redis.arrived(50);
    assert.equal(host.redis.takeDone().length, 0);
    host.redis.expire(host.nowMs + 100);
    assert.deepEqual(host.redis.takeDone().map((c) => c.done!.status), [1, 1]);
  } finally {
    redis.unpause();
    host.redis.close();
  }
});

test('a successful request with Redis sharing costs what it costs alone: one shared-data read, no write, no Redis command', withRedis, async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  for (let i = 0; i < 10; i++) roundTrip(a.vms[1], ok);
  a.host.resetCallCounts();
  for (let i = 0; i < 100; i++) assert.equal(roundTrip(a.vms[1], ok).client.status, 200);
  const calls = (name: string) => (a.host.hostCalls.get(name) ?? 0) / 100;
  assert.equal(calls('proxy_get_shared_data'), 1);
  assert.equal(calls('proxy_set_shared_data'), 0);
  assert.equal(calls('proxy_redis_call'), 0);
});
