// The admission queue inside the emulator: requests wait instead of being refused, are released by
// priority as budget comes back, end by their deadline, and count across VMs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type Stream, type Vm } from '../host/emulator.js';
import { CHAT, tokenOf } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';
import type { PluginConfig } from '../../envoy/config.js';

const STATUS = { statusPath: '/status', statusToken: 'st' };
const METRIC = 'ai_token_failover.pool.ai-token-failover:openai.queue.';

/** `keys` keys of one request a second each (a bucket of one), failover on, the queue as given. */
function config(queue: Record<string, unknown> = {}, keys = 2): PluginConfig {
  return {
    ...STATUS,
    provider: {
      apiTokens: ['sk-q-a', 'sk-q-b'].slice(0, keys).map((token) => ({ token, rpm: 60, burst: 1 })),
      failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'm' },
    },
    queue: { enabled: true, ...queue },
  };
}

function setup(cfg: PluginConfig, vms = 1) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  for (const vm of list) assert.equal(vm.configure(cfg)[0], true);
  return { host, vms: list };
}

/** Sends a request's headers and body; the stream stays open (answered, continued or waiting). */
function send(vm: Vm, priority?: string): Stream {
  const s = vm.newStream(vm.root, {}, { allowOnHeadersStopIteration: true });
  s.onRequestHeaders({ ...CHAT, authorization: 'Bearer client', ...(priority ? { 'x-priority': priority } : {}) }, false);
  s.onRequestBody('{"model":"m","messages":[]}', true);
  return s;
}

/** Full shares: any priority may take every place (the tests of order and drops fill small queues). */
const STRICT = { share: { urgent: 100, high: 100, normal: 100, low: 100 } };

const sent = (s: Stream): boolean => s.continued.request || s.requestHeadersAction === 0;
const waiting = (s: Stream): boolean => !sent(s) && s.localResponse === null;

const status = (vm: Vm) => statusOf(vm);

test('a request no key has room for waits, and goes out with a key as soon as one has', () => {
  const { host, vms } = setup(config());
  const [a, b] = [send(vms[0]), send(vms[0])];
  assert.ok(sent(a) && sent(b));
  const c = send(vms[0]);
  assert.ok(waiting(c), 'the third request did not wait');
  assert.equal(status(vms[0]).queue?.waiting.normal, 1);
  host.advance(1100);
  assert.ok(sent(c), 'the waiter was not released when budget came back');
  assert.ok(['sk-q-a', 'sk-q-b'].includes(tokenOf(c.requestHeaders) ?? ''));
  assert.equal(host.metric(METRIC + 'outcome.released'), 1);
  assert.equal(status(vms[0]).queue?.waiting.normal, 0);
});

test('with full shares, waiters are released highest priority first, oldest first within a priority', () => {
  // One key: one request comes back a second, so releases come one at a time.
  const { host, vms } = setup(config(STRICT, 1));
  send(vms[0]);
  const low = send(vms[0], 'low');
  const normal1 = send(vms[0]);
  const urgent = send(vms[0], 'URGENT');
  const normal2 = send(vms[0], '3');
  assert.ok([low, normal1, urgent, normal2].every(waiting));
  const order: string[] = [];
  const names = new Map([[low, 'low'], [normal1, 'normal1'], [urgent, 'urgent'], [normal2, 'normal2']]);
  for (let t = 0; t < 80 && order.length < 3; t++) {
    host.advance(50);
    for (const [s, name] of names) if (sent(s) && !order.includes(name)) order.push(name);
  }
  assert.deepEqual(order.slice(0, 3), ['urgent', 'normal1', 'normal2']);
});

test('a wait that runs out ends with 429 and Retry-After by its deadline; with passthrough it goes out', () => {
  const { host, vms } = setup(config({ maxWaitMs: { low: 300 } }));
  send(vms[0]); send(vms[0]);
  // Spend the refills as they come, so the low waiter never finds room.
  const low = send(vms[0], 'low');
  const start = host.nowMs;
  while (low.localResponse === null && host.nowMs - start < 1000) host.advance(50);
  assert.equal(low.localResponse?.status, 429);
  assert.ok(low.localResponse?.headers.get('retry-after'));
  assert.ok(host.nowMs - start <= 300 + 100, `ended after ${host.nowMs - start} ms`);
  assert.equal(host.metric(METRIC + 'outcome.expired'), 1);

  const other = setup(config({ maxWaitMs: { low: 300 }, whenExpired: 'passthrough' }));
  send(other.vms[0]); send(other.vms[0]);
  const passed = send(other.vms[0], 'low');
  other.host.advance(350);
  assert.ok(sent(passed), 'the expired request was not sent');
  assert.equal(other.host.metric(METRIC + 'outcome.passed_through'), 1);
});

