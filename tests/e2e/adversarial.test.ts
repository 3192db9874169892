// Adversarial input in a real Envoy (two workers): clients that leave while their retry is in
// flight, providers that reset connections, answers too big to retry, long escape-heavy prompts,
// compressed answers, hundreds of keys, and reloads under load. Each ends with a clear outcome and
// an Envoy that still serves, with no trap in its log.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import zlib from 'node:zlib';
import type { PluginConfig } from '../../envoy/config.js';
import { escapeHeavyBody } from '../host/prompts.js';
import { parseStatus } from '../host/status_document.js';
import { TRAP, burst, chat, isProbe, leaveDuringRetry, setTokens, sleep, waitFor, withGateway, type ChatAnswer, type Gateway } from './harness.js';

const TOKENS = ['sk-adv-a', 'sk-adv-b', 'sk-adv-c', 'sk-adv-d'];
const STATUS_TOKEN = 'adversarial-status-secret';
const retrying = (extra: Record<string, unknown> = {}): PluginConfig => ({
  statusPath: '/ai-token-failover/status',
  statusToken: STATUS_TOKEN,
  provider: { apiTokens: TOKENS, retryOnFailure: { enabled: true, maxRetries: 1 }, ...extra },
});

/** Envoy still answers, every key healthy again serves 200, and its log shows no trap. */
async function assertStillServing(gw: Gateway): Promise<void> {
  gw.mock.behaviours.clear();
  const answers = await burst(gw, 40, 10);
  assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => a.status), []);
  assert.doesNotMatch(gw.envoy.log, TRAP);
}

async function statusDocument(gw: Gateway) {
  const r = await fetch(gw.url('/ai-token-failover/status'), { headers: { authorization: `Bearer ${STATUS_TOKEN}` } });
  assert.equal(r.status, 200);
  return parseStatus(await r.text());
}

test('clients that leave while their retry is in flight: the retry is dropped with the stream, nothing hangs or traps', async () => {
  await withGateway(retrying(), async (gw) => {
    for (let round = 0; round < 12; round++) await leaveDuringRetry(gw, TOKENS);
    // The abandoned retries' answers would have arrived by now.
    await sleep(1700);
    await assertStillServing(gw);
  });
});

test('a provider that resets connections: clients get Envoy\'s 503 or a cut answer, no key is charged, healthy keys keep serving', async () => {
  await withGateway(retrying({ failover: { enabled: true, failureThreshold: 2, healthCheckInterval: 60_000, healthCheckModel: 'm' } }), async (gw) => {
    setTokens(gw, { 'sk-adv-a': { reset: 'before-headers' }, 'sk-adv-b': { reset: 'mid-body' } });
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 80; i++) {
      const outcome = await chat(gw).then((a) => String(a.status), (e: Error) => (/socket hang up|aborted|ECONNRESET/.test(e.message) ? 'cut' : e.message));
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    const seen = Object.fromEntries(outcomes);
    assert.deepEqual(Object.keys(seen).filter((k) => !['200', '503', 'cut'].includes(k)), [], JSON.stringify(seen));
    assert.ok((seen['503'] ?? 0) > 0 && (seen.cut ?? 0) > 0 && (seen['200'] ?? 0) > 0, JSON.stringify(seen));
    // A reset is the connection's fault, not the key's: both stay in the pool.
    const doc = await statusDocument(gw);
    assert.equal(doc.tokensInPool, 4);
    await assertStillServing(gw);
  });
});

