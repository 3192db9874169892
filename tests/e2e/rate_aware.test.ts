// Rate-aware key choice in a real Envoy (two workers): weights, model lists, the provider's
// rate-limit headers, and budgets under load against a provider that enforces per-key windows.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { ProviderConfig } from '../../envoy/config.js';
import { chat, isProbe, setTokens, sleep, withGateway, type Gateway } from './harness.js';

const failover = { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'm' };

test('weights 1:3 give shares of 25% ± 5 and 75% ± 5 over 2,000 requests', async () => {
  await withGateway({ provider: { apiTokens: [{ token: 'sk-w-1', weight: 1 }, { token: 'sk-w-3', weight: 3 }], failover } }, async (gw) => {
    for (let i = 0; i < 2000; i += 20) await Promise.all(Array.from({ length: 20 }, () => chat(gw)));
    const n = (t: string): number => gw.mock.requests.filter((r) => r.token === t).length;
    assert.equal(n('sk-w-1') + n('sk-w-3'), 2000);
    assert.ok(Math.abs(n('sk-w-1') / 2000 - 0.25) <= 0.05, `sk-w-1: ${n('sk-w-1')}`);
    assert.ok(Math.abs(n('sk-w-3') / 2000 - 0.75) <= 0.05, `sk-w-3: ${n('sk-w-3')}`);
  });
});

test('model lists send each model only to keys that allow it; an unknown model gets 400 and never reaches the provider', async () => {
  const apiTokens = [{ token: 'sk-m-4o', models: ['gpt-4o', 'gpt-4o-2024-*'] }, { token: 'sk-m-mini', models: ['gpt-4o-mini'] }, 'sk-m-any'];
  await withGateway({ provider: { apiTokens, failover, retryOnFailure: { enabled: true } } }, async (gw) => {
    const send = async (model: string) => {
      const before = gw.mock.requests.length;
      const r = await chat(gw, { body: { model, messages: [{ role: 'user', content: 'hi' }] } });
      return { status: r.status, body: r.body, tokens: gw.mock.requests.slice(before).map((q) => q.token) };
    };
    const seen: Record<string, Set<string | null>> = { 'gpt-4o': new Set(), 'gpt-4o-mini': new Set(), 'claude-x': new Set() };
    for (let i = 0; i < 60; i++) {
      for (const m of Object.keys(seen)) {
        const r = await send(m);
        assert.equal(r.status, 200);
        for (const t of r.tokens) seen[m].add(t);
      }
    }
    assert.deepEqual([...seen['gpt-4o']].sort(), ['sk-m-4o', 'sk-m-any']);
    assert.deepEqual([...seen['gpt-4o-mini']].sort(), ['sk-m-any', 'sk-m-mini']);
    assert.deepEqual([...seen['claude-x']], ['sk-m-any']);
  });
  await withGateway({ provider: { apiTokens: [{ token: 'sk-u-a', models: ['gpt-4o'] }], failover } }, async (gw) => {
    const r = await chat(gw, { body: { model: 'gpt-5-unknown', messages: [] } });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).error.code, 'model_not_found');
    assert.equal(gw.mock.requests.length, 0);
  });
});