test('a full queue rejects at once, passes through, or drops its youngest lowest waiter for a higher newcomer', () => {
  const reject = setup(config({ maxWaiting: 1 }));
  send(reject.vms[0]); send(reject.vms[0]);
  assert.ok(waiting(send(reject.vms[0])));
  const refused = send(reject.vms[0]);
  assert.equal(refused.localResponse?.status, 429);
  assert.equal(reject.host.metric(METRIC + 'outcome.full'), 1);

  const pass = setup(config({ maxWaiting: 1, whenFull: 'passthrough' }));
  send(pass.vms[0]); send(pass.vms[0]);
  assert.ok(waiting(send(pass.vms[0])));
  assert.ok(sent(send(pass.vms[0])), 'passthrough did not send the newcomer');

  const drop = setup(config({ maxWaiting: 2, whenFull: 'drop_lowest', ...STRICT }, 1));
  send(drop.vms[0]);
  const oldLow = send(drop.vms[0], 'low');
  const youngLow = send(drop.vms[0], 'low');
  const urgent = send(drop.vms[0], 'urgent');
  assert.equal(youngLow.localResponse?.status, 429, 'the youngest low waiter was not dropped');
  assert.ok(waiting(oldLow) && waiting(urgent));
  drop.host.advance(1100);
  assert.ok(sent(urgent) && waiting(oldLow), 'the urgent newcomer was not served first');
  assert.equal(drop.host.metric(METRIC + 'outcome.dropped'), 1);
  // Full again (the old low waiter and a normal one): a newcomer ranked no higher than every waiter is the one refused.
  assert.ok(waiting(send(drop.vms[0])));
  assert.equal(send(drop.vms[0], 'low').localResponse?.status, 429);
  assert.ok(waiting(oldLow));
});

test('a client that leaves while waiting frees its place at once', () => {
  const { host, vms } = setup(config({ maxWaiting: 1 }));
  send(vms[0]); send(vms[0]);
  const w = send(vms[0]);
  assert.ok(waiting(w));
  w.finish();
  assert.equal(status(vms[0]).queue?.waiting.normal, 0);
  assert.ok(waiting(send(vms[0])), 'the freed place was not given');
  assert.equal(host.metric(METRIC + 'outcome.client_left'), 1);
});

test('across VMs: maxWaiting counts every worker, and with full shares a worker with only lower waiters leaves the budget to a higher one elsewhere', () => {
  const { host, vms } = setup(config({ maxWaiting: 2, ...STRICT }, 1), 2);
  send(vms[0]);
  const low = send(vms[0], 'low');
  const urgent = send(vms[1], 'urgent');
  assert.ok(waiting(low) && waiting(urgent));
  assert.equal(send(vms[1]).localResponse?.status, 429, 'the process-wide limit was not kept');
  const doc = status(vms[1]).queue;
  assert.deepEqual([doc?.waiting.urgent, doc?.waiting.low], [1, 1]);
  host.advance(1100);
  assert.ok(sent(urgent), 'the urgent waiter in the other worker was not served');
  assert.ok(waiting(low), 'the low waiter took the budget the urgent one waited for');
});

test('the queue off: a request no key has room for gets 429 at once, as before', () => {
  const cfg = config();
  delete cfg.queue;
  const { vms } = setup(cfg);
  send(vms[0]); send(vms[0]);
  assert.equal(send(vms[0]).localResponse?.status, 429);
  assert.equal(status(vms[0]).queue, null);
});

test('a streaming request waits the same way; a released request costs the queue one write to join and one to leave', () => {
  // Failover off, so the probe lease's writes do not mix in.
  const cfg = config({}, 1);
  (cfg.provider as { failover: { enabled: boolean } }).failover.enabled = false;
  const { host, vms } = setup(cfg);
  send(vms[0]);
  const s = vms[0].newStream(vms[0].root, {}, { allowOnHeadersStopIteration: true });
  s.onRequestHeaders({ ...CHAT, authorization: 'Bearer client' }, false);
  s.onRequestBody('{"model":"m","stream":true,"messages":[]}', true);
  assert.ok(waiting(s), 'the streaming request did not wait');
  const [reads, writes] = [host.shared.reads, host.shared.writes];
  host.advance(1100);
  assert.ok(sent(s));
  // Joined before the count began; released: the tick's one queue write, plus the key's budget lease.
  console.log(`queued request released: ${host.shared.reads - reads} shared-data reads, ${host.shared.writes - writes} writes (the queue record's and the budget lease's)`);
  assert.equal(host.shared.writes - writes, 2);
});

test('drop_lowest across VMs: the worker holding the lowest waiters drops its youngest at its next tick, and the urgent newcomer elsewhere waits and goes first', () => {
  const { host, vms } = setup(config({ maxWaiting: 2, whenFull: 'drop_lowest', ...STRICT }, 1), 2);
  send(vms[0]);
  const oldLow = send(vms[0], 'low');
  const youngLow = send(vms[0], 'low');
  assert.ok(waiting(oldLow) && waiting(youngLow));
  const urgent = send(vms[1], 'urgent');
  assert.ok(waiting(urgent), 'the urgent newcomer was refused');
  host.advance(50);
  assert.equal(youngLow.localResponse?.status, 429, 'the youngest low waiter in the other VM was not dropped');
  assert.ok(waiting(oldLow));
  assert.equal(host.metric(METRIC + 'outcome.dropped'), 1);
  host.advance(1100);
  assert.ok(sent(urgent) && waiting(oldLow), 'the urgent newcomer was not served first');
  // The record counts one waiter again: the old low one.
  const q = status(vms[1]).queue;
  assert.deepEqual([q?.waiting.urgent, q?.waiting.low], [0, 1]);
});

