// When the provider or the account is the problem, in a real Envoy (two workers) behind the
// provider-shaped route (TLS with SNI, host and path rewrite, a route-added header): every key
// fails the same way, and the plugin paces the provider, answers for it and shows it; one client's
// request-specific refusals change nothing for the others.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { chat, isProbe, setTokens, sleep, type ChatAnswer, type Gateway } from './harness.js';
import { startProviderGateway } from './provider_gateway.js';
import type { StatusDocument } from '../host/status_document.js';

const TOKENS = ['sk-po-a', 'sk-po-b', 'sk-po-c', 'sk-po-d'];
const STATUS = { statusPath: '/ai-token-failover/status', statusToken: 'outage-status-token' };

function config(extra: Record<string, unknown> = {}): PluginConfig {
  return {
    provider: {
      apiTokens: TOKENS,
      failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini', ...extra },
      retryOnFailure: { enabled: true },
    },
    ...STATUS,
  } as PluginConfig;
}

// Clients ask different questions, as real ones do.
const question = (k: number) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${k}` }] });

async function status(gw: Gateway): Promise<StatusDocument> {
  const r = await chat(gw, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as StatusDocument;
}

/** A gateway whose workers have both served (each learns the route its retries follow). */
async function warmGateway(cfg: PluginConfig): Promise<Gateway> {
  const gw = await startProviderGateway(cfg);
  for (let k = 0; k < 12; k++) assert.equal((await chat(gw, { body: question(-k) })).status, 200);
  return gw;
}

/** Sends `perSecond` requests a second for `seconds`, without waiting for answers; resolves them all. */
async function steady(gw: Gateway, perSecond: number, seconds: number, from = 0): Promise<ChatAnswer[]> {
  const sent: Array<Promise<ChatAnswer>> = [];
  const start = Date.now();
  for (let k = 0; k < perSecond * seconds; k++) {
    const due = start + (k * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    sent.push(chat(gw, { body: question(from + k) }));
  }
  return Promise.all(sent);
}

/** What reached the provider after `t0` (probes included), by whole second since `t0`. */
function perSecond(gw: Gateway, t0: number, seconds: number): number[] {
  const counts = new Array<number>(seconds).fill(0);
  for (const r of gw.mock.requests) {
    const s = Math.floor((r.time - t0) / 1000);
    if (s >= 0 && s < seconds) counts[s]++;
  }
  return counts;
}

test('every key 429 with Retry-After: 5, 10 requests/s for 4 s: after the first second the provider gets at most 2 a second, every client gets 429 with Retry-After', async (t) => {
  const gw = await warmGateway(config());
  try {
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 429, retryAfter: 5 }])));
    const t0 = Date.now();
    const answers = await steady(gw, 10, 4);
    const counts = perSecond(gw, t0, 4);
    t.diagnostic(`provider requests per second: ${counts}`);
    for (const [s, n] of counts.entries()) if (s > 0) assert.ok(n <= 2, `second ${s}: ${n} requests reached the provider (${counts})`);
    for (const a of answers) {
      assert.equal(a.status, 429, a.body);
      assert.ok(Number(a.headers['retry-after']) >= 1, JSON.stringify(a.headers));
    }
  } finally {
    await gw.stop();
  }
});

test('every key 429 without headers, 100 requests/s for 6 s: every later second the provider gets at most a third of the first; the status says limited; a success ends it', async (t) => {
  const gw = await warmGateway(config());
  try {
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, 429])));
    const t0 = Date.now();
    const answers = await steady(gw, 100, 6);
    const counts = perSecond(gw, t0, 6);
    t.diagnostic(`provider requests per second: ${counts}`);
    assert.ok(counts[0] >= 3, `${counts}`);
    for (const [s, n] of counts.entries()) if (s > 0) assert.ok(n <= counts[0] / 3, `second ${s}: ${n} requests, first ${counts[0]} (${counts})`);
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [429]);
    // The plugin's answers carry Retry-After; the few paced requests get the provider's own answer.
    const told = answers.filter((a) => Number(a.headers['retry-after']) >= 1).length;
    assert.ok(told >= answers.length * 0.9, `${told} of ${answers.length} answers carry Retry-After`);
    const doc = await status(gw);
    assert.equal(doc.provider.state, 'limited');
    assert.equal(doc.provider.lastStatus, 429);
    assert.equal(doc.tokensInPool, 4);
    for (const t of doc.tokens) assert.equal(t.lastStatus, 429);
    const stats = await gw.stats();
    assert.match(stats, /ai_token_failover_provider_state\{pool="ai-token-failover:openai"\} 1\b/);
    assert.match(stats, /ai_token_failover_provider_answers\{pool="ai-token-failover:openai"\} [1-9]/);
    assert.match(gw.envoy.log, /provider limited \(status 429 on every key, from different requests\)/);

    // Healed: the next paced request succeeds, and then every client is served.
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, 'ok'])));
    await sleep((doc.provider.nextRequestInMs ?? 0) + 100);
    let served = false;
    for (let k = 0; k < 400 && !served; k++) {
      served = (await chat(gw, { body: question(10_000 + k) })).status === 200;
      if (!served) await sleep(100);
    }
    assert.ok(served, 'no request was served after the provider healed');
    const after = await Promise.all(Array.from({ length: 10 }, (_, k) => chat(gw, { body: question(20_000 + k) })));
    assert.deepEqual([...new Set(after.map((a) => a.status))], [200]);
    assert.equal((await status(gw)).provider.state, 'ok');
    assert.match(gw.envoy.log, /provider ok again after being limited/);
  } finally {
    await gw.stop();
  }
});

test('every key 429 insufficient_quota, named by a rule: every key shows it, the provider is failing, at least 2 of 4 keys are out, at most 2 attempts per client request', async () => {
  const gw = await warmGateway(config({ failureConditions: [{ status: ['429'], body: 'insufficient_quota' }] }));
  try {
    const quota = { status: 429, body: '{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}' };
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, quota])));
    const before = gw.mock.requests.length;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, k) => chat(gw, { body: question(k) })));
    assert.ok(answers.every((a) => a.status === 429 || a.status === 503), JSON.stringify([...new Set(answers.map((a) => a.status))]));
    const attempts = gw.mock.requests.slice(before).filter((r) => !isProbe(r)).length;
    assert.ok(attempts <= 80, `${attempts} attempts for 40 client requests`);
    await sleep(2500);
    const doc = await status(gw);
    assert.equal(doc.provider.state, 'failing');
    assert.match(doc.provider.reason, /failover\.failureConditions\[0\] matched on every key/);
    assert.ok(doc.tokensInPool <= 2, `${doc.tokensInPool} keys in the pool`);
    for (const t of doc.tokens) {
      assert.equal(t.lastStatus, 429, JSON.stringify(t));
      assert.equal(typeof t.lastFailureAgoMs, 'number', JSON.stringify(t));
    }
  } finally {
    await gw.stop();
  }
});

test('one client\'s 30 requests refused 429 "Request too large" (rate-limit headers with room left) among 60 normal ones: every normal request gets 200 within 500 ms, and no key rests', async () => {
  const gw = await warmGateway(config());
  try {
    const tooLarge = {
      header: 'x-prompt-size=huge', status: 429,
      headers: { 'x-ratelimit-remaining-requests': '4999', 'x-ratelimit-remaining-tokens': '29000', 'retry-after': '20' },
      body: '{"error":{"message":"Request too large for gpt-4o-mini: Limit 30000, Requested 91000.","type":"tokens","code":"rate_limit_exceeded"}}',
    };
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { when: [tooLarge] }])));
    const timed = async (p: Promise<ChatAnswer>) => { const t = Date.now(); const a = await p; return { ...a, ms: Date.now() - t }; };
    const hostile: Array<Promise<ChatAnswer>> = [];
    const normal: Array<Promise<ChatAnswer & { ms: number }>> = [];
    for (let k = 0; k < 30; k++) {
      hostile.push(chat(gw, { body: question(k), headers: { 'x-prompt-size': 'huge' } }));
      normal.push(timed(chat(gw, { body: question(100 + 2 * k) })), timed(chat(gw, { body: question(101 + 2 * k) })));
      await sleep(20);
    }
    const [h, n] = await Promise.all([Promise.all(hostile), Promise.all(normal)]);
    assert.deepEqual([...new Set(h.map((a) => a.status))], [429]);
    assert.deepEqual([...new Set(n.map((a) => a.status))], [200]);
    const slowest = Math.max(...n.map((a) => a.ms));
    assert.ok(slowest < 500, `a normal request took ${slowest} ms`);
    const doc = await status(gw);
    assert.equal(doc.provider.state, 'ok');
    for (const t of doc.tokens) {
      assert.equal(t.state, 'in', JSON.stringify(t));
      assert.equal(t.limitedForMs, 0, JSON.stringify(t));
    }
  } finally {
    await gw.stop();
  }
});

test('one request\'s refusal with Retry-After: 600, or an answer saying nothing is left until a reset 99999 h away, rests its key for at most 10 s', async () => {
  // Streams unretried (maxStreamAnswerBytes 0): each refusal stays with the key that got it.
  const cfg = config();
  (cfg.provider as { retryOnFailure: object }).retryOnFailure = { enabled: true, maxStreamAnswerBytes: 0 };
  const gw = await warmGateway(cfg);
  try {
    const refusal = { header: 'x-odd=refusal', status: 429, headers: { 'retry-after': '600' } };
    const reset = { header: 'x-odd=reset', status: 200, headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '99999h' } };
    setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { when: [refusal, reset] }])));
    for (let k = 0; k < 8; k++) await chat(gw, { body: { ...question(k), stream: true }, headers: { 'x-odd': k % 2 ? 'refusal' : 'reset' } });
    const rested = (await status(gw)).tokens.map((t) => Math.max(t.limitedForMs, t.returnsInMs ?? 0));
    assert.ok(rested.some((ms) => ms > 0), `no key rested: ${rested}`);
    assert.ok(rested.every((ms) => ms <= 10_000), `a key rests ${Math.max(...rested)} ms`);
    await sleep(10_500);
    const doc = await status(gw);
    for (const t of doc.tokens) assert.equal(Math.max(t.limitedForMs, t.returnsInMs ?? 0), 0, JSON.stringify(t));
    const before = gw.mock.requests.length;
    const after = await Promise.all(Array.from({ length: 40 }, (_, k) => chat(gw, { body: question(100 + k) })));
    assert.deepEqual([...new Set(after.map((a) => a.status))], [200]);
    const used = new Set(gw.mock.requests.slice(before).filter((r) => !isProbe(r)).map((r) => r.token));
    assert.equal(used.size, 4, 'not every key serves again');
  } finally {
    await gw.stop();
  }
});
