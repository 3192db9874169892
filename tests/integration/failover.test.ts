// Failover inside the emulator: three VMs share the pool, time is virtual.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type PendingCall } from '../host/emulator.js';
import type { PluginConfig } from '../../envoy/config.js';
import { roundTrip, statusByToken, tokenOf, type Upstream } from '../host/gateway.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const failover = (extra: Record<string, unknown> = {}): PluginConfig => ({
  provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'probe-model', ...extra } },
});
const POOL_KEY = 'ai-token-failover:ai-token-failover:openai::pool';

function setup(config = failover(), vms = 3) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  for (const vm of list) assert.equal(vm.configure(config)[0], true);
  return { host, vms: list };
}

function poolEntries(host: Host): string[][] {
  const text = host.shared.text(POOL_KEY);
  assert.ok(text !== null, 'no pool record');
  return text.split(';').slice(1).map((e) => e.split(','));
}
const outCount = (host: Host): number => poolEntries(host).filter((f) => f[1] === '1').length;

test('a token answering 401 is out after its third failure and receives none of the next 200 requests', () => {
  const { host, vms } = setup();
  const upstream = statusByToken({ 'sk-b': 401 });
  let failures = 0;
  for (let i = 0; failures < 3 && i < 500; i++) if (roundTrip(vms[i % 3], upstream).token === 'sk-b') failures++;
  assert.equal(failures, 3);
  assert.equal(outCount(host), 1);
  for (let i = 0; i < 200; i++) assert.notEqual(roundTrip(vms[i % 3], upstream).token, 'sk-b');
});

test('a success resets the consecutive count', () => {
  const { host, vms } = setup();
  let flaky = 401;
  const upstream: Upstream = ({ token }) => ({ status: token === 'sk-a' ? flaky : 200 });
  const sendTo = (n: number) => { let sent = 0; while (sent < n) if (roundTrip(vms[0], upstream).token === 'sk-a') sent++; };
  sendTo(2);
  flaky = 200; sendTo(1);
  flaky = 401; sendTo(2);
  assert.equal(outCount(host), 0);
  sendTo(1);
  assert.equal(outCount(host), 1);
});

test('400, 404, 413 and 422 never take a token out; Envoy-generated 503s are not counted', () => {
  const { host, vms } = setup();
  for (const status of [400, 404, 413, 422]) for (let i = 0; i < 30; i++) roundTrip(vms[i % 3], () => ({ status }));
  for (let i = 0; i < 30; i++) roundTrip(vms[i % 3], () => ({ status: 503, local: true }));
  assert.equal(outCount(host), 0);
});

test('two VMs failing the same token at once: the CAS loop keeps both counts', () => {
  // Both requests name a model only sk-a serves, so both VMs choose it.
  const keys = [{ token: 'sk-a', models: ['gpt-*'] }, { token: 'sk-b', models: ['claude-*'] }];
  const { host, vms } = setup({ provider: { apiTokens: keys, failover: { enabled: true, failureThreshold: 2, maxEjectionPercent: 100, healthCheckInterval: 1000, healthCheckModel: 'm' } } });
  const body = '{"model":"gpt-4o","messages":[]}';
  // While VM0 writes its failure, VM1's failure of the same token lands first.
  host.shared.interleave(POOL_KEY, 'write', () => {
    const s = vms[1].newStream(vms[1].root, {}, { allowOnHeadersStopIteration: true });
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'a', authorization: 'x' }, false);
    s.onRequestBody(body, true);
    assert.equal(tokenOf(s.requestHeaders), 'sk-a');
    s.setProperty('response.code_details', 'via_upstream');
    s.onResponseHeaders({ ':status': '401' }, true);
    s.finish();
  });
  const first = roundTrip(vms[0], statusByToken({ 'sk-a': 401 }), { body });
  assert.equal(first.token, 'sk-a');
  const entries = poolEntries(host);
  assert.equal(parseInt(entries[0][2], 16), 2, 'one failure was lost');
  assert.equal(outCount(host), 1);
});

