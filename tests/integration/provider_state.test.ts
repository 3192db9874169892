// When the provider (or the account behind every key) is the problem, inside the emulator: three
// VMs share the pool, time is virtual. The plugin tells the provider's fault from a key's and a
// request's, paces the provider, answers for it and shows it; one client cannot make it do so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import type { PluginConfig } from '../../envoy/config.js';
import { isProbeCall, roundTrip, type Upstream, type UpstreamRequest } from '../host/gateway.js';
import { keyStatus, statusOf } from '../host/status_document.js';
import { fingerprint as fingerprintOf } from '../host/fingerprint.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const POOL_METRIC = 'ai_token_failover.pool.ai-token-failover:openai.';

function config({ retry = true, rules = [] as unknown[] } = {}): PluginConfig {
  return {
    provider: {
      apiTokens: TOKENS,
      failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'probe-model', failureConditions: rules },
      retryOnFailure: { enabled: retry },
    },
    statusPath: '/status',
    statusToken: 'st',
  } as PluginConfig;
}

// Each VM serves a request first: it learns the route, so its retries are not guesses (whose
// failures prove nothing).
function setup(cfg: PluginConfig) {
  const host = new Host();
  const vms = Array.from({ length: 3 }, () => host.createVm());
  for (const vm of vms) assert.equal(vm.configure(cfg)[0], true);
  for (const vm of vms) assert.equal(roundTrip(vm, () => ({ status: 200, body: '{}' })).client.status, 200);
  return { host, vms };
}

/** Counts what reaches the provider (probes apart) while answering with `answer`. */
function provider(answer: Upstream) {
  const seen = { requests: 0, probes: 0 };
  const upstream: Upstream = (r: UpstreamRequest) => {
    if (r.call && isProbeCall(r.call)) seen.probes++;
    else seen.requests++;
    return answer(r);
  };
  return { seen, upstream };
}

const body = (k: number) => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `question ${k}` }] });

test('every key answering 503 to different requests: the provider is failing, one request per rest reaches it, the others get 503 with Retry-After, no key leaves, a 2xx ends it', () => {
  const { host, vms } = setup(config({ retry: false }));
  let status = 503;
  const { seen, upstream } = provider(() => ({ status }));
  const answers = Array.from({ length: 40 }, (_, k) => roundTrip(vms[k % 3], upstream, { body: body(k) }));
  const doc = statusOf(vms[0]);
  assert.equal(doc.provider.state, 'failing');
  assert.equal(doc.provider.lastStatus, 503);
  assert.match(doc.provider.reason, /status 503 on every key/);
  assert.equal(doc.tokensInPool, 4, 'a provider-wide failure took a key out');
  for (const t of TOKENS) assert.equal(keyStatus(doc, fingerprintOf(TOKENS.indexOf(t), t)).lastStatus, 503);
  assert.ok(seen.requests < 12, `${seen.requests} requests reached the failing provider`);
  const local = answers.filter((a) => a.token === null);
  assert.equal(local.length, 40 - seen.requests);
  for (const a of local) {
    assert.equal(a.client.status, 503);
    assert.ok(Number(a.client.headers?.get('retry-after')) >= 1);
  }
  assert.equal(host.metric(`${POOL_METRIC}provider_state`), 2);
  assert.equal(host.metric(`${POOL_METRIC}provider_answers`), local.length);

  // Paced: one request per rest, and the rest grows while the provider keeps failing.
  const before = seen.requests;
  for (let second = 0; second < 6; second++) {
    host.advance(1000);
    for (let k = 0; k < 10; k++) roundTrip(vms[k % 3], upstream, { body: body(100 * second + k) });
  }
  assert.ok(seen.requests - before <= 4, `${seen.requests - before} requests in 6 s of pacing`);

  // Healed: the next request that goes succeeds, and everyone is served again.
  status = 200;
  host.advance(30_000);
  const healed = Array.from({ length: 12 }, (_, k) => roundTrip(vms[k % 3], upstream, { body: body(1000 + k) }));
  assert.deepEqual([...new Set(healed.map((a) => a.client.status))], [200]);
  assert.equal(statusOf(vms[1]).provider.state, 'ok');
  assert.equal(host.metric(`${POOL_METRIC}provider_state`), 0);
});

test('every key answering 429 with Retry-After: 5: each key rests 5 s, clients get 429 with Retry-After, nothing reaches the provider meanwhile', () => {
  const { host, vms } = setup(config());
  const { seen, upstream } = provider(() => ({ status: 429, headers: { 'retry-after': '5' } }));
  const first = Array.from({ length: 20 }, (_, k) => roundTrip(vms[k % 3], upstream, { body: body(k) }));
  assert.ok(seen.requests <= 6, `${seen.requests} attempts reached the provider`);
  for (const a of first) {
    assert.equal(a.client.status, 429);
    assert.ok(a.client.headers?.get('retry-after'), 'a 429 without Retry-After');
  }
  const sent = seen.requests + seen.probes;
  host.advance(4000);
  for (let k = 0; k < 20; k++) assert.equal(roundTrip(vms[k % 3], upstream, { body: body(100 + k) }).client.status, 429);
  assert.equal(seen.requests + seen.probes, sent, 'the provider was asked again before its Retry-After passed');
  assert.notEqual(statusOf(vms[0]).provider.state, 'ok');
});

