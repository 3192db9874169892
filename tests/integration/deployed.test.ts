// What real deployments have, inside the emulator: rewriting routes, many dead keys, body rules
// on every attempt, compressed and huge answers, Envoy's own replies, and the smaller edges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type PendingCall, type Route, type Vm } from '../host/emulator.js';
import { CHAT, roundTrip, statusByToken, tokenOf, type Upstream, type UpstreamAnswer } from '../host/gateway.js';
import type { Headers } from '../host/header_map.js';
import { parseStatus } from '../host/status_document.js';
import type { PluginConfig, ProviderConfig } from '../../envoy/config.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const POOL_KEY = 'ai-token-failover:ai-token-failover:openai::pool';
const POOL_METRIC = 'ai_token_failover.pool.ai-token-failover:openai.';
const ROUTE: Route = { hostRewrite: 'api.provider.test', prefixRewrite: ['/openai/v1/', '/v1/'], headersToAdd: { 'x-route-added': 'yes' } };
const CLIENT_PATH = { ':path': '/openai/v1/chat/completions?api-version=1', ':authority': 'gateway.example' };

interface ConfigOptions { failover?: Record<string, unknown>; retry?: Record<string, unknown> | null; tokens?: string[] }

function config({ failover = {}, retry = null, tokens = TOKENS }: ConfigOptions = {}): PluginConfig & { provider: ProviderConfig } {
  return {
    provider: {
      apiTokens: tokens,
      failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'm', ...failover },
      ...(retry ? { retryOnFailure: { enabled: true, ...retry } } : {}),
    },
  };
}

function setup(cfg: PluginConfig, vms = 3) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  for (const vm of list) assert.equal(vm.configure(cfg)[0], true);
  return { host, vms: list };
}

const entries = (host: Host): string[][] => (host.shared.text(POOL_KEY) ?? assert.fail('no pool record')).split(';').slice(1).map((e) => e.split(','));
const outCount = (host: Host): number => entries(host).filter((f) => f[1] === '1').length;
const calls = (vms: Vm[]): PendingCall[] => vms.flatMap((vm) => vm.calls());

test('probes go where the route sent a successful request: rewritten host and path (no query), route headers only', () => {
  const { host, vms } = setup(config({ failover: { failureThreshold: 1 } }));
  for (let i = 0; i < 50 && outCount(host) === 0; i++) {
    roundTrip(vms[i % 3], statusByToken({ 'sk-b': 401 }), { headers: { ...CLIENT_PATH, 'x-client-header': 'evil' }, route: ROUTE });
  }
  assert.equal(outCount(host), 1);
  // Normal traffic goes on; its successes show where probes go.
  for (let i = 0; i < 3; i++) roundTrip(vms[i % 3], statusByToken({ 'sk-b': 401 }), { headers: { ...CLIENT_PATH, 'x-client-header': 'evil' }, route: ROUTE });
  host.advance(1000);
  const [probe] = calls(vms);
  assert.ok(probe, 'no probe sent');
  assert.equal(probe.cluster, 'llm');
  assert.equal(probe.headers.get(':authority'), 'api.provider.test');
  assert.equal(probe.headers.get(':path'), '/v1/chat/completions');
  assert.equal(probe.headers.get('x-route-added'), 'yes');
  assert.equal(probe.headers.get('x-envoy-original-path'), null);
  assert.equal(probe.headers.get('x-client-header'), null, 'a client header rode along in a probe');
  assert.equal(tokenOf(probe.headers), 'sk-b');
});

