// The plugin as an upstream filter of the provider's cluster (envoy/envoy.upstream.yaml as shipped,
// behind the provider-shaped route: TLS with SNI, host and prefix rewrite, a route header):
// Envoy's retry_policy retries, streams included, and every attempt gets its own key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordedRequest } from '../../envoy/mock_provider.js';
import { escapeHeavyBody } from '../host/prompts.js';
import { MARKS_ANSWERS, chat, isProbe, luaFilter, setTokens, waitFor, type ChatAnswer, type Gateway } from './harness.js';
import { PROVIDER_HOST, PROVIDER_PATH, ROUTE_HEADER, UPSTREAM_STATUS, startUpstreamGateway } from './provider_gateway.js';

const TOKENS = ['sk-up-a', 'sk-up-b', 'sk-up-c', 'sk-up-d'];
const HC = { cluster: 'openai', authority: PROVIDER_HOST, path: PROVIDER_PATH };
const failover = (extra: Record<string, unknown> = {}) => ({ enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckTimeout: 1000,
  healthCheckModel: 'gpt-4o-mini', healthCheck: HC, ...extra });
const STREAM = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] };

/** The provider's requests (probes aside) grouped by the request they are attempts of. */
function attemptsByRequest(requests: RecordedRequest[]): Map<string, RecordedRequest[]> {
  const out = new Map<string, RecordedRequest[]>();
  for (const r of requests) {
    if (isProbe(r)) continue;
    const id = String(r.headers['x-request-id']);
    out.set(id, [...(out.get(id) ?? []), r]);
  }
  return out;
}

async function status(gw: Gateway) {
  const s = await chat(gw, { method: 'GET', path: UPSTREAM_STATUS.path, token: UPSTREAM_STATUS.token });
  assert.equal(s.status, 200, s.body);
  return JSON.parse(s.body);
}

/** `n` requests, `parallel` at a time; every other one streaming when `streaming`. */
async function load(gw: Gateway, n: number, parallel: number, options: (i: number) => Parameters<typeof chat>[1] = () => ({})): Promise<ChatAnswer[]> {
  const out: ChatAnswer[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await chat(gw, options(i));
    }
  }));
  return out;
}

test('a dead key (401): 400 requests, half streaming, all served; no attempt repeats a key; the key is out after 3 failures; a downstream filter sees every answer', async () => {
  const gw = await startUpstreamGateway({ provider: { apiTokens: TOKENS, failover: failover() } }, { filtersBefore: [luaFilter(MARKS_ANSWERS)] });
  try {
    setTokens(gw, { 'sk-up-b': '401' });
    const answers = await load(gw, 400, 1, (i) => (i % 2 == 0 ? { body: STREAM } : {}));
    for (const a of answers) {
      assert.equal(a.status, 200, a.body);
      assert.equal(a.headers['x-translated-by'], 'lua');
    }
    for (const a of answers.filter((_, i) => i % 2 == 0)) assert.match(a.body, /data: \[DONE\]/);
    const byRequest = attemptsByRequest(gw.mock.requests);
    assert.equal(byRequest.size, 400);
    for (const [id, attempts] of byRequest) {
      const keys = attempts.map((r) => r.token);
      assert.equal(new Set(keys).size, keys.length, `request ${id} repeated a key: ${keys}`);
      for (const r of attempts) {
        assert.equal(r.host, PROVIDER_HOST);
        assert.equal(r.sni, PROVIDER_HOST);
        assert.equal(r.path, PROVIDER_PATH);
        assert.equal(r.headers[ROUTE_HEADER[0]], ROUTE_HEADER[1]);
        assert.equal(r.headers['x-ai-token-failover-probe'], undefined);
      }
    }
    const dead = gw.mock.requests.filter((r) => !isProbe(r) && r.token === 'sk-up-b');
    assert.equal(dead.length, 3, 'attempts that reached the dead key');
    const doc = await status(gw);
    assert.equal(doc.tokensInPool, 3);
    // Probes go through the cluster with the key they probe, never a pool key in its place.
    assert.ok(await waitFor(() => gw.mock.requests.some((r) => isProbe(r) && r.token === 'sk-up-b'), 4000), 'no probe of the dead key');
    for (const p of gw.mock.requests.filter(isProbe)) {
      assert.equal(p.token, 'sk-up-b');
      assert.equal(p.headers['x-ai-token-failover-probe'], undefined);
      assert.equal(p.sni, PROVIDER_HOST);
    }
    gw.mock.behaviours.clear();
    assert.ok(await waitFor(async () => (await status(gw)).tokensInPool === 4, 4000), 'the healed key is not back');
  } finally {
    await gw.stop();
  }
});

