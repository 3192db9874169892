// Hostile clients and provider blips in a real Envoy (two workers) behind the provider-shaped
// route (TLS with SNI, host and path rewrite, a route-added header): what one client sends must not
// take keys out, aim probes or reach the provider with its own credentials; a blip must not become
// client errors; no request waits for a body Envoy hides.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { TRAP, chat, isProbe, setTokens, sleep, waitFor, withGateway, type Gateway } from './harness.js';
import { PROVIDER_HOST, PROVIDER_PATH, ROUTE_HEADER, startProviderGateway } from './provider_gateway.js';

const TOKENS = ['sk-h-a', 'sk-h-b', 'sk-h-c', 'sk-h-d'];
const STATUS = { statusPath: '/ai-token-failover/status', statusToken: 'hostile-status-token' };
// Failover and retry on, every other setting at its default but a short interval (the test waits for probes).
const config: PluginConfig = {
  provider: {
    apiTokens: TOKENS,
    // maxProbeInterval at the interval: keys out on 401/403 (dead) are probed every interval here,
    // so healing is measured in intervals (tests/e2e/key_classes.test.ts shows the growing pace).
    failover: { enabled: true, healthCheckInterval: 1000, maxProbeInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
    retryOnFailure: { enabled: true },
  },
  ...STATUS,
};
// The provider: an admin-only endpoint answers 403 to every key, a foreign organization header 401.
const PROVIDER_RULES = [{ path: '/v1/organization', status: 403 }, { header: 'openai-organization=org-attacker', status: 401 }];
const healthy = () => setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { when: PROVIDER_RULES }])));

let gw: Gateway;
before(async () => { gw = await startProviderGateway(config); healthy(); });
after(async () => { await gw?.stop(); });

async function inPool(): Promise<number> {
  const r = await chat(gw, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken });
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { tokensInPool: number }).tokensInPool;
}

test('45 hostile requests (an admin-only path, a foreign OpenAI-Organization, from new hosts too) mixed with normal traffic: keys stay, normal requests get 200, probes are not aimed, client credentials never reach the provider', async () => {
  const hostile = [
    ...Array.from({ length: 15 }, () => chat(gw, { method: 'GET', path: '/openai/v1/organization/users?limit=100', headers: { 'x-evil': '1' } })),
    ...Array.from({ length: 15 }, () => chat(gw, { headers: { 'openai-organization': 'org-attacker', 'x-evil': '1' } })),
    // A new host on every request: each retry goes on a route the plugin has not seen.
    ...Array.from({ length: 15 }, (_, i) => chat(gw, { headers: { host: `h${i}.gateway.test`, 'openai-organization': 'org-attacker', 'x-evil': '1' } })),
  ];
  const normal: Array<Promise<{ status: number }>> = [];
  for (let i = 0; i < 6; i++) {
    normal.push(...Array.from({ length: 10 }, () => chat(gw, { headers: { 'proxy-authorization': 'Basic client', 'x-goog-api-key': 'client-own' } })));
    await sleep(50);
  }
  const [h, n] = await Promise.all([Promise.all(hostile), Promise.all(normal)]);
  assert.deepEqual([...new Set(n.map((a) => a.status))], [200]);
  // The admin path goes without a pool key (the provider refuses it 401), the foreign organization is refused by every key.
  assert.deepEqual([...new Set(h.map((a) => a.status))], [401]);
  assert.ok(await inPool() >= 3, `${await inPool()} keys left in the pool`);
  // Not one of those refusals counted against a key (every key gave it, or the retry proved nothing).
  const counted = (await gw.stats()).split('\n').filter((l) => l.startsWith('ai_token_failover_token_failures_4xx{'));
  assert.ok(counted.length > 0, 'no failure series in /stats/prometheus');
  assert.deepEqual(counted.filter((l) => Number(l.split(' ').at(-1)) !== 0), [], 'a hostile refusal counted against a key');

  // A key that is really dead leaves, and its probes go where chat requests succeed, with only the route's headers.
  setTokens(gw, { 'sk-h-d': '401' });
  await waitFor(async () => (await chat(gw)).status === 200 && await inPool() === 3, 10_000, 50);
  setTokens(gw, { 'sk-h-d': { when: PROVIDER_RULES } });
  assert.ok(await waitFor(async () => await inPool() === 4, 4000, 100), 'the healed key did not come back');
  // Every line names the product once, whichever context logs it (Envoy's root-context prefix is a bare `wasm log:`).
  assert.doesNotMatch(gw.envoy.log, /wasm log: (?!ai-token-failover: )/);
  assert.doesNotMatch(gw.envoy.log, /ai-token-failover: ai-token-failover:/);
  const probes = gw.mock.requests.filter(isProbe);
  assert.ok(probes.length > 0, 'no probe was sent');
  for (const p of probes) {
    assert.equal(p.path, PROVIDER_PATH);
    assert.equal(p.host, PROVIDER_HOST);
    assert.equal(p.sni, PROVIDER_HOST);
    assert.equal(p.headers[ROUTE_HEADER[0]], ROUTE_HEADER[1]);
    assert.equal(p.headers['x-evil'], undefined);
    assert.equal(p.headers['openai-organization'], undefined);
  }
  for (const r of gw.mock.requests) {
    assert.deepEqual(Object.keys(r.credentials).filter((c) => c !== 'authorization'), [], `${r.path} carried a client credential`);
    // The admin path went with no key at all; everything else with a pool key.
    if (r.path?.startsWith('/v1/organization')) assert.deepEqual(r.credentials, {});
    else assert.match(String(r.credentials.authorization), /^Bearer sk-h-/);
  }
});

