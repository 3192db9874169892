// Hostile input in a real Envoy (two workers) behind the provider-shaped route (TLS with SNI, host
// and path rewrite, a route-added header): the body is read as the provider reads it, a slow first
// body switches nothing off for the others, and stalled uploads cannot take their retries away.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { chat, isProbe, setTokens, sleep, type ChatAnswer, type Gateway } from './harness.js';
import { startProviderGateway } from './provider_gateway.js';

const AMBIGUOUS = /"code":"ambiguous_model"/;

/** Sends a chat request whose headers go at once and whose body `body` follows after `delayMs`. */
function slowBody(gw: Gateway, body: string, delayMs: number): Promise<ChatAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(gw.url(), {
      method: 'POST', agent: false, timeout: 20_000,
      headers: { 'content-type': 'application/json', authorization: 'Bearer client-key', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.flushHeaders();
    setTimeout(() => req.end(body), delayMs);
  });
}

/** Starts an upload of `total` bytes, sends `sent` of them and stalls; returns a function that drops it. */
function stalledUpload(gw: Gateway, total: number, sent: number): () => void {
  const req = http.request(gw.url(), {
    method: 'POST', agent: false,
    headers: { 'content-type': 'application/json', authorization: 'Bearer client-key', 'content-length': total },
  });
  req.on('error', () => {});
  req.write('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' + 'x'.repeat(sent));
  return () => req.destroy();
}

test('the body as the provider reads it: the last "model" picks the key, an escaped one too, one in another case is refused; a hidden "stream": true streams', async () => {
  const keys = { 'sk-hi-mini': ['gpt-4o-mini'], 'sk-hi-o1': ['o1-pro'] };
  const config = {
    provider: {
      apiTokens: Object.entries(keys).map(([token, models]) => ({ token, models })),
      failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
      retryOnFailure: { enabled: true },
    },
  } as PluginConfig;
  const gw = await startProviderGateway(config);
  try {
    const bodies = ['{"model":"gpt-4o-mini","model":"o1-pro","messages":[]}', '{"model":"gpt-4o-mini","\\u006dodel":"o1-pro","messages":[]}',
      '{"model":"o1-pro","model":"gpt-4o-mini","messages":[]}'];
    for (let i = 0; i < 10; i++) for (const body of bodies) assert.equal((await chat(gw, { body })).status, 200);
    // Every request reached a key that serves the model the provider read (its JSON parser keeps the last).
    const sent = gw.mock.requests.filter((r) => !isProbe(r));
    assert.equal(sent.length, 30);
    for (const r of sent) {
      const model = (r.body as { model?: string }).model ?? '';
      assert.ok(keys[r.token as keyof typeof keys].includes(model), `${model} went out with a key that does not serve it`);
    }
    for (const body of ['{"model":"gpt-4o-mini","MODEL":"o1-pro"}', '{"Model":"o1-pro","messages":[]}']) {
      const r = await chat(gw, { body });
      assert.equal(r.status, 400);
      assert.match(r.body, AMBIGUOUS);
    }
    assert.equal(gw.mock.requests.filter((r) => !isProbe(r)).length, 30, 'an ambiguous request reached the provider');
    const stream = await chat(gw, { body: '{"model":"gpt-4o-mini","stream":false,"stream":true,"messages":[]}' });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream');
    assert.match(stream.body, /data: \[DONE\]/);
  } finally {
    await gw.stop();
  }
});

test('max_tokens as 3e4 counts against a token budget as 30000 does: a burst of such requests is refused beyond the budget', async () => {
  // 80,000 tpm: an unanswered request reserves at most an eighth of the bucket; answers take 1 s.
  const config = { provider: { apiTokens: [{ token: 'sk-hi-t', tpm: 80000 }] } } as PluginConfig;
  const gw = await startProviderGateway(config);
  try {
    setTokens(gw, { 'sk-hi-t': { delayMs: 1000 } });
    const burst = (asked: string) => Promise.all(Array.from({ length: 20 }, (_, k) => chat(gw, { body: `{"model":"gpt-4o-mini",${asked},"messages":[{"role":"user","content":"q${k}"}]}` })));
    const large = await burst('"max_tokens":3e4');
    const served = large.filter((a) => a.status === 200).length;
    assert.ok(served <= 12, `${served} of 20 requests asking 3e4 tokens were sent`);
    assert.ok(large.every((a) => a.status === 200 || (a.status === 429 && Number(a.headers['retry-after']) >= 1)));
  } finally {
    await gw.stop();
  }
});

test('a slow first body on a fresh Envoy switches nothing off: the others are held for their model and served, the slow one too', async () => {
  const config = {
    provider: { apiTokens: [{ token: 'sk-hs-1', models: ['gpt-4o-mini'] }, { token: 'sk-hs-2', models: ['gpt-4o-mini'] }] },
  } as PluginConfig;
  const gw = await startProviderGateway(config);
  try {
    const slow = slowBody(gw, '{"model":"gpt-4o-mini","messages":[]}', 1500);
    await sleep(400);
    const others = await Promise.all(Array.from({ length: 30 }, () => chat(gw)));
    assert.deepEqual([...new Set(others.map((a) => a.status))], [200]);
    assert.equal((await slow).status, 200);
    assert.deepEqual([...new Set((await Promise.all(Array.from({ length: 10 }, () => chat(gw)))).map((a) => a.status))], [200]);
    assert.doesNotMatch(gw.envoy.log, /allow_on_headers_stop_iteration/);
  } finally {
    await gw.stop();
  }
});