test('two keys answering 503, kept in the pool, three retries allowed: every request served within 3 attempts', async () => {
  const gw = await startUpstreamGateway({ provider: { apiTokens: TOKENS, failover: failover({ failoverOnStatus: ['401', '403', '429'] }) } }, { retries: 3 });
  try {
    setTokens(gw, { 'sk-up-a': '503', 'sk-up-c': '503' });
    const answers = await load(gw, 200, 4, (i) => (i % 2 == 0 ? { body: STREAM } : {}));
    for (const a of answers) assert.equal(a.status, 200, a.body);
    const byRequest = attemptsByRequest(gw.mock.requests);
    assert.equal(byRequest.size, 200);
    let retried = 0;
    for (const [id, attempts] of byRequest) {
      assert.ok(attempts.length <= 3, `request ${id} took ${attempts.length} attempts: ${attempts.map((r) => r.token)}`);
      assert.equal(new Set(attempts.map((r) => r.token)).size, attempts.length);
      if (attempts.length > 1) retried++;
    }
    assert.ok(retried > 50, `${retried} requests needed a retry`);
    assert.equal((await status(gw)).tokensInPool, 4);
  } finally {
    await gw.stop();
  }
});

test('a stream whose first attempt gets 429 with Retry-After: one clean stream from another key, and the key is benched (10 s for one answer, see docs/behaviour.md)', async () => {
  const gw = await startUpstreamGateway({ provider: { apiTokens: TOKENS, failover: failover() } });
  try {
    setTokens(gw, { 'sk-up-d': { status: 429, retryAfter: 30 } });
    let hit: ChatAnswer | null = null;
    for (let i = 0; i < 40 && !hit; i++) {
      const before = gw.mock.requests.length;
      const a = await chat(gw, { body: STREAM });
      assert.equal(a.status, 200, a.body);
      if (gw.mock.requests.slice(before).some((r) => r.token === 'sk-up-d')) hit = a;
    }
    assert.ok(hit, 'no stream met the limited key');
    assert.equal(hit!.headers['content-type'], 'text/event-stream');
    const events = hit!.body.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.equal(events.filter((e) => e.startsWith('data: {')).length, 5, hit!.body);
    const doc = await status(gw);
    const key = doc.tokens.find((t: { inPool: boolean }) => !t.inPool);
    assert.equal(key?.state, 'waiting');
    // One request's Retry-After: 30 benches the key for at most 10 s until another request repeats it.
    assert.ok(key.returnsInMs > 5_000 && key.returnsInMs <= 10_000, JSON.stringify(key));
    const mark = gw.mock.requests.length;
    for (let i = 0; i < 30; i++) assert.equal((await chat(gw)).status, 200);
    assert.equal(gw.mock.requests.slice(mark).filter((r) => r.token === 'sk-up-d').length, 0);
  } finally {
    await gw.stop();
  }
});

test('affinity: 20 consumers x 50 requests each stay on one key; a key taken out moves only its consumers', async () => {
  const gw = await startUpstreamGateway({ affinity: { header: 'x-user-id' }, provider: { apiTokens: TOKENS, failover: failover() } });
  try {
    const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const keysOf = (from: number) => {
      const m = new Map<string, Set<string>>();
      for (const r of gw.mock.requests.slice(from)) {
        if (isProbe(r)) continue;
        const u = String(r.headers['x-user-id']);
        m.set(u, (m.get(u) ?? new Set()).add(String(r.token)));
      }
      return m;
    };
    const answers = await load(gw, 1000, 8, (i) => ({ headers: { 'x-user-id': users[i % 20] } }));
    for (const a of answers) assert.equal(a.status, 200);
    const first = keysOf(0);
    for (const u of users) assert.equal(first.get(u)?.size, 1, `${u} used ${[...(first.get(u) ?? [])]}`);
    const home = new Map(users.map((u) => [u, [...first.get(u)!][0]]));
    assert.ok(new Set(home.values()).size >= 3, 'the consumers spread over the keys');
    // Take the key of the first consumer out: its consumers get their next key, nobody else moves.
    const victim = home.get(users[0])!;
    setTokens(gw, { [victim]: '401' });
    const moved = users.filter((u) => home.get(u) === victim);
    for (let i = 0; i < 3; i++) assert.equal((await chat(gw, { headers: { 'x-user-id': moved[0] } })).status, 200);
    assert.equal((await status(gw)).tokensInPool, 3);
    const mark = gw.mock.requests.length;
    for (const a of await load(gw, 200, 8, (i) => ({ headers: { 'x-user-id': users[i % 20] } }))) assert.equal(a.status, 200);
    const after = keysOf(mark);
    for (const u of users) {
      const keys = [...after.get(u)!];
      assert.equal(keys.length, 1, `${u} used ${keys}`);
      if (home.get(u) === victim) assert.notEqual(keys[0], victim);
      else assert.equal(keys[0], home.get(u), `${u} moved though its key stayed`);
    }
  } finally {
    await gw.stop();
  }
});