test('retries go where the route sends requests once a VM has seen one; before that only a success counts', () => {
  const { host, vms } = setup(config({ retry: { maxRetries: 1 } }), 1);
  const seen: Headers[] = [];
  let firstRequest = true;
  const provider: Upstream = ({ token, headers, call }) => {
    if (call) seen.push(headers);
    const routed = headers.get(':authority') === 'api.provider.test' && (headers.get(':path') ?? '').startsWith('/v1/');
    if (!routed) return { status: 404, body: '{"error":"no such path"}' };
    if (!call && firstRequest) { firstRequest = false; return { status: 503, body: '{"error":"busy"}' }; }
    return token === 'sk-a' ? { status: 401, body: '{"error":"dead"}' } : { status: 200, body: '{"ok":true}' };
  };
  // The VM's first request of the route fails; its retry goes as the client sent it: misrouted.
  const first = roundTrip(vms[0], provider, { headers: CLIENT_PATH, route: ROUTE });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].get(':path'), '/openai/v1/chat/completions?api-version=1');
  assert.equal(first.client.status, 503, 'a misrouted retry answer reached the client');
  const counts = entries(host).map((f) => parseInt(f[2], 16));
  // The misrouted 404 proves nothing, so nothing contradicts the 503 being the provider's: neither counts.
  assert.equal(counts.reduce((a, b) => a + b, 0), 0, 'the misrouted 404 or the lone 503 was counted');
  // The route is learned from that request's log: later retries are sent as the router sends.
  seen.length = 0;
  for (let i = 0; i < 200 && seen.length < 2; i++) {
    const r = roundTrip(vms[0], provider, { headers: CLIENT_PATH, route: ROUTE });
    assert.equal(r.client.status, 200);
  }
  assert.equal(seen.length, 2);
  for (const h of seen) {
    assert.equal(h.get(':authority'), 'api.provider.test');
    assert.equal(h.get(':path'), '/v1/chat/completions?api-version=1');
    assert.equal(h.get('x-route-added'), 'yes');
    assert.equal(h.get('x-envoy-original-host'), null);
  }
});

test('a reply a later filter makes before the router does not teach the route', () => {
  const { host, vms } = setup(config({ retry: { maxRetries: 1 } }), 1);
  const rejected = vms[0].newStream(vms[0].root, { 'response.code_details': 'request_payload_too_large' }, { route: ROUTE, reachesRouter: false });
  rejected.onRequestHeaders({ ':method': 'POST', ':authority': 'gateway.example', ':path': '/openai/v1/chat/completions?api-version=1', authorization: 'Bearer c' }, false);
  rejected.onRequestBody('{"model":"m"}', true);
  rejected.onResponseHeaders({ ':status': '413' }, true);
  rejected.finish();
  const seen: Headers[] = [];
  const provider: Upstream = ({ call, headers }) => {
    if (call) seen.push(headers);
    if (headers.get(':authority') !== 'api.provider.test') return { status: 401, body: '{"error":"unknown host"}' };
    return call ? { status: 200, body: '{}' } : { status: 503, body: '{}' };
  };
  const r = roundTrip(vms[0], provider, { headers: CLIENT_PATH, route: ROUTE });
  // Still unlearned: the retry went as the client sent it and its 401 was not charged to its key
  // (an identity shape learned from the 413 would have charged it).
  assert.equal(seen.length, 1);
  assert.equal(seen[0].get(':authority'), 'gateway.example');
  assert.equal(r.client.status, 503);
  // The lone 503 is not the key's either: nothing shows that another key works.
  const failures = entries(host).reduce((n, f) => n + parseInt(f[2], 16), 0);
  assert.equal(failures, 0);
  roundTrip(vms[0], provider, { headers: CLIENT_PATH, route: ROUTE });
  assert.equal(seen[1].get(':authority'), 'api.provider.test');
  assert.equal(seen[1].get(':path'), '/v1/chat/completions?api-version=1');
});

