// The key that served a request, visible: a response header and the shipped access log's key= and
// tried= fields (filter state set by the plugin), in Envoy behind the provider-shaped route; and a
// body rule's failure retried so the client gets the other key's answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chat, sleep, setTokens, waitFor, type Gateway } from './harness.js';
import { PROVIDER_HOST, PROVIDER_PATH, startProviderGateway, startUpstreamGateway } from './provider_gateway.js';
import { fingerprint } from '../host/fingerprint.js';

const KEYS = ['sk-served-a', 'sk-served-b', 'sk-served-c'];
const HEADER = 'x-ai-token-failover-key';
const failover = { enabled: true, failureThreshold: 5, healthCheckInterval: 60_000, healthCheckModel: 'gpt-4o-mini' };
const fingerprintOf = (token: string): string => fingerprint(KEYS.indexOf(token), token);

/** The access-log lines Envoy wrote so far for the API path. */
async function accessLines(gw: Gateway, count: number): Promise<string[]> {
  const lines = (): string[] => gw.envoy.log.split('\n').filter((l) => l.includes('"POST /openai/v1/chat/completions"'));
  await waitFor(() => lines().length >= count, 5000);
  return lines();
}

test('downstream: the served key\'s fingerprint in a response header and the access log; a retried request lists the keys tried', async () => {
  const gw = await startProviderGateway({
    servedKeyHeader: HEADER, servedKeyFilterState: true,
    provider: { apiTokens: KEYS, failover, retryOnFailure: { enabled: true, maxRetries: 2 } },
  });
  try {
    // A provider's header of that name never passes for the plugin's.
    setTokens(gw, Object.fromEntries(KEYS.map((k) => [k, { headers: { [HEADER]: 'forged' } }])));
    const r = await chat(gw);
    assert.equal(r.status, 200);
    const used = gw.mock.requests.at(-1)!.token!;
    assert.equal(r.headers[HEADER], fingerprintOf(used));
    assert.equal(r.headers[`${HEADER}-tried`], undefined);
    let lines = await accessLines(gw, 1);
    assert.match(lines[0], new RegExp(` 200 \\d+ ms key=${fingerprintOf(used)} tried=-$`));
    // Both workers learn the route first (a retry goes as the route sends requests once a worker has seen one).
    for (let i = 0; i < 10; i++) assert.equal((await chat(gw)).status, 200);
    // One key answers 503: requests it takes first are retried; the answer names the retry's key.
    setTokens(gw, { [KEYS[0]]: 503 });
    let retried: { served: string; header: string | string[] | undefined; tried: string | string[] | undefined } | null = null;
    for (let i = 0; i < 30 && retried === null; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw);
      assert.equal(a.status, 200);
      const sent = gw.mock.requests.slice(before).map((q) => q.token!);
      if (sent.length === 2) retried = { served: sent[1], header: a.headers[HEADER], tried: a.headers[`${HEADER}-tried`] };
    }
    assert.ok(retried, 'no request was retried');
    assert.equal(retried.header, fingerprintOf(retried.served));
    assert.equal(retried.tried, `${fingerprintOf(KEYS[0])},${fingerprintOf(retried.served)}`);
    await sleep(200);
    lines = await accessLines(gw, 2);
    assert.ok(lines.some((l) => l.endsWith(`key=${fingerprintOf(retried!.served)} tried=${fingerprintOf(KEYS[0])},${fingerprintOf(retried!.served)}`)),
      gw.envoy.log.slice(-3000));
    for (const l of lines) for (const k of KEYS) assert.ok(!l.includes(k), 'a token reached the access log');
  } finally {
    await gw.stop();
  }
});

test('downstream: a 200 whose body a failure rule matches is retried; the client gets the other key\'s answer', async () => {
  const gw = await startProviderGateway({
    servedKeyHeader: HEADER,
    provider: {
      apiTokens: KEYS,
      failover: { ...failover, failureThreshold: 1, failureConditions: [{ status: ['200'], body: 'insufficient_quota' }] },
      retryOnFailure: { enabled: true, maxRetries: 1 },
    },
  });
  try {
    // Each worker learns the route's rewrites from its first successful requests; until then a
    // retry goes as the client sent it (docs/behaviour.md, "Retries behind rewriting routes").
    for (let i = 0; i < 10; i++) assert.equal((await chat(gw)).status, 200);
    setTokens(gw, { [KEYS[0]]: { status: 200, body: '{"error":{"code":"insufficient_quota"}}' } });
    for (let i = 0; i < 20; i++) {
      const a = await chat(gw);
      assert.equal(a.status, 200);
      assert.ok(!a.body.includes('insufficient_quota'), `request ${i} got the quota answer`);
      assert.notEqual(a.headers[HEADER], fingerprintOf(KEYS[0]));
    }
    assert.ok(gw.mock.requests.some((q) => q.token === KEYS[0]), 'the quota key was never tried');
    // Every line names the product once: Envoy's prefix does in stream callbacks, the plugin in
    // root callbacks (a retry's or a probe's answer), where Envoy's prefix is a bare `wasm log:`.
    assert.match(gw.envoy.log, /wasm log(: | )ai-token-failover: token #0:[0-9a-f]{6} reached failureThreshold \(failover\.failureConditions\[0\] matched, status 200\)/);
    assert.match(gw.envoy.log, /wasm log(: | )ai-token-failover: token #0:[0-9a-f]{6} taken out of the pool \(failover\.failureConditions\[0\] matched, status 200, confirmed by a probe\)/);
    assert.doesNotMatch(gw.envoy.log, /ai-token-failover: ai-token-failover:/);
    assert.doesNotMatch(gw.envoy.log, /wasm log: token/);
  } finally {
    await gw.stop();
  }
});

test('upstream placement: each attempt names its key; the client and the access log see the last attempt\'s key and the keys tried', async () => {
  const gw = await startUpstreamGateway({
    servedKeyHeader: HEADER, servedKeyFilterState: true,
    provider: { apiTokens: KEYS, failover: { ...failover, healthCheck: { cluster: 'openai', authority: PROVIDER_HOST, path: PROVIDER_PATH } } },
  });
  try {
    setTokens(gw, { [KEYS[0]]: 503 });
    let seen = false;
    for (let i = 0; i < 30 && !seen; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw);
      assert.equal(a.status, 200);
      const sent = gw.mock.requests.slice(before).map((q) => q.token!);
      assert.equal(a.headers[HEADER], fingerprintOf(sent.at(-1)!));
      if (sent.length < 2) continue;
      seen = true;
      const tried = sent.map(fingerprintOf).join(',');
      assert.equal(a.headers[`${HEADER}-tried`], tried);
      await sleep(300);
      const lines = await accessLines(gw, 1);
      assert.ok(lines.some((l) => l.endsWith(`key=${fingerprintOf(sent.at(-1)!)} tried=${tried}`)), gw.envoy.log.slice(-2000));
    }
    assert.ok(seen, 'Envoy never retried');
  } finally {
    await gw.stop();
  }
});
