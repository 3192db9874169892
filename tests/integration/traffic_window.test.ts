// Per key, requests and counted failures over the last minute in the status document, for the
// whole process: read from the counters every worker adds to (as Envoy keeps one stat per name).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { roundTrip, statusByToken } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';

const TOKENS = ['sk-t-a', 'sk-t-b', 'sk-t-c'];
const cfg = {
  statusPath: '/status', statusToken: 'st',
  provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 100, healthCheckInterval: 1000, healthCheckModel: 'm' } },
};

test('the status document counts every worker\'s requests and counted failures of the last minute, per key', () => {
  const host = new Host();
  const vms = [host.createVm(), host.createVm()];
  for (const vm of vms) assert.equal(vm.configure(cfg)[0], true);
  const sent = new Map<string, number>();
  const failed = new Map<string, number>();
  host.advance(5000);
  for (let i = 0; i < 60; i++) {
    const r = roundTrip(vms[i % 2], statusByToken({ 'sk-t-c': 401 }));
    sent.set(r.token!, (sent.get(r.token!) ?? 0) + 1);
    if (r.token === 'sk-t-c') failed.set(r.token, (failed.get(r.token) ?? 0) + 1);
  }
  host.advance(30_000);
  const doc = statusOf(vms[1], '/status', 'st');
  assert.ok(doc.trafficWindowMs >= 30_000 && doc.trafficWindowMs <= 70_000, String(doc.trafficWindowMs));
  TOKENS.forEach((t, i) => {
    assert.equal(doc.tokens[i].requestsLastMinute, sent.get(t) ?? 0, `${t} requests`);
    assert.equal(doc.tokens[i].failuresLastMinute, failed.get(t) ?? 0, `${t} failures`);
  });
  assert.ok((failed.get('sk-t-c') ?? 0) > 0);
  // A minute and more without traffic: the counts fall back to zero.
  host.advance(80_000);
  const later = statusOf(vms[0], '/status', 'st');
  assert.ok(later.trafficWindowMs >= 60_000 && later.trafficWindowMs <= 70_000, String(later.trafficWindowMs));
  for (const t of later.tokens) assert.deepEqual([t.requestsLastMinute, t.failuresLastMinute], [0, 0]);
});