test('a 429 reporting room left (Request too large) is the request\'s: nothing rests, nothing counts, the provider stays ok', () => {
  const { vms } = setup(config());
  const tooLarge = { status: 429, headers: { 'retry-after': '30', 'x-ratelimit-remaining-requests': '4999', 'x-ratelimit-remaining-tokens': '29000' } };
  const upstream: Upstream = ({ body: b }) => (b.includes('huge') ? tooLarge : { status: 200, body: '{}' });
  for (let k = 0; k < 60; k++) {
    if (k % 2 === 0) assert.equal(roundTrip(vms[k % 3], upstream, { body: body(k).replace('question', 'huge') }).client.status, 429);
    assert.equal(roundTrip(vms[k % 3], upstream, { body: body(k) }).client.status, 200);
  }
  const doc = statusOf(vms[0]);
  assert.equal(doc.provider.state, 'ok');
  for (const t of doc.tokens) {
    assert.equal(t.limitedForMs, 0, `${t.fingerprint} rests`);
    assert.equal(t.consecutiveFailures, 0);
    assert.equal(t.state, 'in');
  }
});

test('one client cannot make the provider failing: one body on every key, or one affinity value with many bodies', () => {
  const oneBody = setup(config());
  for (let k = 0; k < 40; k++) roundTrip(oneBody.vms[k % 3], () => ({ status: 500 }));
  assert.equal(statusOf(oneBody.vms[0]).provider.state, 'ok');

  const cfg = config();
  (cfg as { affinity?: unknown }).affinity = { header: 'x-user' };
  const oneUser = setup(cfg);
  for (let k = 0; k < 40; k++) roundTrip(oneUser.vms[k % 3], () => ({ status: 500 }), { body: body(k), headers: { 'x-user': 'mallory' } });
  assert.equal(statusOf(oneUser.vms[0]).provider.state, 'ok');
  // Different users' varied requests are different requests (each user stays on its own two keys).
  for (let k = 0; k < 24; k++) roundTrip(oneUser.vms[k % 3], () => ({ status: 500 }), { body: body(k), headers: { 'x-user': `user-${k % 12}` } });
  assert.equal(statusOf(oneUser.vms[0]).provider.state, 'failing');
});

test('a Retry-After of an hour from one request rests its key 10 s; another request repeating it soon after rests it the whole hour', () => {
  const { host, vms } = setup(config());
  const upstream: Upstream = ({ token }) => (token === 'sk-a' ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200, body: '{}' });
  const fp = fingerprintOf(0, 'sk-a');
  let k = 0;
  while (roundTrip(vms[k % 3], upstream, { body: body(k) }).token !== 'sk-a' && k < 200) k++;
  const rested = keyStatus(statusOf(vms[0]), fp);
  assert.ok(Math.max(rested.limitedForMs, rested.returnsInMs ?? 0) <= 10_000, JSON.stringify(rested));
  assert.ok(Math.max(rested.limitedForMs, rested.returnsInMs ?? 0) > 5_000, JSON.stringify(rested));
  host.advance(10_500);
  for (k++; roundTrip(vms[k % 3], upstream, { body: body(k) }).token !== 'sk-a' && k < 400; k++);
  const corroborated = keyStatus(statusOf(vms[0]), fp);
  assert.ok(Math.max(corroborated.limitedForMs, corroborated.returnsInMs ?? 0) > 3_000_000, JSON.stringify(corroborated));
});

test('every key answering 429 insufficient_quota named by a rule: the failures count (at most half leave), every key shows its failure, the provider is failing', () => {
  const rules = [{ status: ['429'], body: 'insufficient_quota' }];
  const { vms } = setup(config({ rules }));
  const { seen, upstream } = provider(() => ({ status: 429, body: '{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}' }));
  for (let k = 0; k < 40; k++) roundTrip(vms[k % 3], upstream, { body: body(k) });
  const doc = statusOf(vms[0]);
  assert.equal(doc.provider.state, 'failing');
  assert.match(doc.provider.reason, /failureConditions\[0\]/);
  assert.ok(doc.tokensInPool >= 2, `${doc.tokensInPool} keys left`);
  for (const t of doc.tokens) {
    assert.equal(t.lastStatus, 429, JSON.stringify(t));
    assert.equal(typeof t.lastFailureAgoMs, 'number');
  }
  assert.ok(seen.requests <= 80, `${seen.requests} attempts for 40 requests`);
});