test('200 waiters whose keys have no room yet cost a tick no host call per waiter', () => {
  const { host, vms } = setup(config({ maxWaiting: 500, maxWaitMs: { normal: 30_000 } }, 1));
  send(vms[0]);
  const waiters = Array.from({ length: 200 }, () => send(vms[0]));
  assert.ok(waiters.every(waiting));
  host.advance(60);
  host.resetCallCounts();
  host.advance(300);
  const perTick = (host.hostCalls.get('proxy_set_effective_context') ?? 0) / 6;
  assert.ok(perTick <= 2, `${perTick} context switches per tick`);
  host.advance(1000);
  assert.equal(waiters.filter(sent).length, 1, 'one request a second comes back, so one waiter goes');
});

test('the priority header is the gateway\'s: it never reaches the provider, from a waiter or from one sent at once', () => {
  const { host, vms } = setup(config({}, 1));
  const atOnce = send(vms[0], 'urgent');
  assert.ok(sent(atOnce));
  assert.equal(atOnce.requestHeaders.get('x-priority'), null);
  const waiter = send(vms[0], 'high');
  assert.ok(waiting(waiter));
  host.advance(1100);
  assert.ok(sent(waiter));
  assert.equal(waiter.requestHeaders.get('x-priority'), null);
});

test('a flood of urgent waiters cannot take every place: urgent holds at most its share of the places, and normal requests still find one', () => {
  // 40 places, urgent at most 50% of them.
  const { vms } = setup(config({ maxWaiting: 40, maxWaitMs: { urgent: 60_000, normal: 60_000 } }, 1), 2);
  send(vms[0]);
  const urgent = Array.from({ length: 30 }, (_, i) => send(vms[i % 2], 'urgent'));
  const refused = urgent.filter((s) => s.localResponse?.status === 429).length;
  assert.equal(refused, 10, `${refused} urgent requests were refused a place (20 of 40 places are urgent's)`);
  const normal = Array.from({ length: 6 }, (_, i) => send(vms[i % 2]));
  assert.ok(normal.every(waiting), 'a normal request found no place among the urgent ones');
});

/**
 * 2 keys of one request a second, in 2 VMs; for `seconds`: an urgent request every 250 ms (twice
 * what the keys accept, from both VMs in turn) and a normal one every second. Returns how many of
 * each were sent.
 */
function urgentFlood(queue: Record<string, unknown>, seconds: number) {
  const { host, vms } = setup(config({ maxWaitMs: { urgent: 60_000, normal: 10_000 }, ...queue }), 2);
  const urgent: Stream[] = [], normal: Stream[] = [];
  for (let t = 0; t < seconds * 1000; t += 250) {
    urgent.push(send(vms[(t / 250) % 2], 'urgent'));
    if (t % 1000 === 500) normal.push(send(vms[Math.floor(t / 1000) % 2]));
    host.advance(250);
  }
  const count = (xs: Stream[]) => xs.filter(sent).length;
  return { urgent: count(urgent), normal: count(normal), normals: normal.length };
}

test('under a flood of urgent requests that never ends, normal ones are still served at their share of the releases (urgent 50%); with full shares they starve', () => {
  const shared = urgentFlood({}, 12);
  assert.ok(shared.normal >= shared.normals - 2, `${shared.normal} of ${shared.normals} normal requests served`);
  // The keys serve 2 a second: urgent keeps at least its half.
  assert.ok(shared.urgent >= 11, `${shared.urgent} urgent requests served`);
  const strict = urgentFlood(STRICT, 12);
  assert.equal(strict.normal, 0, 'with full shares a normal request was served during the flood');
});

test('release shares hold nothing back: with one priority waiting every refill goes to it, and with two every refill goes to one of them', () => {
  // Only urgent waiters: every refill goes to one at once.
  const { host, vms } = setup(config({ maxWaitMs: { urgent: 60_000 } }, 1));
  send(vms[0]);
  const urgent = Array.from({ length: 4 }, () => send(vms[0], 'urgent'));
  host.advance(4100);
  assert.equal(urgent.filter(sent).length, 4);
  // Urgent and normal waiters of one VM: the turns alternate, and no refill goes unused.
  const two = setup({ ...config({ maxWaitMs: { urgent: 60_000, normal: 10_000 } }, 1) });
  send(two.vms[0]);
  const u = Array.from({ length: 3 }, () => send(two.vms[0], 'urgent'));
  const n = send(two.vms[0]);
  two.host.advance(1050);
  assert.ok(sent(u[0]) || sent(n), 'the refill went to no one');
  two.host.advance(3100);
  assert.equal(u.filter(sent).length + (sent(n) ? 1 : 0), 4, 'a refill went unused');
});
