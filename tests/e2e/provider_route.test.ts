// Behind the provider-shaped route (TLS with SNI, host and prefix rewrite, a route-added header):
// requests, retries and probes all reach the provider the way the route sends them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RecordedRequest } from '../../envoy/mock_provider.js';
import { escapeHeavyBody } from '../host/prompts.js';
import { MARKS_ANSWERS, TRAP, burst, chat, isProbe, leaveDuringRetry, luaFilter, setTokens, sleep, waitFor, type Gateway } from './harness.js';
import { PROVIDER_HOST, PROVIDER_PATH, ROUTE_HEADER, startProviderGateway } from './provider_gateway.js';

const TOKENS = ['sk-pr-a', 'sk-pr-b', 'sk-pr-c', 'sk-pr-d'];
const INTERVAL = 1000;
let gw: Gateway;

before(async () => {
  gw = await startProviderGateway({
    provider: {
      apiTokens: TOKENS,
      failover: { enabled: true, failureThreshold: 3, healthCheckInterval: INTERVAL, healthCheckTimeout: 1000, healthCheckModel: 'gpt-4o-mini' },
      retryOnFailure: { enabled: true, maxRetries: 1 },
    },
  });
});
after(async () => { await gw?.stop(); });

function assertProviderShaped(r: RecordedRequest, what: string): void {
  assert.equal(r.host, PROVIDER_HOST, `${what}: Host`);
  assert.equal(r.sni, PROVIDER_HOST, `${what}: SNI`);
  assert.equal(r.path, PROVIDER_PATH, `${what}: path`);
  assert.equal(r.headers[ROUTE_HEADER[0]], ROUTE_HEADER[1], `${what}: route-added header`);
}

test('requests, retries and probes carry the rewritten Host and path, the SNI and the route header; a killed key is out after 3 failures and back within 2 intervals of healing', async () => {
  // Each worker learns the route from its first requests (see docs/behaviour.md, "Retries behind rewriting routes").
  for (let i = 0; i < 20; i++) assert.equal((await chat(gw)).status, 200);
  for (const r of gw.mock.requests) assertProviderShaped(r, 'request');
  gw.mock.requests.length = 0;

  setTokens(gw, { 'sk-pr-b': '401' });
  let failures = 0;
  for (let i = 0; i < 200 && failures < 3; i++) {
    const before = gw.mock.requests.length;
    const r = await chat(gw);
    assert.equal(r.status, 200, 'the client saw the dead key');
    const sent = gw.mock.requests.slice(before).filter((q) => !isProbe(q));
    if (sent[0]?.token === 'sk-pr-b') {
      failures++;
      assert.equal(sent.length, 2, 'the failed request was not retried');
    }
  }
  assert.equal(failures, 3);
  const retries = gw.mock.requests.filter((q) => !isProbe(q));
  for (const r of retries) assertProviderShaped(r, 'request or retry');
  // Out: no client request reaches it any more.
  const mark = gw.mock.requests.length;
  for (let i = 0; i < 40; i++) assert.equal((await chat(gw)).status, 200);
  assert.equal(gw.mock.requests.slice(mark).filter((q) => !isProbe(q) && q.token === 'sk-pr-b').length, 0);

  assert.ok(await waitFor(() => gw.mock.requests.some((q) => isProbe(q) && q.token === 'sk-pr-b'), 4 * INTERVAL), 'no probe');
  for (const p of gw.mock.requests.filter(isProbe)) assertProviderShaped(p, 'probe');

  setTokens(gw, { 'sk-pr-b': 'ok' });
  const healedAt = Date.now();
  const back = await waitFor(async () => {
    const before = gw.mock.requests.length;
    await Promise.all(Array.from({ length: 8 }, () => chat(gw)));
    return gw.mock.requests.slice(before).some((q) => !isProbe(q) && q.token === 'sk-pr-b');
  }, 4 * INTERVAL, 50);
  assert.ok(back, 'the healed key did not come back');
  assert.ok(Date.now() - healedAt <= 2 * INTERVAL + 500, `back after ${Date.now() - healedAt} ms`);
  await sleep(10);
});

