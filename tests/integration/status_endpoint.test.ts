// The status endpoint inside the emulator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type LocalResponse, type Stream, type Vm } from '../host/emulator.js';
import { fingerprint } from '../host/fingerprint.js';
import { roundTrip, statusByToken } from '../host/gateway.js';
import { keyStatus, parseStatus } from '../host/status_document.js';

const TOKENS = ['sk-st-a', 'sk-st-b', 'sk-st-c'];
const config = {
  statusPath: '/ai-token-failover/status',
  statusToken: 'status-secret',
  provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 1000, healthCheckModel: 'm' } },
};

function ask(vm: Vm, headers: Record<string, string>): { action: number; response: LocalResponse; stream: Stream } {
  const s = vm.newStream();
  const action = s.onRequestHeaders({ ':method': 'GET', ':path': '/ai-token-failover/status', ':authority': 'gw', ...headers }, true);
  assert.ok(s.localResponse, 'the status path got no local response');
  return { action, response: s.localResponse, stream: s };
}

test('answers 401 without the bearer token and never lets the request through', () => {
  const host = new Host();
  const vm = host.createVm();
  vm.configure(config);
  const attempts: Array<{ authorization?: string }> = [{}, { authorization: 'Bearer wrong' }, { authorization: 'status-secret' }];
  for (const headers of attempts) {
    const { action, response, stream } = ask(vm, headers.authorization === undefined ? {} : { authorization: headers.authorization });
    assert.equal(action, 1);
    assert.equal(response.status, 401);
    assert.equal(stream.requestHeaders.get('authorization'), headers.authorization ?? null, 'a pool token was injected');
  }
});

test('reports every token by fingerprint with its state, the lease and the configuration; no raw token', () => {
  const host = new Host();
  const vms = [host.createVm(), host.createVm()];
  for (const vm of vms) vm.configure(config);
  for (let i = 0; i < 30; i++) roundTrip(vms[i % 2], statusByToken({ 'sk-st-b': 401 }));
  host.advance(1000);
  const { response } = ask(vms[0], { authorization: 'Bearer status-secret' });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/json');
  const text = response.body.toString();
  for (const t of TOKENS) assert.ok(!text.includes(t), 'raw token in the status document');
  const doc = parseStatus(text);
  assert.equal(doc.tokensConfigured, 3);
  assert.equal(doc.tokensInPool, 2);
  assert.equal(doc.failover.failureThreshold, 1);
  assert.ok(doc.lease && typeof doc.lease.holder === 'string');
  const b = keyStatus(doc, fingerprint(1, 'sk-st-b'));
  assert.equal(b.inPool, false);
  // Out on 401: dead (probed at a growing interval), not tired.
  assert.equal(b.state, 'dead');
  assert.equal(b.lastStatus, 401);
  assert.ok((b.outForMs ?? 0) >= 1000);
  assert.equal(keyStatus(doc, fingerprint(0, 'sk-st-a')).inPool, true);
});

test('other paths and a query string behave as expected', () => {
  const host = new Host();
  const vm = host.createVm();
  vm.configure(config);
  const s = vm.newStream();
  assert.equal(s.onRequestHeaders({ ':method': 'GET', ':path': '/v1/models', ':authority': 'gw' }, true), 0);
  assert.equal(s.localResponse, null);
  const q = ask(vm, { ':path': '/ai-token-failover/status?x=1', authorization: 'Bearer status-secret' });
  assert.equal(q.response.status, 200);
});

test('statusPath without statusToken is refused', () => {
  const host = new Host();
  const [ok] = host.createVm().configure({ statusPath: '/s', provider: { apiTokens: ['a'] } });
  assert.equal(ok, false);
  assert.match(host.logs.at(-1)?.msg ?? '', /invalid config: statusToken is required with statusPath/);
});