test('answers too big to retry are never cut: an 8 MiB answer passes whole, a 5 MiB retry answer gives way to the first answer with a warning', async () => {
  await withGateway(retrying(), async (gw) => {
    const big = 8 << 20;
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { bodyBytes: big }])));
    const whole = await chat(gw, { timeoutMs: 30_000 });
    assert.equal(whole.status, 200);
    assert.equal(Buffer.byteLength(whole.body), big);
    assert.equal(JSON.parse(whole.body).object, 'chat.completion');

    setTokens(gw, { 'sk-adv-a': { status: 500, body: '{"error":"first answer"}' }, 'sk-adv-b': { bodyBytes: 5 << 20 }, 'sk-adv-c': { bodyBytes: 5 << 20 }, 'sk-adv-d': { bodyBytes: 5 << 20 } });
    let firstFailed = false;
    for (let i = 0; i < 40 && !firstFailed; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw, { timeoutMs: 30_000 });
      const sent = gw.mock.requests.slice(before).filter((r) => !isProbe(r));
      if (sent[0]?.token !== 'sk-adv-a') continue;
      firstFailed = true;
      assert.equal(sent.length, 2, 'the failed request was not retried');
      assert.equal(a.status, 500);
      assert.equal(a.body, '{"error":"first answer"}');
    }
    assert.ok(firstFailed, 'the failing key was never chosen first');
    assert.ok(await waitFor(() => /a retry answer of \d+ bytes is over the 4194304-byte limit/.test(gw.envoy.log), 2000), 'no warning');
    await assertStillServing(gw);
  });
});

test('a 900 KiB prompt full of escapes is retried byte for byte', async () => {
  await withGateway(retrying(), async (gw) => {
    setTokens(gw, { 'sk-adv-a': '503' });
    const body = escapeHeavyBody(900 * 1024);
    let retried = false;
    for (let i = 0; i < 40 && !retried; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw, { body, timeoutMs: 30_000 });
      assert.equal(a.status, 200);
      const sent = gw.mock.requests.slice(before).filter((r) => !isProbe(r));
      if (sent[0]?.token !== 'sk-adv-a') continue;
      retried = true;
      assert.equal(sent.length, 2);
      assert.equal(JSON.stringify(sent[1].body), body, 'the retry did not carry the client\'s body unchanged');
    }
    assert.ok(retried, 'the failing key was never chosen first');
  });
});

test('a 200 KiB prompt sent in three chunks with its model at the end: the key is chosen by that model and a retry carries the whole body', async () => {
  const apiTokens = [{ token: 'sk-adv-a', models: ['m-a'] }, { token: 'sk-adv-b', models: ['m-a'] }, { token: 'sk-adv-c', models: ['m-c'] }];
  await withGateway({ provider: { apiTokens, retryOnFailure: { enabled: true, maxRetries: 1 } } }, async (gw) => {
    // OpenAI's SDKs put "model" after "messages": the key depends on the body's last chunk.
    const body = escapeHeavyBody(200 * 1024).replace('{"model":"m",', '{').slice(0, -1) + ',"model":"m-a"}';
    const parts = [body.slice(0, 70_000), body.slice(70_000, 140_000), body.slice(140_000)];
    setTokens(gw, { 'sk-adv-a': '503' });
    let retried = 0;
    for (let i = 0; i < 12; i++) {
      const before = gw.mock.requests.length;
      assert.equal(await chunkedChat(gw, parts), 200);
      const sent = gw.mock.requests.slice(before).filter((r) => !isProbe(r));
      for (const r of sent) {
        assert.notEqual(r.token, 'sk-adv-c', 'a key without the model was used');
        assert.equal(JSON.stringify(r.body), body, 'the provider did not receive the whole body');
      }
      if (sent.length === 2) retried++;
    }
    assert.ok(retried > 0, 'no request was retried');
  });
});

/** Sends `parts` as separate chunks of one request, 30 ms apart; resolves the status. */
function chunkedChat(gw: Gateway, parts: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(gw.url(), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    let next = 0;
    const write = () => { if (next < parts.length) { req.write(parts[next++]); setTimeout(write, 30); } else req.end(); };
    write();
  });
}

test('compressed answers: passed through intact; with a body rule the provider is asked for identity encoding', async () => {
  await withGateway(retrying(), async (gw) => {
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { gzip: true }])));
    const a = await gzipChat(gw);
    assert.equal(a.status, 200);
    assert.equal(a.encoding, 'gzip');
    assert.equal(JSON.parse(zlib.gunzipSync(a.body).toString()).object, 'chat.completion');
  });
  const bodyRule = { failover: { enabled: true, healthCheckModel: 'm', failureConditions: [{ status: ['200'], body: 'No quota' }] } };
  await withGateway(retrying(bodyRule), async (gw) => {
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { gzip: true }])));
    const a = await gzipChat(gw);
    assert.equal(a.status, 200);
    assert.equal(a.encoding, undefined);
    assert.equal(gw.mock.requests.at(-1)?.headers['accept-encoding'], 'identity');
  });
});

