// Metrics and the status endpoint in a real Envoy: per-token counters labelled by fingerprint,
// the in-pool gauge, and the pool status answered by the plugin itself.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fingerprint } from '../host/fingerprint.js';
import { keyStatus, parseStatus, type StatusDocument } from '../host/status_document.js';
import { chat, isProbe, setTokens, startGateway, waitFor, type Gateway } from './harness.js';

const TOKENS = ['sk-mx-a', 'sk-mx-b', 'sk-mx-c', 'sk-mx-d'];
const STATUS_TOKEN = 'status-e2e-secret';
let gw: Gateway;

before(async () => {
  gw = await startGateway({
    statusPath: '/ai-token-failover/status',
    statusToken: STATUS_TOKEN,
    provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, maxProbeInterval: 2000, healthCheckModel: 'm' } },
  });
});
after(async () => { await gw?.stop(); });

const POOL = '{pool="ai-token-failover:openai"}';
/** One series' value in /stats/prometheus text (NaN when absent); `token` is a fingerprint or a whole label set. */
function metric(text: string, name: string, token?: string): number {
  const label = token === undefined ? '{}' : token.startsWith('{') ? token : `{token="${token}"}`;
  const line = text.split('\n').find((l) => l.startsWith(`${name}${label} `));
  return line === undefined ? NaN : Number(line.split(' ').at(-1));
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
  const out = await statusDocument();
  const entry = keyStatus(out, fp);
  assert.equal(entry.inPool, false);
  // Out on 401: dead.
  assert.equal(entry.state, 'dead');
  assert.equal(entry.lastStatus, 401);
  assert.equal(out.tokensInPool, 3);
  setTokens(gw, { 'sk-mx-c': 'ok' });
  assert.ok(await waitFor(async () => metric(await gw.stats(), 'ai_token_failover_tokens_in_pool', POOL) === 4, 4000), 'gauge did not return to 4');
  stats = await gw.stats();
  assert.equal(metric(stats, 'ai_token_failover_token_restorations', fp), 1);
  assert.ok(metric(stats, 'ai_token_failover_token_probes_succeeded', fp) >= 1);
  for (const t of TOKENS) assert.ok(!stats.includes(t), 'a raw token appears in the metrics');
  const healed = await statusDocument();
  assert.equal(keyStatus(healed, fp).inPool, true);
  assert.equal(healed.tokensInPool, 4);
});

/** Asks the status endpoint; no answer may carry a secret. */
async function status(headers: Record<string, string> = { authorization: `Bearer ${STATUS_TOKEN}` }): Promise<{ status: number; text: string }> {
  const r = await fetch(gw.url('/ai-token-failover/status'), { headers });
  const text = await r.text();
  for (const t of [...TOKENS, STATUS_TOKEN]) assert.ok(!text.includes(t), 'a secret appears in the status document');
  return { status: r.status, text };
}

/** The status document, asked with the right token. */
async function statusDocument(): Promise<StatusDocument> {
  const r = await status();
  assert.equal(r.status, 200);
  return parseStatus(r.text);
}

test('the status endpoint answers 401 without the bearer token, and the request never reaches the provider', async () => {
  const before = gw.mock.requests.length;
  const wrong: Array<Record<string, string>> = [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${STATUS_TOKEN}x` }];
  for (const headers of wrong) {
    const r = await status(headers);
    assert.equal(r.status, 401);
  }
  const reached = gw.mock.requests.slice(before).filter((r) => !isProbe(r));
  assert.equal(reached.length, 0, 'a status request reached the provider');
  const ok = await statusDocument();
  assert.equal(ok.tokensConfigured, 4);
  assert.ok(ok.lease === null || typeof ok.lease.holder === 'string');
});