test('retries off: a refusal every key gives, aimed at one key through affinity, takes no key out (its probe succeeds); a dead key leaves once its probe fails', async () => {
  const noRetry: PluginConfig = { ...config, affinity: { header: 'x-user-id' }, provider: { ...config.provider, retryOnFailure: { enabled: false } } };
  const g = await startProviderGateway(noRetry);
  try {
    const keys = noRetry.provider!.apiTokens as string[];
    setTokens(g, Object.fromEntries(keys.map((t) => [t, { when: PROVIDER_RULES }])));
    const pool = async () => JSON.parse((await chat(g, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken })).body) as { tokensInPool: number };
    // Successes first, on both workers: they show where probes go.
    for (let i = 0; i < 10; i++) assert.equal((await chat(g)).status, 200);
    const hostile = await Promise.all(Array.from({ length: 30 }, () =>
      chat(g, { headers: { 'openai-organization': 'org-attacker', 'x-user-id': 'mallory' } })));
    assert.deepEqual([...new Set(hostile.map((a) => a.status))], [401]);
    assert.ok(await waitFor(async () => /ai_token_failover_ejections_not_confirmed\{[^}]*\} [1-9]/.test(await g.stats()), 3000, 100),
      'no probe cleared the aimed key');
    assert.equal((await pool()).tokensInPool, 4);
    assert.ok(g.mock.requests.filter(isProbe).every((p) => p.headers['openai-organization'] === undefined));
    // A key that is really dead: its probe fails too.
    setTokens(g, { [keys[1]]: '401' });
    assert.ok(await waitFor(async () => { await chat(g); return (await pool()).tokensInPool === 3; }, 10_000, 0), 'the dead key stayed');
    assert.match(g.envoy.log, /wasm log: ai-token-failover: token #1:[0-9a-f]{6} taken out of the pool \(status 401, confirmed by a probe\)/);
  } finally {
    await g.stop();
  }
});