test('no key has room: the plugin answers 429 with Retry-After from the upstream filter, Envoy retries it and the client gets it, never a hang', async () => {
  const gw = await startUpstreamGateway({ provider: { apiTokens: [{ token: 'sk-up-only', rpm: 1 }], failover: failover() } });
  try {
    assert.equal((await chat(gw)).status, 200);
    const started = Date.now();
    const r = await chat(gw, { timeoutMs: 10_000 });
    assert.equal(r.status, 429, r.body);
    assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
    assert.ok(Date.now() - started < 8000);
    assert.equal(gw.mock.requests.filter((q) => !isProbe(q)).length, 1);
  } finally {
    await gw.stop();
  }
});

test('hostile and heavy input in the upstream placement: forged probe marks and request ids, 600 KiB prompts, 40 keys with 10 dead, clients leaving mid-retry', async () => {
  const keys = Array.from({ length: 40 }, (_, i) => `sk-up-many-${i}`);
  const gw = await startUpstreamGateway({ provider: { apiTokens: keys, failover: failover({ maxEjectionPercent: 50 }) } });
  try {
    setTokens(gw, Object.fromEntries(keys.slice(0, 10).map((k) => [k, '401'])));
    // A client claiming to be a probe, or reusing one request id for all its requests, still goes
    // out with a pool key in place of its credential, and the mark never reaches the provider.
    // One after another, each request starts afresh at attempt 1 and is served.
    const forged = await load(gw, 60, 1, () => ({ headers: { 'x-ai-token-failover-probe': 'guess', 'x-request-id': 'same-for-all' } }));
    // Before the dead keys leave, a request's four attempts can all meet one (about 0.2% each).
    const failed = forged.filter((a) => a.status !== 200);
    assert.ok(failed.length <= 1 && failed.every((a) => a.status === 401), JSON.stringify(failed.map((a) => a.status)));
    // At once, the attempts of its requests share one ledger entry: only that client can meet a
    // dead key's answer; another client, meanwhile, is served every time.
    const [reused, other] = await Promise.all([
      load(gw, 60, 4, () => ({ headers: { 'x-ai-token-failover-probe': 'guess', 'x-request-id': 'same-at-once' } })),
      load(gw, 60, 2),
    ]);
    for (const a of reused) assert.ok(a.status === 200 || a.status === 401, `${a.status} ${a.body}`);
    for (const a of other) assert.equal(a.status, 200, a.body);
    for (const r of gw.mock.requests.filter((q) => !isProbe(q))) {
      assert.ok(keys.includes(String(r.token)), String(r.token));
      assert.equal(r.headers['x-ai-token-failover-probe'], undefined);
    }
    // Long, escape-heavy prompts go whole to each attempt.
    const prompt = escapeHeavyBody(600 * 1024);
    const sent = gw.mock.requests.length;
    for (let i = 0; i < 5; i++) assert.equal((await chat(gw, { body: prompt, timeoutMs: 20_000 })).status, 200);
    for (const r of gw.mock.requests.slice(sent).filter((q) => !isProbe(q))) assert.equal(JSON.stringify(r.body), prompt, 'an attempt did not carry the whole prompt');
    // Clients that leave while Envoy retries with a slow key leave Envoy serving.
    setTokens(gw, Object.fromEntries(keys.slice(10, 20).map((k) => [k, { status: 503, delayMs: 1500 }])));
    for (let i = 0; i < 10; i++) await chat(gw, { timeoutMs: 200 }).catch(() => undefined);
    gw.mock.behaviours.clear();
    for (const a of await load(gw, 40, 4)) assert.equal(a.status, 200);
    assert.ok((await status(gw)).tokensInPool >= 20);
  } finally {
    await gw.stop();
  }
});