test('without allow_on_headers_stop_iteration a held request waits while its client sends nothing, and goes on once Envoy has body bytes it withholds; then the process knows', async () => {
  const config = { provider: { apiTokens: ['sk-hw-any', { token: 'sk-hw-mini', models: ['gpt-4o-mini'] }] } } as PluginConfig;
  const gw = await startProviderGateway(config, { allowOnHeadersStopIteration: false });
  try {
    const started = Date.now();
    const slow = slowBody(gw, '{"model":"gpt-4o-mini","messages":[]}', 1200);
    await sleep(1000);
    assert.doesNotMatch(gw.envoy.log, /allow_on_headers_stop_iteration/, 'a client that had sent nothing taught the process');
    const answer = await slow;
    assert.equal(answer.status, 200);
    const took = Date.now() - started;
    assert.ok(took < 1200 + 1000, `the request took ${took} ms`);
    assert.equal(gw.mock.requests.at(-1)?.token, 'sk-hw-any');
    assert.equal(gw.envoy.log.match(/allow_on_headers_stop_iteration: true on the envoy\.filters\.http\.wasm filter/g)?.length, 1);
  } finally {
    await gw.stop();
  }
});

test('uploads that stall cannot take the other clients\' retries away: after two sweeps a second apart every request is retried again', async () => {
  const config = {
    provider: { apiTokens: ['sk-hu-ok', 'sk-hu-bad'], retryOnFailure: { enabled: true, maxHeldBytes: 1 << 20 } },
  } as PluginConfig;
  const gw = await startProviderGateway(config);
  const drops: Array<() => void> = [];
  try {
    setTokens(gw, { 'sk-hu-bad': 503 });
    // Eight uploads of 2 MiB stall after 700 KiB: at least one worker holds four, over its 1 MiB.
    for (let i = 0; i < 8; i++) drops.push(stalledUpload(gw, 2 << 20, 700 * 1024));
    await sleep(300);
    for (let i = 0; i < 25; i++) {
      await chat(gw);
      await sleep(100);
    }
    const skipped = Number((await gw.stats()).match(/ai_token_failover_retries_skipped_memory\{pool="ai-token-failover:openai"\} (\d+)/)?.[1] ?? 0);
    assert.ok(skipped > 0, 'the stalled uploads never filled a worker');
    const answers: ChatAnswer[] = [];
    for (let round = 0; round < 10; round++) answers.push(...await Promise.all(Array.from({ length: 4 }, () => chat(gw))));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
  } finally {
    for (const drop of drops) drop();
    await gw.stop();
  }
});

test('a retried answer over Envoy\'s 1 MiB buffer (a 2 MiB completion) reaches the client whole, as the plugin\'s own reply', async () => {
  const config = {
    provider: { apiTokens: ['sk-hb-a', 'sk-hb-b'], failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
      retryOnFailure: { enabled: true } },
  } as PluginConfig;
  const gw = await startProviderGateway(config);
  try {
    // Both workers learn the route first, so their retries go where the route sends requests.
    for (let i = 0; i < 12; i++) assert.equal((await chat(gw)).status, 200);
    const big = 2 << 20;
    setTokens(gw, { 'sk-hb-a': { status: 500, body: '{"error":"first answer"}' }, 'sk-hb-b': { bodyBytes: big } });
    let retried = 0;
    for (let i = 0; i < 30 && retried < 3; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw, { timeoutMs: 30_000 });
      const sent = gw.mock.requests.slice(before).filter((r) => !isProbe(r));
      if (sent[0]?.token !== 'sk-hb-a') continue;
      retried++;
      assert.equal(a.status, 200, a.body.slice(0, 200));
      assert.equal(Buffer.byteLength(a.body), big);
      assert.equal(JSON.parse(a.body).object, 'chat.completion');
    }
    assert.ok(retried >= 3, `${retried} requests met the failing key first`);
  } finally {
    await gw.stop();
  }
});

test('credentials in the query string (?key=, ?api-key=, ?api_key=, ?subscription-key=, percent-encoded or in another case) never reach the provider, retries included', async () => {
  const config = {
    provider: { apiTokens: ['sk-hq-a', 'sk-hq-b'], failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
      retryOnFailure: { enabled: true } },
  } as PluginConfig;
  const gw = await startProviderGateway(config);
  try {
    for (let i = 0; i < 12; i++) assert.equal((await chat(gw)).status, 200);
    setTokens(gw, { 'sk-hq-a': 503 });
    const queries = ['key=client-own', 'api-key=client-own&api-version=2024-10-21', 'api_key=client-own', 'subscription-key=client-own',
      '%6Bey=client-own', 'API-KEY=client-own'];
    for (let round = 0; round < 4; round++) {
      for (const q of queries) assert.equal((await chat(gw, { path: `/openai/v1/chat/completions?${q}` })).status, 200);
    }
    const sent = gw.mock.requests.filter((r) => !isProbe(r));
    assert.ok(sent.some((r) => r.token === 'sk-hq-a') && sent.filter((r) => r.token === 'sk-hq-b').length > 24, 'no request was retried');
    for (const r of sent) assert.doesNotMatch(r.path ?? '', /client-own/, `${r.path} reached the provider`);
    assert.ok(sent.some((r) => r.path === '/v1/chat/completions?api-version=2024-10-21'), 'the other parameters did not go through');
  } finally {
    await gw.stop();
  }
});