test('20 keys, the 8 lowest failing (503: tired, probed at the normal pace): each is probed at least once every 3 intervals; a healed one is back within 4', () => {
  const tokens = Array.from({ length: 20 }, (_, i) => `sk-${String(i).padStart(2, '0')}`);
  const dead = new Set(tokens.slice(0, 8));
  const { host, vms } = setup(config({ tokens, failover: { failureThreshold: 1 } }));
  const answer = (token: string | null): UpstreamAnswer => (dead.has(token ?? '') ? { status: 503, body: '{}' } : { status: 200, body: '{}' });
  for (let i = 0; i < 2000 && outCount(host) < 8; i++) roundTrip(vms[i % 3], ({ token }) => answer(token));
  assert.equal(outCount(host), 8);
  const lastProbe = new Map<string | null, number>();
  let maxGap = 0;
  for (let tick = 1; tick <= 12; tick++) {
    host.advance(1000);
    for (const vm of vms) vm.answerCalls((call) => { lastProbe.set(tokenOf(call.headers), tick); return answer(tokenOf(call.headers)); });
    for (const t of dead) maxGap = Math.max(maxGap, tick - (lastProbe.get(t) ?? 0));
  }
  assert.ok(maxGap <= 3, `a dead key went ${maxGap} intervals without a probe`);
  dead.delete('sk-06');
  let back = 0;
  for (let tick = 1; tick <= 4 && !back; tick++) {
    host.advance(1000);
    for (const vm of vms) vm.answerCalls((call) => answer(tokenOf(call.headers)));
    if (entries(host).filter((f) => f[1] === '1').length === 7) back = tick;
  }
  assert.ok(back > 0 && back <= 4, 'the healed key did not come back within 4 intervals');
});

for (const allowOnHeadersStopIteration of [true, false]) {
  test(`a body verdict reaches only its own attempt: every key 403 insufficient_quota ejects keys (allow_on_headers_stop_iteration ${allowOnHeadersStopIteration})`, () => {
    const { host, vms } = setup(config({
      failover: { failureThreshold: 2, maxEjectionPercent: 100, failoverOnStatus: ['401', '5..'], failureConditions: [{ status: ['403'], body: 'insufficient_quota' }] },
      retry: { maxRetries: 1 },
    }));
    const quota = () => ({ status: 403, body: '{"error":{"type":"insufficient_quota"}}' });
    for (let i = 0; i < 40; i++) {
      const r = roundTrip(vms[i % 3], quota, { allowOnHeadersStopIteration });
      assert.equal(r.client.status, 403);
    }
    // Without the option a held first answer's body is never shown to the plugin, so once every
    // other key is out, the last key's own answers are retried away unjudged (its retries still count).
    if (allowOnHeadersStopIteration) assert.equal(outCount(host), 4);
    else assert.ok(outCount(host) >= 3, `only ${outCount(host)} keys out`);
    // No attempt's failure was ever reset by a verdict meant for another.
    for (const f of entries(host).filter((e) => e[1] === '1')) assert.ok(parseInt(f[2], 16) >= 2, 'a failure was reset');
  });
}

test('with allow_on_headers_stop_iteration the held failure body is judged for the first key', () => {
  const { host, vms } = setup(config({
    failover: { failureThreshold: 1, failoverOnStatus: ['401'], failureConditions: [{ status: ['429'], body: 'insufficient_quota' }] },
    retry: { maxRetries: 1 },
  }));
  let first = null;
  const upstream: Upstream = ({ token, call }) => {
    if (!call) first = token;
    return call ? { status: 200, body: '{"ok":1}' } : { status: 429, body: '{"error":"insufficient_quota"}' };
  };
  const r = roundTrip(vms[0], upstream, { allowOnHeadersStopIteration: true });
  assert.equal(r.client.status, 200);
  const out = entries(host).filter((f) => f[1] === '1');
  assert.equal(out.length, 1, 'the first key was not ejected by its own body');
  assert.equal(outCount(host), 1);
  assert.ok(first);
});

test('a retry answer over the limit is never cut: the client gets the provider\'s original failure', () => {
  const { host, vms } = setup(config({ retry: { maxRetries: 1 } }), 1);
  const big = 'x'.repeat(5 * 1024 * 1024);
  const r = roundTrip(vms[0], ({ call }) => (call ? { status: 200, body: big } : { status: 503, body: '{"error":"overloaded"}' }));
  assert.equal(r.client.status, 503);
  assert.equal(r.client.body, '{"error":"overloaded"}');
  assert.equal(host.metric(POOL_METRIC + 'retries.exhausted'), 1);
});

