// Listings (`GET <pattern>` in `paths`, the model lists by default): a GET goes with a key of the
// pool, and nothing a listing's answer says counts against a key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import type { PluginConfig } from '../../envoy/config.js';
import { roundTrip } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const POOL_KEY = 'ai-token-failover:ai-token-failover:openai::pool';
const config = (extra: Record<string, unknown> = {}): PluginConfig => ({
  provider: {
    apiTokens: TOKENS,
    failover: { enabled: true, failureThreshold: 2, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
  },
  statusPath: '/status',
  statusToken: 'st',
  ...extra,
});

function setup(cfg: PluginConfig = config()) {
  const host = new Host();
  const vms = [host.createVm(), host.createVm()];
  for (const vm of vms) assert.equal(vm.configure(cfg)[0], true);
  return { host, vms };
}
const failures = (host: Host): number => (host.shared.text(POOL_KEY) ?? '').split(';').slice(1).reduce((n, e) => n + parseInt(e.split(',')[2], 16), 0);
const outCount = (host: Host): number => (host.shared.text(POOL_KEY) ?? '').split(';').slice(1).filter((e) => e.split(',')[1] === '1').length;

// The credential a request went out with (null: none), after answering it with `status`.
function send(vm: ReturnType<Host['createVm']>, method: string, path: string, status = 200): string | null {
  const s = vm.newStream();
  s.onRequestHeaders({ ':method': method, ':path': path, ':authority': 'api.example.com', authorization: 'Bearer client-own' }, true);
  const sent = s.requestHeaders.get('authorization') ?? null;
  s.forward();
  s.setProperty('response.code_details', 'via_upstream');
  s.onResponseHeaders({ ':status': String(status) }, true);
  s.finish();
  return sent;
}

test('GET of the model list and of one model goes with a key of the pool, chosen at random', () => {
  const { vms } = setup();
  const used = new Set<string | null>();
  for (let i = 0; i < 40; i++) used.add(send(vms[i % 2], 'GET', i % 2 ? '/v1/models' : '/v1/models/ft:gpt-4o:acme:x?limit=5'));
  for (const u of used) assert.ok(u != null && TOKENS.map((t) => `Bearer ${t}`).includes(u), String(u));
  assert.ok(used.size > 1, 'listings spread over the keys');
});

test('a listing\'s failures never count: 60 answers of 401, 429 and 503 take no key out', () => {
  const { host, vms } = setup();
  for (let i = 0; i < 60; i++) send(vms[i % 2], 'GET', '/v1/models', [401, 429, 503][i % 3]);
  assert.equal(failures(host), 0);
  assert.equal(outCount(host), 0);
  // An inference request's failures still count.
  for (let i = 0; i < 8; i++) send(vms[0], 'POST', '/v1/chat/completions', 401);
  assert.ok(failures(host) > 0);
});

test('another method, a dot segment, an escape or a backslash on a listing path gets no key', () => {
  const { vms } = setup();
  for (const [method, path] of [['POST', '/v1/models'], ['DELETE', '/v1/models/ft:gpt-4o:acme:x'], ['GET', '/v1/models/../files'],
    ['GET', '/v1/models/./x'], ['GET', '/v1/models/%2e%2e/files'], ['GET', '/v1/models/..%2ffiles'], ['GET', '/v1/models\\..\\files'],
    ['GET', '/v1/files'], ['GET', '/v1/modelsx']]) {
    assert.equal(send(vms[0], method, path), null, `${method} ${path}`);
  }
});

test('paths without a GET pattern have no listings; a method other than GET is refused naming the entry', () => {
  const { vms } = setup(config({ paths: ['*/chat/completions'] }));
  assert.equal(send(vms[0], 'GET', '/v1/models'), null);
  for (const bad of ['DELETE */models', 'GET models', 'GET  */models', 'GET */models?x']) {
    const host = new Host();
    const [ok] = host.createVm().configure(config({ paths: ['*/chat/completions', bad] }));
    assert.equal(ok, false, bad);
    const errors = host.logs.filter((l) => l.level >= 4);
    assert.equal(errors.length, 1);
    assert.match(errors[0].msg, /paths\[1\] must be a path pattern/);
  }
});

test('while the provider is failing and paced, listings go with a key and take no pace slot, and their 2xx ends nothing', () => {
  const { host, vms } = setup();
  for (const vm of vms) roundTrip(vm, () => ({ status: 200, body: '{}' }));
  const chat = (k: number) => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `question ${k}` }] });
  for (let k = 0; k < 40; k++) roundTrip(vms[k % 2], () => ({ status: 503 }), { body: chat(k) });
  assert.equal(statusOf(vms[0]).provider.state, 'failing');
  const list = { headers: { ':method': 'GET', ':path': '/v1/models' }, body: '' };
  for (let round = 0; round < 2; round++) {
    // Past the rest: the pace slot is free; 30 listings come first.
    host.advance(30_000);
    for (let k = 0; k < 30; k++) {
      const r = roundTrip(vms[k % 2], () => ({ status: 200, body: '{"object":"list","data":[]}' }), list);
      assert.ok(r.token != null && r.client.status === 200, 'a listing was answered by the plugin or went without a key');
    }
    assert.equal(statusOf(vms[1]).provider.state, 'failing', 'a listing\'s 2xx ended the outage');
    // The inference request still takes the slot.
    assert.notEqual(roundTrip(vms[round], () => ({ status: 503 }), { body: chat(100 + round) }).token, null, 'a listing took the pace slot');
  }
});