test('behind the TLS route with a filter before the plugin: 40 keys with 10 dead, 600 KiB escape-heavy prompts; retried answers pass back through that filter, and clients that leave mid-retry leave Envoy serving', async () => {
  const keys = Array.from({ length: 40 }, (_, i) => `sk-prl-${String(i).padStart(2, '0')}`);
  const dead = keys.slice(0, 10);
  // More retries than dead keys: every request ends with a healthy key.
  const shaped = await startProviderGateway({ provider: { apiTokens: keys, retryOnFailure: { enabled: true, maxRetries: 10 } } }, { filtersBefore: [luaFilter(MARKS_ANSWERS)] });
  try {
    // The route is learned from the first requests (see docs/behaviour.md, "Retries behind rewriting routes").
    await burst(shaped, 20, 5);
    setTokens(shaped, Object.fromEntries(dead.map((t) => [t, '503'])));
    const body = escapeHeavyBody(600 * 1024);
    let retried = 0;
    for (let i = 0; i < 60; i++) {
      const before = shaped.mock.requests.length;
      const r = await chat(shaped, { body, timeoutMs: 30_000 });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-translated-by'], 'lua', 'an answer skipped the filter before the plugin');
      const sent = shaped.mock.requests.slice(before).filter((q) => !isProbe(q));
      for (const q of sent) {
        assertProviderShaped(q, 'request or retry');
        assert.equal(JSON.stringify(q.body), body, 'the provider did not receive the whole prompt');
      }
      if (sent.length > 1) retried++;
    }
    assert.ok(retried >= 3, `only ${retried} of 60 requests were retried`);
    for (let round = 0; round < 3; round++) await leaveDuringRetry(shaped, keys, body);
    await sleep(1700);
    shaped.mock.behaviours.clear();
    const answers = await burst(shaped, 20, 5);
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => a.status), []);
    assert.doesNotMatch(shaped.envoy.log, TRAP);
  } finally {
    await shaped.stop();
  }
});

test('model lists: GET …/models and …/models/{id} go to the provider with a key of the pool, through the route; a dead key\'s 401 on a listing counts nothing, and another method gets no key', async () => {
  gw.mock.behaviours.clear();
  const before = gw.mock.requests.length;
  for (let i = 0; i < 20; i++) {
    const r = await chat(gw, { method: 'GET', path: '/openai/v1/models' });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body).data.map((m: { id: string }) => m.id), ['gpt-4o-mini', 'gpt-4o']);
  }
  const one = await chat(gw, { method: 'GET', path: '/openai/v1/models/gpt-4o' });
  assert.equal(one.status, 200);
  assert.equal(JSON.parse(one.body).id, 'gpt-4o');
  const listed = gw.mock.requests.slice(before).filter((q) => !isProbe(q));
  assert.equal(listed.length, 21);
  for (const q of listed) {
    assert.equal(q.host, PROVIDER_HOST);
    assert.equal(q.sni, PROVIDER_HOST);
    assert.match(q.path ?? '', /^\/v1\/models/);
    assert.ok(TOKENS.includes(q.token ?? ''), `a listing went with ${q.token}`);
  }
  assert.ok(new Set(listed.map((q) => q.token)).size > 1, 'every listing went with one key');

  const counted = async () => (await gw.stats()).split('\n').filter((l) => l.startsWith('ai_token_failover_token_failures_') || l.startsWith('ai_token_failover_tokens_in_pool')).join('\n');
  const was = await counted();
  setTokens(gw, { 'sk-pr-c': '401' });
  const statuses = new Set<number>();
  for (let i = 0; i < 40; i++) statuses.add((await chat(gw, { method: 'GET', path: '/openai/v1/models' })).status);
  assert.deepEqual([...statuses].sort(), [200, 401], 'the dead key answered no listing, or something else answered');
  assert.equal(await counted(), was, 'a listing\'s answer counted');
  assert.match(await gw.stats(), /ai_token_failover_listings\{pool="[^"]+"\} [1-9]/);

  const mark = gw.mock.requests.length;
  await chat(gw, { method: 'POST', path: '/openai/v1/models', body: {} });
  assert.deepEqual(gw.mock.requests.slice(mark).filter((q) => !isProbe(q)).map((q) => q.token), [null]);
  gw.mock.behaviours.clear();
});
