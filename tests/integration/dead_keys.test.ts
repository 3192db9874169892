// Dead or tired, in the emulator: a key out on 401, 403 or a rule marked dead is probed at a
// growing interval up to maxProbeInterval; one out on 429 or a 5xx keeps the normal pace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fingerprint } from '../host/fingerprint.js';
import { configuredVms } from '../host/configured_vms.js';
import { isProbeCall, roundTrip, statusByToken, tokenOf, type UpstreamAnswer } from '../host/gateway.js';
import { keyStatus, statusOf } from '../host/status_document.js';

const KEYS = ['sk-k1', 'sk-k2', 'sk-k3', 'sk-k4'];
const PROPS = { 'xds.cluster_name': 'llm', 'request.host': 'api.example.com', 'request.url_path': '/v1/chat/completions' };

const setup = (failover: Record<string, unknown> = {}) => configuredVms({ statusPath: '/status', statusToken: 'st', provider: { apiTokens: KEYS,
  failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 1000, maxProbeInterval: 8000, healthCheckModel: 'm', ...failover } } });

/** Takes key sk-k2 out with `answer`, then counts its probes over `seconds`, answering them `answer`. */
function probesOver(answer: UpstreamAnswer, seconds: number, failover: Record<string, unknown> = {}) {
  const { host, vms } = setup(failover);
  const upstream = (token: string | null): UpstreamAnswer => (token === 'sk-k2' ? answer : { status: 200, body: '{}' });
  // Successful requests first: probes go where they went.
  for (let i = 0; i < 10; i++) roundTrip(vms[i % 2], statusByToken({}), { props: PROPS });
  for (let i = 0; i < 60 && !host.logs.some((l) => l.msg.includes('taken out')); i++) roundTrip(vms[i % 2], ({ token }) => upstream(token), { props: PROPS });
  assert.ok(host.logs.some((l) => l.msg.includes('taken out')), 'the key never left');
  let probes = 0;
  for (let t = 0; t < seconds * 10; t++) {
    host.advance(100);
    for (const vm of vms) vm.answerCalls((call) => { if (isProbeCall(call) && tokenOf(call.headers) === 'sk-k2') probes++; return upstream(tokenOf(call.headers)); });
  }
  return { host, vms, probes };
}

test('a key out on 401 is dead: over 20 s with interval 1000 and maxProbeInterval 8000 it gets at most 7 probes, shown dead with its next probe', () => {
  const { host, vms, probes } = probesOver({ status: 401, body: '{"error":{"code":"invalid_api_key"}}' }, 20);
  assert.ok(probes >= 3 && probes <= 7, `${probes} probes`);
  const doc = statusOf(vms[0], '/status', 'st');
  const k = keyStatus(doc, fingerprint(1, 'sk-k2'));
  assert.equal(k.state, 'dead');
  assert.ok((k.nextProbeInMs ?? 0) > 0 && (k.nextProbeInMs ?? 0) <= 8000, String(k.nextProbeInMs));
  host.advance(1000);
  assert.equal(host.metric(`ai_token_failover.token.${fingerprint(1, 'sk-k2')}.state`), 2);
});

test('a key out on 429 or 503 is tired: probed every interval', () => {
  for (const status of [429, 503]) {
    const { vms, probes } = probesOver({ status, body: '{}' }, 20);
    assert.ok(probes >= 17, `${status}: ${probes} probes`);
    assert.equal(keyStatus(statusOf(vms[0], '/status', 'st'), fingerprint(1, 'sk-k2')).state, 'probing');
  }
});

test('a failure rule marked dead (insufficient_quota) makes the key dead; the same rule without the mark leaves it tired', () => {
  const quota = { status: 429, body: '{"error":{"code":"insufficient_quota"}}' };
  const dead = probesOver(quota, 20, { failureConditions: [{ status: ['429'], body: 'insufficient_quota', dead: true }] });
  assert.ok(dead.probes <= 7, `${dead.probes} probes`);
  assert.equal(keyStatus(statusOf(dead.vms[0], '/status', 'st'), fingerprint(1, 'sk-k2')).state, 'dead');
  const tired = probesOver(quota, 20, { failureConditions: [{ status: ['429'], body: 'insufficient_quota' }] });
  assert.ok(tired.probes >= 17, `${tired.probes} probes`);
});

test('a healed dead key comes back at its next probe and serves again', () => {
  const { host, vms } = probesOver({ status: 401, body: '{}' }, 12);
  let back = false;
  for (let t = 0; t < 100 && !back; t++) {
    host.advance(100);
    for (const vm of vms) vm.answerCalls(() => ({ status: 200, body: '{}' }));
    back = keyStatus(statusOf(vms[0], '/status', 'st'), fingerprint(1, 'sk-k2')).state === 'in';
  }
  assert.ok(back, 'the healed key did not come back within 10 s');
  const used = new Set(Array.from({ length: 40 }, (_, i) => roundTrip(vms[i % 2], statusByToken({}), { props: PROPS }).token));
  assert.ok(used.has('sk-k2'));
});
