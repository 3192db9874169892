// Streaming requests in the downstream placement, in Envoy behind the provider-shaped route: a
// stream whose first answer fails is retried on another key, and the client gets one complete,
// well-formed stream.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { TRAP, chat, isProbe, leaveDuringRetry, setTokens, sleep, type ChatAnswer, type Gateway } from './harness.js';
import type { PluginConfig } from '../../envoy/config.js';
import { CLIENT_PATH, withProviderGateway } from './provider_gateway.js';

const TOKENS = ['sk-sr-a', 'sk-sr-b', 'sk-sr-c', 'sk-sr-d'];
// The shipped recipe's plugin options: failover and retries on, everything else at its default.
const CONFIG: PluginConfig = { provider: { apiTokens: TOKENS, failover: { enabled: true, healthCheckModel: 'gpt-4o-mini', healthCheckInterval: 60_000 }, retryOnFailure: { enabled: true } } };
const STREAM = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] };

/** Runs `fn` against a fresh gateway (no key resting from an earlier test) that knows its route. */
function withStreams(fn: (gw: Gateway) => Promise<void>, config: PluginConfig = CONFIG): Promise<void> {
  return withProviderGateway(config, async (gw) => {
    // Until one request of the route has been seen, a retry goes as the client sent it (see
    // docs/behaviour.md, "Retries behind rewriting routes"): one request teaches the route.
    assert.equal((await chat(gw)).status, 200);
    await fn(gw);
  });
}

/** Asserts a complete SSE answer: 200, text/event-stream, every event JSON, ending with [DONE]. */
function assertCompleteStream(a: ChatAnswer): void {
  assert.equal(a.status, 200, a.body);
  assert.match(String(a.headers['content-type']), /text\/event-stream/);
  assert.ok(a.body.endsWith('data: [DONE]\n\n'), `the stream does not end with [DONE]: ${a.body.slice(-80)}`);
  const events = a.body.split('\n\n').filter((e) => e.length > 0);
  for (const e of events.slice(0, -1)) assert.doesNotThrow(() => JSON.parse(e.replace(/^data: /, '')), e);
  assert.match(events.map((e) => e.replace(/^data: /, '')).slice(0, -1).map((e) => JSON.parse(e).choices[0].delta.content).join(''), /Hello from the mock provider\./);
}

async function inBatches<T>(total: number, parallel: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < total; i += parallel) out.push(...await Promise.all(Array.from({ length: Math.min(parallel, total - i) }, (_, k) => one(i + k))));
  return out;
}

const sentFor = (gw: Gateway, id: string) => gw.mock.requests.filter((q) => !isProbe(q) && q.headers['x-test-id'] === id);

test('one dead key (401) of four: 40 streaming requests, 4 at a time, are 40 complete streams', () => withStreams(async (gw) => {
  setTokens(gw, { 'sk-sr-b': '401' });
  const answers = await inBatches(40, 4, (i) => chat(gw, { body: STREAM, headers: { 'x-test-id': `dead-${i}` } }));
  answers.forEach(assertCompleteStream);
  const retried = answers.filter((_, i) => sentFor(gw, `dead-${i}`).length > 1).length;
  const metDead = answers.filter((_, i) => sentFor(gw, `dead-${i}`)[0]?.token === 'sk-sr-b').length;
  console.log(`# ${retried} of 40 streams met the dead key first and were retried`);
  assert.equal(retried, metDead);
  // Three counted failures take it out; up to three more may be on their way meanwhile.
  assert.ok(metDead >= 1 && metDead <= 6, `the dead key was met ${metDead} times`);
}));

test('a key answering 429 with Retry-After: 30: 20 streaming requests, 4 at a time, are 20 complete streams from other keys', () => withStreams(async (gw) => {
  setTokens(gw, { 'sk-sr-c': { status: 429, retryAfter: 30 } });
  const answers = await inBatches(20, 4, (i) => chat(gw, { body: STREAM, headers: { 'x-test-id': `ra-${i}` } }));
  answers.forEach(assertCompleteStream);
  const met = answers.filter((_, i) => sentFor(gw, `ra-${i}`)[0]?.token === 'sk-sr-c').length;
  console.log(`# ${met} of 20 streams met the limited key first and were retried`);
  // It rests after its first 429: only requests already on their way meet it.
  assert.ok(met <= 4, `the limited key was met ${met} times`);
  for (let i = 0; i < 20; i++) {
    const sent = sentFor(gw, `ra-${i}`);
    assert.ok(sent.length <= 2);
    if (sent.length === 2) assert.notEqual(sent[0].token, sent[1].token, 'a retry repeated its key');
  }
}));

test('every key answers a stream\'s first attempt 429 with Retry-After: 30: a complete stream from a retry, or a 429 with Retry-After once every key rests', () => withStreams(async (gw) => {
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 429, retryAfter: 30, failFirstBy: 'x-test-id' }])));
  const answers = await inBatches(20, 4, (i) => chat(gw, { body: STREAM, headers: { 'x-test-id': `all-${i}` } }));
  let streams = 0;
  for (const a of answers) {
    if (a.status === 200) {
      assertCompleteStream(a);
      streams++;
      continue;
    }
    // Every key resting: the plugin's own 429 (docs/behaviour.md, "Provider-wide failures"), or,
    // when the keys came to rest while this request's first attempt was out, the provider's 429
    // with its Retry-After, which no key was left to retry. A well-formed answer either way.
    assert.equal(a.status, 429, a.body);
    assert.ok(Number(a.headers['retry-after']) >= 1, JSON.stringify(a.headers));
    assert.match(a.body, /every key that serves this request has reached its rate limit|mock provider answered 429/);
  }
  console.log(`# ${streams} of 20 complete streams, ${20 - streams} answered 429 with Retry-After`);
  assert.ok(streams >= 1, `${streams} streams`);
}));

