// Where the plugin runs (upstreamFilter, statusOnly) and key affinity, inside the emulator. The
// upstream placement itself runs in Envoy (tests/e2e/upstream.test.ts): the emulator has no router.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { roundTrip, type Upstream } from '../host/gateway.js';
import type { PluginConfig } from '../../envoy/config.js';

const KEYS = ['sk-p1', 'sk-p2', 'sk-p3', 'sk-p4'];
const HC = { cluster: 'llm', authority: 'api.example.com', path: '/v1/chat/completions' };
const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });

function refusal(config: PluginConfig): string {
  const host = new Host();
  const [accepted] = host.createVm().configure(config);
  assert.equal(accepted, false);
  const lines = host.logs.filter((l) => l.level >= 4);
  assert.equal(lines.length, 1);
  return lines[0].msg;
}

test('what cannot work in the upstream placement is refused with one line naming the field', () => {
  const provider = { apiTokens: KEYS, failover: { enabled: true, healthCheckModel: 'm', healthCheck: HC } };
  assert.match(refusal({ upstreamFilter: true, provider: { ...provider, retryOnFailure: { enabled: true } } }),
    /provider\.retryOnFailure\.enabled must be false with upstreamFilter: use the route's retry_policy/);
  assert.match(refusal({ upstreamFilter: true, provider, queue: { enabled: true } }), /queue\.enabled must be false with upstreamFilter/);
  assert.match(refusal({ upstreamFilter: true, provider, statusPath: '/s', statusToken: 't' }), /statusPath cannot be answered by an upstream filter/);
  assert.match(refusal({ upstreamFilter: true, provider: { apiTokens: KEYS, failover: { enabled: true, healthCheckModel: 'm' } } }),
    /provider\.failover\.healthCheck needs cluster, authority and path with upstreamFilter/);
  assert.match(refusal({ statusOnly: true, provider }), /statusPath is required with statusOnly/);
  assert.match(refusal({ upstreamFilter: true, statusOnly: true, provider }), /statusOnly cannot be set with upstreamFilter/);
  assert.match(refusal({ affinity: { header: 'x user' }, provider }), /affinity\.header must be a header name/);
  const host = new Host();
  assert.equal(host.createVm().configure({ upstreamFilter: true, provider })[0], true, JSON.stringify(host.logs));
});

test('a status-only instance answers its path from the pool its VM keeps, and passes every other request untouched', () => {
  const host = new Host();
  const vm = host.createVm();
  const provider = { apiTokens: KEYS, failover: { enabled: true, healthCheckModel: 'm', healthCheck: HC } };
  assert.equal(vm.configure({ upstreamFilter: true, provider })[0], true);
  const [ok2, statusRoot] = vm.configure({ statusOnly: true, statusPath: '/status', statusToken: 'st', provider });
  assert.equal(ok2, true);
  assert.equal(statusRoot.tickPeriod, 0, 'a status-only instance does no background work');
  const s = vm.newStream(statusRoot);
  s.onRequestHeaders({ ':method': 'GET', ':path': '/status', ':authority': 'gw', authorization: 'Bearer st' }, true);
  assert.equal(s.localResponse?.status, 200);
  assert.equal(JSON.parse(s.localResponse!.body.toString()).tokensConfigured, 4);
  s.finish();
  const other = vm.newStream(statusRoot);
  other.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw', authorization: 'Bearer client' }, true);
  assert.equal(other.localResponse, null);
  assert.equal(other.requestHeaders.get('authorization'), 'Bearer client');
  other.finish();
});

test('affinity downstream: each consumer stays on one key; a key taken out moves only its consumers; a retry takes the consumer\'s next key', () => {
  const host = new Host();
  const vms = [host.createVm(), host.createVm()];
  const cfg = { affinity: { header: 'x-user-id' }, provider: { apiTokens: KEYS, failover: { enabled: true, failureThreshold: 1, healthCheckModel: 'm' },
    retryOnFailure: { enabled: true, maxRetries: 1 } } };
  for (const vm of vms) assert.equal(vm.configure(cfg)[0], true);
  const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
  const home = new Map<string, string>();
  for (let round = 0; round < 10; round++) {
    for (const u of users) {
      const r = roundTrip(vms[round % 2], ok, { headers: { 'x-user-id': u } });
      if (!home.has(u)) home.set(u, String(r.token));
      assert.equal(r.token, home.get(u), `${u} moved`);
    }
  }
  assert.ok(new Set(home.values()).size >= 3);
  const victim = home.get('u0')!;
  // The victim's consumer is retried on its next key, and the key is out after one failure.
  const dead: Upstream = (r) => (r.token === victim ? { status: 401, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  const first = roundTrip(vms[0], dead, { headers: { 'x-user-id': 'u0' } });
  assert.equal(first.client.status, 200);
  assert.equal(first.retries, 1);
  for (const u of users) {
    const r = roundTrip(vms[1], dead, { headers: { 'x-user-id': u } });
    if (home.get(u) === victim) assert.notEqual(r.token, victim);
    else assert.equal(r.token, home.get(u), `${u} moved though its key stayed`);
  }
  // Without the header: today's weighted random choice.
  const seen = new Set(Array.from({ length: 60 }, () => roundTrip(vms[0], ok).token));
  assert.ok(seen.size >= 2);
});
