// Metrics in a real Envoy: per-token counters labelled by fingerprint, and the in-pool gauge.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fingerprint } from '../host/fingerprint.js';
import { chat, setTokens, startGateway, waitFor } from './harness.js';

const TOKENS = ['sk-mx-a', 'sk-mx-b', 'sk-mx-c', 'sk-mx-d'];
let gw;

before(async () => {
  gw = await startGateway({ provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'm' } } });
});
after(async () => { await gw?.stop(); });

function metric(text, name, token) {
  const label = token === undefined ? '{}' : `{token="${token}"}`;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('an ejection shows in /stats/prometheus with the fingerprint label and the in-pool gauge one lower; both recover', async () => {
  const fp = fingerprint(2, 'sk-mx-c');
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool') === 4, 5000), 'gauge never showed 4');
  setTokens(gw, { 'sk-mx-c': '401' });
  await waitFor(async () => { await chat(gw); return metric(await gw.stats(), 'ai_token_failover_token_ejections', fp) === 1; }, 20_000, 0);
  let stats = await gw.stats();
  assert.equal(metric(stats, 'ai_token_failover_token_ejections', fp), 1);
  assert.equal(metric(stats, 'ai_token_failover_token_failures_4xx', fp), 3);
  assert.ok(metric(stats, 'ai_token_failover_token_requests', fp) >= 3);
  assert.equal(metric(stats, 'ai_token_failover_token_ejections', fingerprint(0, 'sk-mx-a')), 0);
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool') === 3, 3000), 'gauge did not drop to 3');
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_token_probes_failed', fp) >= 1, 3000), 'no failed probe counted');
  setTokens(gw, { 'sk-mx-c': 'ok' });
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool') === 4, 4000), 'gauge did not return to 4');
  stats = await gw.stats();
  assert.equal(metric(stats, 'ai_token_failover_token_restorations', fp), 1);
  assert.ok(metric(stats, 'ai_token_failover_token_probes_succeeded', fp) >= 1);
  for (const t of TOKENS) assert.ok(!stats.includes(t), 'a raw token appears in the metrics');
});