test('a retried stream delivered as the plugin\'s own reply (over inPlaceBytes) is a complete stream with one content-type', () => withStreams(async (gw) => {
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 503, failFirstBy: 'x-test-id' }])));
  for (let i = 0; i < 5; i++) {
    const a = await chat(gw, { body: STREAM, headers: { 'x-test-id': `local-${i}` } });
    assertCompleteStream(a);
    assert.equal(a.headers['content-type'], 'text/event-stream');
    assert.equal(sentFor(gw, `local-${i}`).length, 2);
  }
}, { provider: { ...CONFIG.provider, retryOnFailure: { enabled: true, inPlaceBytes: 0 } } }));

/** One streaming request: when its first byte and its end arrived (ms after it was sent). */
function timedStream(gw: Gateway, id: string): Promise<{ status: number; firstByteMs: number; endMs: number }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(STREAM);
    const started = Date.now();
    let first = 0;
    const req = http.request(gw.url(CLIENT_PATH), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: 'Bearer client-key', 'content-length': Buffer.byteLength(body), 'x-test-id': id } }, (res) => {
      res.on('data', () => { if (first === 0) first = Date.now() - started; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, firstByteMs: first, endMs: Date.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the trade-off, measured: a retried stream arrives in one piece when its generation ends, a first attempt token by token', () => withStreams(async (gw) => {
  // Five chunks 300 ms apart: a generation of about 1.2 s.
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 503, chunkDelayMs: 300, failFirstBy: 'x-test-id' }])));
  const retried = await timedStream(gw, 'ttft-retried');
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { status: 200, chunkDelayMs: 300 }])));
  const direct = await timedStream(gw, 'ttft-direct');
  console.log(`# time to first byte: ${direct.firstByteMs} ms first attempt, ${retried.firstByteMs} ms retried; whole stream ${direct.endMs} and ${retried.endMs} ms`);
  assert.equal(retried.status, 200);
  assert.equal(direct.status, 200);
  assert.equal(sentFor(gw, 'ttft-retried').length, 2);
  // The retried stream's first byte waits for its whole generation; the direct one's does not.
  assert.ok(retried.firstByteMs >= 1100, `retried first byte at ${retried.firstByteMs} ms`);
  assert.ok(direct.firstByteMs < direct.endMs - 900, `direct first byte at ${direct.firstByteMs} of ${direct.endMs} ms`);
}));

/** A streaming request read until it ends or is cut; `leaveAfterFirst`: the client leaves after its first chunk. */
function readStream(gw: Gateway, leaveAfterFirst = false): Promise<{ status: number; text: string; cut: boolean }> {
  return new Promise((resolve) => {
    const body = JSON.stringify(STREAM);
    let text = '';
    let status = 0;
    const req = http.request(gw.url(CLIENT_PATH), { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: 'Bearer client-key', 'content-length': Buffer.byteLength(body) } }, (res) => {
      status = res.statusCode ?? 0;
      res.on('data', (c: Buffer) => {
        text += c.toString();
        if (leaveAfterFirst) req.destroy();
      });
      res.on('end', () => resolve({ status, text, cut: false }));
      res.on('aborted', () => resolve({ status, text, cut: true }));
      res.on('error', () => resolve({ status, text, cut: true }));
    });
    req.on('error', () => resolve({ status, text, cut: true }));
    req.on('close', () => resolve({ status, text, cut: true }));
    req.end(body);
  });
}

const cutCount = async (gw: Gateway): Promise<number> =>
  Number((await gw.stats()).split('\n').find((l) => l.startsWith('ai_token_failover_answers_cut'))?.split(' ').at(-1) ?? -1);

test('a stream the provider cuts mid-way reaches the client cut (no filter can end it), is counted in answers_cut and charges no key; a client leaving is not a cut', () => withStreams(async (gw) => {
  assert.equal(await cutCount(gw), 0);
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { chunkDelayMs: 100, reset: 'mid-stream' }])));
  for (let i = 0; i < 6; i++) {
    const r = await readStream(gw);
    assert.equal(r.status, 200);
    assert.ok(r.cut, 'the cut stream ended cleanly');
    assert.match(r.text, /data: \{.*"Hello"/);
    assert.doesNotMatch(r.text, /\[DONE\]/);
  }
  assert.ok(await waitForCount(gw, 6), `answers_cut is ${await cutCount(gw)}`);
  // A reset is the connection's, not the key's: every key is still in the pool.
  const charged = (await gw.stats()).split('\n').filter((l) => /^ai_token_failover_(token_)?failures/.test(l) && !l.endsWith(' 0'));
  assert.deepEqual(charged, []);

  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, { chunkDelayMs: 300 }])));
  for (let i = 0; i < 3; i++) assert.ok((await readStream(gw, true)).text.length > 0);
  await sleep(1500);
  assert.equal(await cutCount(gw), 6, 'a client that left was counted as a cut');
}));

async function waitForCount(gw: Gateway, n: number): Promise<boolean> {
  for (let i = 0; i < 30; i++) {
    if (await cutCount(gw) === n) return true;
    await sleep(100);
  }
  return false;
}

test('streaming clients that leave while their stream\'s retry is in flight: nothing hangs or traps, and the next streams are complete', () => withStreams(async (gw) => {
  for (let round = 0; round < 6; round++) await leaveDuringRetry(gw, TOKENS, STREAM);
  // The abandoned retries' answers (1.5 s late) arrive meanwhile.
  await sleep(1700);
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, 200])));
  const after = await inBatches(8, 4, () => chat(gw, { body: STREAM }));
  for (const a of after) assertCompleteStream(a);
  assert.doesNotMatch(gw.envoy.log, TRAP);
}));