test('with a body rule the provider is asked for identity encoding, and a compressed answer is not judged', () => {
  const { host, vms } = setup(config({ failover: { failureThreshold: 1, failureConditions: [{ status: ['200'], body: 'No quota' }] } }), 1);
  const sent: Array<string | null> = [];
  for (let i = 0; i < 30; i++) {
    roundTrip(vms[0], ({ headers }) => { sent.push(headers.get('accept-encoding')); return { status: 200, headers: { 'content-encoding': 'gzip' }, body: 'No quota (pretend this is gzip)' }; },
      { headers: { 'accept-encoding': 'gzip, br' } });
  }
  assert.ok(sent.every((v) => v === 'identity'));
  assert.equal(outCount(host), 0);
});

test('Envoy\'s own replies (a later filter\'s 413) neither count nor reset a key\'s failures', () => {
  const { host, vms } = setup(config(), 1);
  const failuresOf = () => parseInt(entries(host)[0][2], 16);
  // The other keys' successes show the provider works, so sk-a's 500s are its own.
  for (let i = 0; i < 200 && failuresOf() < 2; i++) roundTrip(vms[0], statusByToken({ 'sk-a': 500 }));
  assert.equal(failuresOf(), 2);
  for (let i = 0; i < 40; i++) {
    const s = vms[0].newStream();
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'a' }, true);
    s.setProperty('response.code_details', 'request_payload_too_large');
    s.onResponseHeaders({ ':status': '413' }, true);
    s.finish();
  }
  assert.equal(failuresOf(), 2);
});

test('a retry answer that arrives after the client left still reaches the plugin and counts for its key: the call belongs to the root context', () => {
  const { host, vms } = setup(config({ retry: { maxRetries: 1 } }), 1);
  // Successes teach the route first: an attempt on an unlearned route proves nothing but a success.
  for (let i = 0; i < 4; i++) roundTrip(vms[0], () => ({ status: 200 }));
  const s = vms[0].newStream();
  s.onRequestHeaders({ ...CHAT }, false);
  s.onRequestBody('{"model":"m"}', true);
  s.setProperty('response.code_details', 'via_upstream');
  assert.equal(s.onResponseHeaders({ ':status': '503' }, false), 1);
  const [call] = vms[0].calls();
  const retried = TOKENS.indexOf(tokenOf(call.headers) ?? '');
  s.finish();
  assert.equal(vms[0].calls().length, 1, 'the retry call ended with the stream');
  vms[0].answerCalls(() => ({ status: 401, body: '{"error":"invalid key"}' }));
  assert.equal(vms[0].calls().length, 0);
  assert.equal(parseInt(entries(host)[retried][2], 16), 1);
});

test('a probe to a cluster Envoy does not know is refused (BadArgument): one warning, and the key stays out', () => {
  const cfg = config({ failover: { failureThreshold: 1, healthCheck: { cluster: 'no-such-cluster', authority: 'api', path: '/v1/chat/completions' } } });
  const { host, vms } = setup(cfg, 1);
  for (let i = 0; i < 100 && outCount(host) === 0; i++) roundTrip(vms[0], statusByToken({ 'sk-b': 401 }));
  // The probe that would judge the key cannot go, so the key leaves as it would without probes.
  assert.equal(outCount(host), 1);
  assert.ok(host.logs.some((l) => /taken out of the pool \(status 401, its probe could not be sent\)/.test(l.msg)));
  host.advance(1000);
  assert.equal(vms[0].calls().length, 0);
  // One warning for that probe, one for the tick's probe of the key that is out.
  const warnings = host.logs.filter((l) => l.msg.includes('could not be sent to cluster no-such-cluster'));
  assert.equal(warnings.length, 2, host.logs.map((l) => l.msg).join('\n'));
  assert.equal(outCount(host), 1);
});

test('shared data is scoped by vm_id: VMs of another vm_id keep their own pool', () => {
  const host = new Host();
  const a = host.createVm('a', 'pool-one');
  const b = host.createVm('b', 'pool-two');
  for (const vm of [a, b]) assert.equal(vm.configure(config({ failover: { failureThreshold: 1 } }))[0], true);
  for (let i = 0; i < 100; i++) roundTrip(a, statusByToken({ 'sk-c': 401 }));
  const served = (vm: Vm): Set<string | null> => new Set(Array.from({ length: 60 }, () => roundTrip(vm, () => ({ status: 200 })).token));
  assert.ok(!served(a).has('sk-c'), 'the key taken out under pool-one still served there');
  assert.ok(served(b).has('sk-c'), 'pool-two lost a key it never saw fail');
});

