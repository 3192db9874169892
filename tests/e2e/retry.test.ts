// Retry on failure in a real Envoy (two workers): 4 tokens, one dead.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { burst, chat, isProbe, setTokens, sleep, statValue, withGateway, type Gateway } from './harness.js';
import { fingerprint } from '../host/fingerprint.js';
import { keyStatus, parseStatus } from '../host/status_document.js';
import type { PluginConfig } from '../../envoy/config.js';

const TOKENS = ['sk-rt-a', 'sk-rt-b', 'sk-rt-c', 'sk-rt-d'];
const config = (maxRetries: number, retryTimeout = 3000): PluginConfig => ({
  provider: {
    apiTokens: TOKENS,
    failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
    retryOnFailure: { enabled: true, maxRetries, retryTimeout, retryOnStatus: ['401', '403', '429', '5..'] },
  },
});


test('one dead token, 1 retry: 500 requests all answer 200 with the provider body; the dead token is out after its third failure', async () => {
  await withGateway(config(1), async (gw) => {
    setTokens(gw, { 'sk-rt-b': '401' });
    const answers = await burst(gw, 500);
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.match(a.body, /Hello from the mock provider/);
    }
    const deadHits = gw.mock.requests.filter((r) => !isProbe(r) && r.token === 'sk-rt-b').length;
    // Up to 10 requests are in flight when the third failure lands.
    assert.ok(deadHits >= 3 && deadHits <= 12, `dead token received ${deadHits} requests`);
    const last = gw.mock.requests.filter((r) => !isProbe(r)).slice(-200);
    assert.ok(last.every((r) => r.token !== 'sk-rt-b'));
    assert.equal(await statValue(gw.adminPort, 'wasmcustom.ai_token_failover.pool.ai-token-failover:openai.retries.attempted'), deadHits);
  });
});

test('two dead tokens, maxRetries 3: 500 requests all answer 200', async () => {
  await withGateway(config(3), async (gw) => {
    setTokens(gw, { 'sk-rt-a': '401', 'sk-rt-c': '503' });
    const answers = await burst(gw, 500);
    const bad = answers.filter((a) => a.status !== 200);
    assert.equal(bad.length, 0, `statuses: ${bad.map((a) => a.status)}`);
  });
});

test('streaming: a dead token\'s 401 is retried into a whole stream from another key; a healthy stream arrives chunk by chunk', async () => {
  await withGateway(config(1), async (gw) => {
    setTokens(gw, { 'sk-rt-a': '401', 'sk-rt-b': { status: 200, chunkDelayMs: 200 }, 'sk-rt-c': { status: 200, chunkDelayMs: 200 }, 'sk-rt-d': { status: 200, chunkDelayMs: 200 } });
    let saw401 = false;
    for (let i = 0; i < 40 && !saw401; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw, { body: { model: 'm', stream: true, messages: [] } });
      const sent = gw.mock.requests.slice(before).filter((r) => !isProbe(r));
      assert.equal(a.status, 200, a.body);
      assert.ok(a.body.endsWith('data: [DONE]\n\n'), a.body);
      if (sent[0].token === 'sk-rt-a') {
        saw401 = true;
        assert.equal(sent.length, 2, 'the dead key\'s stream was not retried');
      } else {
        assert.equal(sent.length, 1, 'a healthy stream was retried');
      }
    }
    assert.ok(saw401, 'the dead token was never chosen');
    // Now the dead token is out or not: a healthy stream must arrive in pieces.
    const arrivals = await streamArrivals(gw);
    assert.ok(arrivals.length >= 2, `only ${arrivals.length} chunk(s) arrived`);
    assert.ok(arrivals[arrivals.length - 1] - arrivals[0] >= 400, 'first chunk did not arrive before the last was written');
  });
});

/**
 * When each chunk of a healthy streamed answer arrived (ms timestamps): one the first key served,
 * so asked again when the stream met the dead key (its retry arrives whole).
 */
function streamArrivals(gw: Gateway): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'm', stream: true, messages: [] });
    const before = gw.mock.requests.length;
    const req = http.request(gw.url(), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const times: number[] = [];
      res.on('data', () => times.push(Date.now()));
      res.on('end', () => {
        const attempts = gw.mock.requests.slice(before).filter((r) => !isProbe(r)).length;
        if (res.statusCode === 200 && attempts === 1) resolve(times);
        else streamArrivals(gw).then(resolve, reject);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a retry whose callout times out answers with the original failure within retryTimeout + 1 s', async () => {
  await withGateway(config(1, 2000), async (gw) => {
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 500, body: '{"error":"original"}' }])));
    // The first answer fails fast; every later request to the mock hangs past retryTimeout.
    let first = true;
    const original = gw.mock.behaviours;
    for (const t of TOKENS) original.set(t, { status: 500, body: '{"error":"original"}' });
    gw.mock.server.prependListener('request', (req) => {
      if (req.url?.startsWith('/__mock')) return;
      if (first) { first = false; return; }
      for (const t of TOKENS) original.set(t, { status: 500, delayMs: 10_000 });
    });
    const start = Date.now();
    const a = await chat(gw, { timeoutMs: 10_000 });
    const took = Date.now() - start;
    assert.equal(a.status, 500);
    assert.match(a.body, /original/);
    assert.ok(took <= 3000, `answered after ${took} ms`);
  });
});

test('a retry answer that arrives after its client left still reaches the plugin and counts for its key (the call belongs to the root context)', async () => {
  const keys = ['sk-late-a', 'sk-late-b'];
  const status = { statusPath: '/ai-token-failover/status', statusToken: 'late-status-token' };
  const cfg: PluginConfig = {
    ...status,
    provider: {
      apiTokens: keys,
      failover: { enabled: true, failureThreshold: 100, healthCheckInterval: 60_000, healthCheckModel: 'gpt-4o-mini' },
      retryOnFailure: { enabled: true, maxRetries: 1, retryTimeout: 5000 },
    },
  };
  await withGateway(cfg, async (gw) => {
    // Successful requests teach each worker the route first (an unlearned route proves nothing but a success).
    for (let i = 0; i < 20; i++) assert.equal((await chat(gw)).status, 200);
    setTokens(gw, { 'sk-late-a': '503', 'sk-late-b': { status: 401, delayMs: 1500 } });
    const start = gw.mock.requests.length;
    for (let i = 0; i < 8; i++) await chat(gw, { timeoutMs: 600 }).catch(() => null);
    await sleep(2000);
    const sent = gw.mock.requests.slice(start).filter((r) => !isProbe(r)).map((r) => r.token);
    // A request to B right after one to A is A's retry; B's own route attempts die with their client.
    const lateRetries = sent.filter((t, k) => t === 'sk-late-b' && sent[k - 1] === 'sk-late-a').length;
    assert.ok(lateRetries >= 1, `no request was retried on B: ${sent.join(' ')}`);
    const doc = parseStatus((await chat(gw, { method: 'GET', path: status.statusPath, token: status.statusToken })).body);
    assert.equal(keyStatus(doc, fingerprint(1, 'sk-late-b')).consecutiveFailures, lateRetries, sent.join(' '));
  });
});
