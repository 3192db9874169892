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