test('every key failing for a few seconds: at most half leave, and all are back within 2 intervals of the provider healing', async () => {
  // Keys refused in two different ways (the same refusal from every key would be the request's).
  setTokens(gw, Object.fromEntries(TOKENS.map((t, i) => [t, i % 2 === 0 ? '401' : '403'])));
  const until = Date.now() + 3000;
  while (Date.now() < until) await Promise.all(Array.from({ length: 4 }, () => chat(gw)));
  assert.equal(await inPool(), 2);
  healthy();
  const healedAt = Date.now();
  // Normal traffic goes on meanwhile.
  let back = false;
  while (!back && Date.now() - healedAt < 5000) {
    await chat(gw);
    back = await inPool() === 4;
  }
  const took = Date.now() - healedAt;
  assert.ok(back && took <= 2000, `all back after ${took} ms`);
});

test('300 concurrent requests each failing once with 500: at most 1% of clients see an error, at least half the keys stay', async () => {
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 500, failFirstBy: 'x-test-id', when: PROVIDER_RULES }])));
  try {
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => chat(gw, { headers: { 'x-test-id': `blip-${i}` }, timeoutMs: 30_000 })));
    const errors = answers.filter((a) => a.status !== 200);
    assert.ok(errors.length <= 3, `${errors.length} of 300 clients saw an error: ${JSON.stringify(errors.slice(0, 3).map((a) => [a.status, a.body.slice(0, 120)]))}`);
    assert.ok(await inPool() >= 2, `${await inPool()} keys left in the pool`);
  } finally {
    healthy();
  }
  assert.doesNotMatch(gw.envoy.log, TRAP);
});

test('without allow_on_headers_stop_iteration, with model lists, every request ends within 1 s plus the provider\'s time, and one log line names the option', async () => {
  const models: PluginConfig = { provider: { apiTokens: ['sk-m-any', { token: 'sk-m-mini', models: ['gpt-4o-mini'] }] } };
  await withGateway(models, async (g) => {
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 20 }, async () => {
      const t = Date.now();
      const a = await chat(g, { timeoutMs: 5000 });
      return { status: a.status, ms: Date.now() - t };
    }));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.ok(a.ms < 1000, `a request took ${a.ms} ms`);
    }
    // Later requests are not held at all.
    const t = Date.now();
    assert.equal((await chat(g)).status, 200);
    assert.ok(Date.now() - t < 300);
    assert.ok(Date.now() - started < 5000);
    const lines = g.envoy.log.split('\n').filter((l) => l.includes('allow_on_headers_stop_iteration'));
    assert.equal(lines.length, 1, lines.join('\n'));
  }, { allowOnHeadersStopIteration: false });
});

/** A client that sends its headers, then its body only after `delayMs`; resolves the status. */
function lateBody(g: Gateway, body: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(g.url(), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: 'Bearer client-key', 'content-length': Buffer.byteLength(body) } },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.flushHeaders();
    setTimeout(() => req.end(body), delayMs);
  });
}

test('with allow_on_headers_stop_iteration, a client sending its body late is served, and switches model lists off for no one', async () => {
  const models: PluginConfig = { provider: { apiTokens: ['sk-late-any', { token: 'sk-late-mini', models: ['gpt-4o-mini'] }] } };
  await withGateway(models, async (g) => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    // Both workers' first held requests are a slow client's.
    assert.deepEqual(await Promise.all([lateBody(g, body, 600), lateBody(g, body, 600)]), [200, 200]);
    const keysFor = async (n: number) => {
      const from = g.mock.requests.length;
      for (let i = 0; i < n; i++) assert.equal((await chat(g, { body })).status, 200);
      return new Set(g.mock.requests.slice(from).map((r) => r.token));
    };
    // The model is still read: the key limited to it serves its share at once.
    assert.ok(await waitFor(async () => (await keysFor(10)).has('sk-late-mini'), 5000, 0), 'the model list stopped applying');
    assert.doesNotMatch(g.envoy.log, /allow_on_headers_stop_iteration: true on the envoy/);
    assert.doesNotMatch(g.envoy.log, TRAP);
  }, { allowOnHeadersStopIteration: true });
});