test('the lease holder alone probes, about once per interval, with max_tokens 1 to the last failure target', () => {
  const { host, vms } = setup();
  const probes: Array<{ vm: string; call: PendingCall }> = [];
  let i = 0;
  // 503: a tired key, probed every interval (a dead one, 401, is probed less and less often).
  while (outCount(host) === 0 && i++ < 100) roundTrip(vms[i % 3], statusByToken({ 'sk-c': 503 }), { props: { 'xds.cluster_name': 'llm', 'request.host': 'api.example.com', 'request.url_path': '/v1/chat/completions' } });
  assert.equal(outCount(host), 1);
  for (let t = 0; t < 10; t++) {
    host.advance(1000);
    for (const vm of vms) vm.answerCalls((call) => { probes.push({ vm: vm.name, call }); return { status: 503, body: '{}' }; });
  }
  assert.ok(probes.length >= 8 && probes.length <= 11, `probes: ${probes.length}`);
  assert.equal(new Set(probes.map((p) => p.vm)).size, 1, 'more than one VM probed');
  const { call } = probes[0];
  assert.equal(call.cluster, 'llm');
  assert.equal(call.headers.get(':authority'), 'api.example.com');
  assert.equal(call.headers.get(':path'), '/v1/chat/completions');
  assert.equal(tokenOf(call.headers), 'sk-c');
  const body = JSON.parse(call.body.toString());
  assert.equal(body.max_tokens, 1);
  assert.equal(body.model, 'probe-model');
  // It heals: the next probe succeeds and the token is back within two intervals.
  host.advance(1000);
  for (const vm of vms) vm.answerCalls(() => ({ status: 200, body: '{}' }));
  host.advance(1000);
  assert.equal(outCount(host), 0);
});

test('the lease moves to another VM when its holder stops ticking', () => {
  const { host, vms } = setup();
  let i = 0;
  while (outCount(host) === 0 && i++ < 100) roundTrip(vms[i % 3], statusByToken({ 'sk-a': 401 }));
  const probers = () => {
    const seen = new Set();
    for (const vm of vms) { if (vm.calls().length) seen.add(vm.name); vm.answerCalls(() => ({ status: 401 })); }
    return seen;
  };
  host.advance(1000);
  const [holder] = probers();
  assert.ok(holder);
  const holderVm = vms.find((v) => v.name === holder);
  assert.ok(holderVm);
  holderVm.root.stopped = true;
  const after = new Set();
  for (let t = 0; t < 6; t++) { host.advance(1000); for (const n of probers()) after.add(n); }
  assert.ok(after.size >= 1 && !after.has(holder), `probers after the holder stopped: ${[...after]}`);
});

test('at most 4 probes are in flight at once', () => {
  const tokens = Array.from({ length: 10 }, (_, k) => `sk-${k}`);
  const failover = { enabled: true, failureThreshold: 1, maxEjectionPercent: 100, healthCheckInterval: 1000, healthCheckModel: 'm', healthCheck: { cluster: 'llm' } };
  const { host, vms } = setup({ provider: { apiTokens: tokens, failover } }, 1);
  for (let k = 0; k < 200 && outCount(host) < 10; k++) roundTrip(vms[0], () => ({ status: 401 }));
  assert.equal(outCount(host), 10);
  host.advance(1000);
  assert.equal(vms[0].calls().length, 4);
  host.advance(1000);
  assert.equal(vms[0].calls().length, 4);
});

test('a 429 with Retry-After takes the token out at once until then, with no probe in between', () => {
  const { host, vms } = setup();
  const upstream = statusByToken({ 'sk-d': 429 }, { 'sk-d': { headers: { 'retry-after': '2' } } });
  let i = 0;
  while (outCount(host) === 0 && i++ < 100) roundTrip(vms[i % 3], upstream);
  assert.ok(i < 100);
  let probes = 0;
  host.advance(1000);
  for (const vm of vms) { probes += vm.calls().length; vm.answerCalls(() => ({ status: 200 })); }
  assert.equal(outCount(host), 1);
  host.advance(1000);
  for (const vm of vms) { probes += vm.calls().length; vm.answerCalls(() => ({ status: 200 })); }
  host.advance(1000);
  assert.equal(probes, 0);
  assert.equal(outCount(host), 0);
});