test('a key that reports 0 remaining with a reset in 2 s receives no request before its reset', async () => {
  await withGateway({ provider: { apiTokens: ['sk-r-a', 'sk-r-b'], failover } }, async (gw) => {
    setTokens(gw, { 'sk-r-a': { headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2s' } } });
    const end = Date.now() + 7000;
    while (Date.now() < end) await chat(gw);
    const times = gw.mock.requests.filter((r) => r.token === 'sk-r-a').map((r) => r.time);
    assert.ok(times.length >= 2, `sk-r-a got ${times.length} requests in 7 s`);
    for (let k = 1; k < times.length; k++) assert.ok(times[k] - times[k - 1] >= 1950, `sk-r-a used ${times[k] - times[k - 1]} ms after it reported nothing left`);
    assert.ok(gw.mock.requests.filter((r) => r.token === 'sk-r-b').length > 20);
  });
});

/** Offers `perSecond` requests a second for `seconds` on keep-alive connections; resolves the client statuses. */
async function offer(gw: Gateway, perSecond: number, seconds: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const statuses: number[] = [];
  const pending: Array<Promise<void>> = [];
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const start = Date.now();
  for (let i = 0; i < perSecond * seconds; i++) {
    const due = start + (i * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    pending.push(new Promise<void>((resolve) => {
      const req = http.request(gw.url(), { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => { statuses.push(res.statusCode ?? 0); resolve(); });
      });
      req.on('error', () => { statuses.push(0); resolve(); });
      req.end(body);
    }));
  }
  await Promise.all(pending);
  agent.destroy();
  return statuses;
}

test('under 1.5× the keys\' combined limit for 20 s: at most 1% provider 429s and at least 95% of the capacity used (and with rate awareness off, for comparison)', async () => {
  // Each key: 10 requests per 1 s window at the provider, so 20 a second together; 30 a second offered. The
  // provider enforces a 1 s window, so each key's bucket holds one second of its rate (burst).
  const keys = ['sk-l-a', 'sk-l-b'];
  const limit = { rateLimit: { requests: 10, windowMs: 1000 } };
  interface LoadResult { sent: number; served: number; refused: number; clients: number; client200: number }
  const run = async (provider: ProviderConfig): Promise<LoadResult> => {
    let result: LoadResult | undefined;
    await withGateway({ provider }, async (gw) => {
      setTokens(gw, Object.fromEntries(keys.map((k) => [k, limit])));
      const statuses = await offer(gw, 30, 20);
      const provider = gw.mock.requests.filter((r) => !isProbe(r));
      const served = provider.filter((r) => r.status === 200).length;
      const refused = provider.filter((r) => r.status === 429).length;
      result = { sent: provider.length, served, refused, clients: statuses.length, client200: statuses.filter((s) => s === 200).length };
    });
    assert.ok(result, 'the load run did not finish');
    return result;
  };
  const aware = await run({ apiTokens: keys.map((token) => ({ token, rpm: 600, burst: 10 })), failover: { ...failover, healthCheckInterval: 2000 }, retryOnFailure: { enabled: true } });
  // Rate awareness off: keys chosen at random, no budgets, the provider's headers not followed.
  const plain = await run({ apiTokens: keys });
  console.log(`rate-aware: ${JSON.stringify(aware)}; rate awareness off: ${JSON.stringify(plain)}`);
  assert.ok(plain.refused > 100, 'the comparison run should meet the provider\'s limits');
  assert.ok(aware.refused <= 0.01 * aware.sent, `the provider refused ${aware.refused} of ${aware.sent} requests`);
  // Capacity: 20 a second for 20 s.
  assert.ok(aware.served >= 0.95 * 400, `only ${aware.served} of 400 possible requests were served`);
});

test('a key answering 429 without headers gets a smaller share until it recovers, then its full share', async () => {
  await withGateway({ provider: { apiTokens: ['sk-aimd-a', 'sk-aimd-b'], failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 300, healthCheckModel: 'm' } } }, async (gw) => {
    const share = async (n: number) => {
      const before = gw.mock.requests.length;
      for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: 10 }, () => chat(gw)));
      const sent = gw.mock.requests.slice(before);
      return sent.filter((r) => r.token === 'sk-aimd-a').length / sent.length;
    };
    const full = await share(200);
    assert.ok(full > 0.35 && full < 0.65, `share before: ${full}`);
    setTokens(gw, { 'sk-aimd-a': { status: 429, body: '{"error":{"type":"rate_limit_exceeded"}}' } });
    await share(60);
    setTokens(gw, { 'sk-aimd-a': 'ok' });
    const low = await share(200);
    assert.ok(low < 0.2, `share right after the 429s: ${low}`);
    // Ten quiet intervals give the whole share back.
    await sleep(12 * 300);
    const back = await share(200);
    assert.ok(back > 0.35 && back < 0.65, `share after recovery: ${back}`);
  });
});