test('two pools in one process have their own in-pool gauge and retry counters', () => {
  const host = new Host();
  const vm = host.createVm();
  const a = config({ retry: {} });
  a.provider.id = 'one';
  const b = config({ tokens: ['sk-x', 'sk-y'], retry: {} });
  b.provider.id = 'two';
  const [, rootA] = vm.configure(a);
  vm.configure(b);
  host.advance(1000);
  assert.equal(host.metric('ai_token_failover.pool.ai-token-failover:openai:one.tokens_in_pool'), 4);
  assert.equal(host.metric('ai_token_failover.pool.ai-token-failover:openai:two.tokens_in_pool'), 2);
  vm.root = rootA;
  for (let i = 0; i < 20; i++) roundTrip(vm, statusByToken({ 'sk-a': 503 }));
  assert.ok(host.metric('ai_token_failover.pool.ai-token-failover:openai:one.retries.attempted') > 0);
  assert.equal(host.metric('ai_token_failover.pool.ai-token-failover:openai:two.retries.attempted'), 0);
});

test('two VMs creating the lease at the same moment: only one holds it', () => {
  const { host, vms } = setup(config(), 2);
  const leaseKey = 'ai-token-failover:ai-token-failover:openai::lease';
  host.shared.delete(leaseKey);
  // VM1 takes the lease between VM0's read (missing) and VM0's write.
  host.shared.interleave(leaseKey, 'read', () => vms[1].tick(vms[1].root));
  vms[0].tick(vms[0].root);
  const holder = (host.shared.text(leaseKey) ?? assert.fail('no lease')).split(' ')[0];
  assert.ok(holder.endsWith(`:${vms[1].root.id}`), 'the second creator overwrote the first');
});

test('a key whose Retry-After has passed serves at once and shows as in, before any tick', () => {
  const cfg = config({ failover: { healthCheckInterval: 60_000 } });
  cfg.statusPath = '/status';
  cfg.statusToken = 'st';
  const { host, vms } = setup(cfg, 1);
  const upstream = statusByToken({ 'sk-c': 429 }, { 'sk-c': { headers: { 'retry-after': '2' } } });
  for (let i = 0; i < 100 && outCount(host) === 0; i++) roundTrip(vms[0], upstream);
  assert.equal(outCount(host), 1);
  host.nowMs += 2500; // no tick runs: the interval is a minute
  const s = vms[0].newStream();
  s.onRequestHeaders({ ':method': 'GET', ':path': '/status', ':authority': 'gw', authorization: 'Bearer st' }, true);
  assert.ok(s.localResponse, 'no status answer');
  const doc = parseStatus(s.localResponse.body.toString());
  s.finish();
  assert.equal(doc.tokensInPool, 4);
  assert.ok(doc.tokens.every((t) => t.state === 'in' && t.inPool));
  const seen = new Set();
  for (let i = 0; i < 60; i++) seen.add(roundTrip(vms[0], () => ({ status: 200 })).token);
  assert.ok(seen.has('sk-c'));
});

test('the in-pool gauge drops with the ejection, not a tick later', () => {
  const { host, vms } = setup(config({ failover: { healthCheckInterval: 60_000 } }), 1);
  for (let i = 0; i < 100 && outCount(host) === 0; i++) roundTrip(vms[0], statusByToken({ 'sk-d': 401 }));
  assert.equal(outCount(host), 1);
  assert.equal(host.metric(POOL_METRIC + 'tokens_in_pool'), 3);
});

