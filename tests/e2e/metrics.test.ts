// Metrics and the status endpoint in a real Envoy: per-token counters labelled by fingerprint,
// the in-pool gauge, and the pool status answered by the plugin itself.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fingerprint } from '../host/fingerprint.js';
import { chat, setTokens, startGateway, waitFor } from './harness.js';

const TOKENS = ['sk-mx-a', 'sk-mx-b', 'sk-mx-c', 'sk-mx-d'];
const STATUS_TOKEN = 'status-e2e-secret';
let gw;

before(async () => {
  gw = await startGateway({
    statusPath: '/ai-token-failover/status',
    statusToken: STATUS_TOKEN,
    provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'm' } },
  });
});
after(async () => { await gw?.stop(); });

const POOL = '{pool="ai-token-failover:openai"}';
function metric(text, name, token) {
  const label = token === undefined ? '{}' : token.startsWith('{') ? token : `{token="${token}"}`;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

test('an ejection shows in /stats/prometheus with the fingerprint label and the in-pool gauge one lower; both recover', async () => {
  const fp = fingerprint(2, 'sk-mx-c');
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool', POOL) === 4, 5000), 'gauge never showed 4');
  setTokens(gw, { 'sk-mx-c': '401' });
  await waitFor(async () => { await chat(gw); return metric(await gw.stats(), 'ai_token_failover_token_ejections', fp) === 1; }, 20_000, 0);
  let stats = await gw.stats();
  assert.equal(metric(stats, 'ai_token_failover_token_ejections', fp), 1);
  assert.equal(metric(stats, 'ai_token_failover_token_failures_4xx', fp), 3);
  assert.ok(metric(stats, 'ai_token_failover_token_requests', fp) >= 3);
  assert.equal(metric(stats, 'ai_token_failover_token_ejections', fingerprint(0, 'sk-mx-a')), 0);
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool', POOL) === 3, 3000), 'gauge did not drop to 3');
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_token_probes_failed', fp) >= 1, 3000), 'no failed probe counted');
  const out = await status();
  assert.equal(out.status, 200);
  const entry = out.doc.tokens.find((t) => t.fingerprint === fp);
  assert.equal(entry.inPool, false);
  assert.equal(entry.state, 'probing');
  assert.equal(entry.lastStatus, 401);
  assert.equal(out.doc.tokensInPool, 3);
  setTokens(gw, { 'sk-mx-c': 'ok' });
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool', POOL) === 4, 4000), 'gauge did not return to 4');
  stats = await gw.stats();
  assert.equal(metric(stats, 'ai_token_failover_token_restorations', fp), 1);
  assert.ok(metric(stats, 'ai_token_failover_token_probes_succeeded', fp) >= 1);
  for (const t of TOKENS) assert.ok(!stats.includes(t), 'a raw token appears in the metrics');
  const healed = await status();
  assert.equal(healed.doc.tokens.find((t) => t.fingerprint === fp).inPool, true);
  assert.equal(healed.doc.tokensInPool, 4);
});

async function status(headers = { authorization: `Bearer ${STATUS_TOKEN}` }) {
  const r = await fetch(gw.url('/ai-token-failover/status'), { headers });
  const text = await r.text();
  for (const t of [...TOKENS, STATUS_TOKEN]) assert.ok(!text.includes(t), 'a secret appears in the status document');
  return { status: r.status, doc: r.status === 200 ? JSON.parse(text) : null, text };
}

test('the status endpoint answers 401 without the bearer token, and the request never reaches the provider', async () => {
  const before = gw.mock.requests.length;
  for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${STATUS_TOKEN}x` }]) {
    const r = await status(headers);
    assert.equal(r.status, 401);
  }
  const reached = gw.mock.requests.slice(before).filter((r) => r.headers['user-agent'] !== 'ai-token-failover-probe');
  assert.equal(reached.length, 0, 'a status request reached the provider');
  const ok = await status();
  assert.equal(ok.status, 200);
  assert.equal(ok.doc.tokensConfigured, 4);
  assert.ok(ok.doc.lease === null || typeof ok.doc.lease.holder === 'string');
});