/** A chat request that accepts gzip; resolves the raw answer. */
function gzipChat(gw: Gateway): Promise<{ status: number; encoding: string | undefined; body: Buffer }> {
  const data = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  return new Promise((resolve, reject) => {
    const req = http.request(gw.url(), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

test('300 keys, 100 of them dead: of 1,000 requests at most 1% see a dead key (four in a row), and the dead ones leave the pool', async () => {
  const tokens = Array.from({ length: 300 }, (_, i) => `sk-many-${String(i).padStart(3, '0')}`);
  const dead = tokens.filter((_, i) => i % 3 === 0);
  const cfg: PluginConfig = {
    statusPath: '/ai-token-failover/status',
    statusToken: STATUS_TOKEN,
    provider: { apiTokens: tokens, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 60_000, healthCheckModel: 'm' }, retryOnFailure: { enabled: true, maxRetries: 3 } },
  };
  await withGateway(cfg, async (gw) => {
    // The workers learn the route first: until then a retry's failure does not count (it may have
    // gone to the wrong place), which would leave a dead key used only by such a retry in the pool.
    for (const a of await burst(gw, 20, 10)) assert.equal(a.status, 200);
    setTokens(gw, Object.fromEntries(dead.map((t) => [t, '401'])));
    const answers = await burst(gw, 1000, 10);
    // With maxRetries 3 a request fails only when its four keys are all dead, before they are out.
    const failed = answers.filter((a) => a.status !== 200).map((a) => a.status);
    assert.ok(failed.length <= 10 && failed.every((s) => s === 401), `answers other than 200: ${failed.join(', ')}`);
    const used = new Set(gw.mock.requests.filter((r) => !isProbe(r) && dead.includes(r.token ?? '')).map((r) => r.token));
    // A request whose four keys all answered 401 is the request's fault by the rule (another key
    // repeated the status): those keys count only if another request uses them again. A dead key
    // leaves once its probe answers (at most 4 in flight per VM), so the pool settles shortly after.
    const settled = (n: number) => n >= 300 - used.size && n <= 300 - used.size + 4 * failed.length;
    let doc = await statusDocument(gw);
    const until = Date.now() + 10_000;
    while (!settled(doc.tokensInPool) && Date.now() < until) {
      await sleep(100);
      doc = await statusDocument(gw);
    }
    assert.ok(settled(doc.tokensInPool),
      `${doc.tokensInPool} keys in the pool, ${used.size} dead keys used, ${failed.length} requests failed: every dead key used left the pool, but those only a failed request used`);
    assert.ok(used.size >= 90, `only ${used.size} dead keys were used`);
    assert.doesNotMatch(gw.envoy.log, TRAP);
  });
});

test('reloads under load: three configuration changes while requests keep running, every request answers 200', async () => {
  await withGateway(retrying(), async (gw) => {
    let reloading = true;
    const load = (async () => {
      const answers: ChatAnswer[] = [];
      while (reloading) answers.push(...await burst(gw, 20, 10));
      return answers;
    })();
    for (const tokens of [[...TOKENS, 'sk-adv-e'], TOKENS.slice(1), TOKENS]) {
      await sleep(300);
      await gw.reload({ ...retrying(), provider: { apiTokens: tokens, retryOnFailure: { enabled: true, maxRetries: 1 } } });
    }
    reloading = false;
    const answers = await load;
    assert.ok(answers.length >= 200, `only ${answers.length} requests ran during the reloads`);
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => a.status), []);
    assert.ok(gw.mock.requests.some((r) => r.token === 'sk-adv-e'), 'the reloaded configuration was never used');
    assert.doesNotMatch(gw.envoy.log, TRAP);
  }, { lds: true });
});