test('a probe answered 429 with Retry-After makes the key wait, with no probe before then', () => {
  const { host, vms } = setup(config({ failover: { failureThreshold: 1 } }), 1);
  for (let i = 0; i < 100 && outCount(host) === 0; i++) roundTrip(vms[0], statusByToken({ 'sk-b': 401 }));
  for (let i = 0; i < 4; i++) roundTrip(vms[0], statusByToken({ 'sk-b': 401 })); // successes show where probes go
  host.advance(1000);
  vms[0].answerCalls(() => ({ status: 429, headers: { 'retry-after': '5' }, body: '{}' }));
  const f = entries(host).find((e) => e[1] === '1');
  assert.ok(f, 'no key is out');
  assert.ok(parseInt(f[5], 16) > 0, 'the key is not waiting for a time');
  let probes = 0;
  for (let t = 0; t < 3; t++) { host.advance(1000); probes += vms[0].calls().length; vms[0].answerCalls(() => ({ status: 200 })); }
  assert.equal(probes, 0);
});

test('every key out: the one whose Retry-After ends first is used before one out longer but only probed', () => {
  const { host, vms } = setup(config({ failover: { failureThreshold: 1, healthCheckInterval: 5000 } }), 1);
  // sk-a goes out first (probed), the others are benched with Retry-After: sk-b for 1 s, sk-c and sk-d for an hour.
  const answers: Record<string, UpstreamAnswer> = { 'sk-a': { status: 401 }, 'sk-b': { status: 429, headers: { 'retry-after': '1' } }, 'sk-c': { status: 429, headers: { 'retry-after': '3600' } }, 'sk-d': { status: 429, headers: { 'retry-after': '3600' } } };
  const order = ['sk-a', 'sk-c', 'sk-d', 'sk-b'];
  for (const t of order) {
    for (let i = 0; i < 200; i++) {
      const r = roundTrip(vms[0], ({ token }) => (token === t ? answers[t] : { status: 200 }));
      if (r.token === t) break;
    }
    host.nowMs += 10;
  }
  assert.equal(outCount(host), 4);
  const r = roundTrip(vms[0], () => ({ status: 200 }));
  assert.equal(r.token, 'sk-b');
});

test('a route one VM has learned is known to the others: their first retries go the way the router sends', () => {
  const { host, vms } = setup(config({ retry: { maxRetries: 1 } }), 2);
  const retries: Headers[] = [];
  const provider: Upstream = ({ token, headers, call }) => {
    if (call) retries.push(headers);
    return token === 'sk-a' ? { status: 401, body: '{}' } : { status: 200, body: '{}' };
  };
  // VM 0 learns the route from one successful request.
  for (let i = 0; i < 50; i++) {
    const r = roundTrip(vms[0], provider, { headers: CLIENT_PATH, route: ROUTE });
    if (r.token !== 'sk-a') break;
  }
  // (VM 0's own first request may have been retried before the route was known.)
  retries.length = 0;
  const learnWrites = host.shared.writes;
  // VM 1 has served nothing: its first failing request is retried with the route's shape.
  for (let i = 0; i < 100 && retries.length === 0; i++) roundTrip(vms[1], provider, { headers: CLIENT_PATH, route: ROUTE });
  assert.equal(retries.length, 1);
  assert.equal(retries[0].get(':authority'), 'api.provider.test');
  assert.equal(retries[0].get(':path'), '/v1/chat/completions?api-version=1');
  assert.equal(retries[0].get('x-route-added'), 'yes');
  assert.ok(host.shared.writes > learnWrites, 'the failure was counted');
});

test('a shared record of another version is ignored, never misread: one warning per VM, and the pool is rebuilt in this version', () => {
  const host = new Host();
  host.shared.set(POOL_KEY, '9;' + TOKENS.map((_, k) => `${k},1,ff,0,0,0,0`).join(';'), 0);
  const vm = host.createVm();
  assert.equal(vm.configure(config({ failover: { failureThreshold: 1 } }))[0], true);
  const served = new Set<string | null>();
  for (let i = 0; i < 40; i++) served.add(roundTrip(vm, statusByToken({ 'sk-d': 401 })).token);
  // The foreign record's "every key out" was not read: every key served.
  assert.deepEqual([...served].sort(), TOKENS);
  const warnings = host.logs.filter((l) => l.msg.includes('ignoring a shared pool record of version 9'));
  assert.equal(warnings.length, 1, host.logs.map((l) => l.msg).join('\n'));
  assert.ok((host.shared.text(POOL_KEY) ?? '').startsWith('1;'));
  assert.equal(outCount(host), 1);
});