test('cooldownDuration brings a token back by itself', () => {
  const { host, vms } = setup({ provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 500, cooldownDuration: 3000 } } });
  let i = 0;
  while (outCount(host) === 0 && i++ < 100) roundTrip(vms[0], statusByToken({ 'sk-a': 403 }));
  host.advance(2000);
  assert.equal(outCount(host), 1);
  host.advance(1500);
  assert.equal(outCount(host), 0);
  for (const vm of vms) assert.equal(vm.calls().length, 0);
});

test('401 from every key takes out at most half; every request carries a token; all return once healed', () => {
  const { host, vms } = setup();
  let answer = 401;
  const upstream = () => ({ status: answer });
  for (let k = 0; k < 40; k++) assert.ok(TOKENS.includes(roundTrip(vms[k % 3], upstream).token ?? ''));
  assert.equal(outCount(host), 2, 'passive evidence took out more than half of the keys');
  answer = 200;
  // The keys left in serve again, which shows the prober where requests succeed.
  for (let k = 0; k < 6; k++) roundTrip(vms[k % 3], upstream);
  host.advance(1000);
  for (const vm of vms) vm.answerCalls(upstream);
  host.advance(1000);
  assert.equal(outCount(host), 0);
});

test('a body failure condition counts a 200 that says "No quota available"', () => {
  const { host, vms } = setup(failover({ failureThreshold: 1, failureConditions: [{ status: ['200'], body: 'No quota available' }] }));
  for (let k = 0; k < 20 && outCount(host) === 0; k++) roundTrip(vms[0], ({ token }) => ({ status: 200, body: token === 'sk-b' ? '{"error":"No quota available"}' : '{}' }));
  const out = poolEntries(host).filter((f) => f[1] === '1');
  assert.equal(out.length, 1);
});

test('a header failure condition counts a 403 carrying x-failure: true', () => {
  const { host, vms } = setup(failover({ failureThreshold: 1, failoverOnStatus: ['5..'], failureConditions: [{ status: ['403'], headers: ['x-failure=true'] }] }));
  for (let k = 0; k < 20; k++) roundTrip(vms[0], () => ({ status: 403 }));
  assert.equal(outCount(host), 0);
  roundTrip(vms[0], () => ({ status: 403, headers: { 'x-failure': 'true' } }));
  assert.equal(outCount(host), 1);
});

test('a reload keeps the state of configured tokens and brings new ones into use', () => {
  const { host, vms } = setup();
  let i = 0;
  while (outCount(host) === 0 && i++ < 100) roundTrip(vms[0], statusByToken({ 'sk-a': 401 }));
  const reloaded: PluginConfig = { provider: { ...failover().provider, apiTokens: [...TOKENS, 'sk-e'] } };
  for (const vm of vms) assert.equal(vm.configure(reloaded)[0], true);
  const seen = new Set();
  for (let k = 0; k < 200; k++) seen.add(roundTrip(vms[k % 3], statusByToken({ 'sk-a': 401 })).token);
  assert.ok(!seen.has('sk-a'));
  assert.ok(seen.has('sk-e'));
});

test('success path: exactly one shared-data read and no write per request', () => {
  const { host, vms } = setup();
  roundTrip(vms[0], () => ({ status: 200 }));
  const reads = host.shared.reads, writes = host.shared.writes;
  for (let k = 0; k < 50; k++) roundTrip(vms[0], () => ({ status: 200 }));
  assert.equal(host.shared.reads - reads, 50);
  assert.equal(host.shared.writes - writes, 0);
});

test('no log line names a raw token', () => {
  const { host, vms } = setup();
  for (let k = 0; k < 60; k++) roundTrip(vms[k % 3], statusByToken({ 'sk-a': 401, 'sk-b': 429 }));
  host.advance(3000);
  for (const vm of vms) vm.answerCalls(() => ({ status: 200 }));
  assert.ok(host.logs.length > 0);
  for (const l of host.logs) for (const t of TOKENS) assert.ok(!l.msg.includes(t), l.msg);
});
