// Budgets as providers count them, budgets no client can lock, and memory that stays bounded
// under concurrent retried bodies, in a real Envoy (two workers) in front of the mock provider.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { TRAP, chat, isProbe, setTokens, sleep, withGateway, type ChatAnswer, type ReloadableGateway } from './harness.js';

const failoverAndRetry = { failover: { enabled: true, healthCheckModel: 'gpt-4o-mini' }, retryOnFailure: { enabled: true } };

/**
 * Offers `perSecond` requests a second for `seconds` to four keys of `rpm: 40` each, in front of a
 * provider that limits each key with a token bucket of 40 refilled at 40 a minute, starting full.
 */
async function offerLoad(gw: ReloadableGateway, perSecond: number, seconds: number): Promise<{ served: number; acceptable: number; received: number; refused: number }> {
  const pending: Array<Promise<ChatAnswer | null>> = [];
  const started = Date.now();
  for (let i = 0; i < perSecond * seconds; i++) {
    const due = started + (i * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    pending.push(chat(gw, { timeoutMs: 10_000 }).catch(() => null));
  }
  const answers = await Promise.all(pending);
  const elapsed = Date.now() - started;
  const sent = gw.mock.requests.filter((r) => !isProbe(r));
  return {
    served: answers.filter((a) => a?.status === 200).length,
    // What the provider's buckets could accept over the run: the four full buckets and their refill.
    acceptable: Math.floor(4 * (40 + (40 * elapsed) / 60_000)),
    received: sent.length,
    refused: sent.filter((r) => r.status === 429).length,
  };
}

for (const headers of [true, false]) {
  test(`rpm: 40 on four keys, offered 12 requests/s for 20 s, provider ${headers ? 'with' : 'without'} rate-limit headers: nearly all it could accept is served, and it refuses almost nothing`, async () => {
    const tokens = ['sk-rpm-a', 'sk-rpm-b', 'sk-rpm-c', 'sk-rpm-d'];
    const config: PluginConfig = { provider: { apiTokens: tokens.map((token) => ({ token, rpm: 40 })), ...failoverAndRetry } };
    await withGateway(config, async (gw) => {
      setTokens(gw, Object.fromEntries(tokens.map((t) => [t, { rateLimit: { requests: 40, windowMs: 60_000, bucket: true }, noHeaders: !headers }])));
      const r = await offerLoad(gw, 12, 20);
      const share = r.served / r.acceptable;
      console.log(`rpm load (${headers ? 'headers' : 'no headers'}): served ${r.served} of ${r.acceptable} acceptable (${(share * 100).toFixed(1)}%), provider received ${r.received}, refused ${r.refused}`);
      // With headers a key that reports 0 left waits for one request's refill (reset / limit), without
      // them for its local bucket: the bar is 95% and 90%.
      assert.ok(share >= (headers ? 0.95 : 0.9), `served ${r.served} of ${r.acceptable}`);
      assert.ok(r.refused <= r.received * 0.01, `the provider refused ${r.refused} of ${r.received}`);
    });
  });
}

test('tpm: two huge max_tokens requests refused by the provider and two long streams lock nothing: other clients are served at once', async () => {
  const tokens = ['sk-tpm-a', 'sk-tpm-b'];
  const config: PluginConfig = { provider: { apiTokens: tokens.map((token) => ({ token, tpm: 10_000 })), ...failoverAndRetry } };
  await withGateway(config, async (gw) => {
    setTokens(gw, Object.fromEntries(tokens.map((t) => [t, { when: [{ header: 'x-test-case=huge', status: 400 }], chunkDelayMs: 800 }])));
    const huge = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 999999999999 };
    for (let i = 0; i < 2; i++) assert.equal((await chat(gw, { body: huge, headers: { 'x-test-case': 'huge' } })).status, 400);
    const streams = Array.from({ length: 2 }, () => chat(gw, { body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'tell a long story' }], max_tokens: 100000, stream: true }, timeoutMs: 20_000 }));
    await sleep(200);
    const started = Date.now();
    const others = await Promise.all(Array.from({ length: 30 }, () => chat(gw)));
    for (const a of others) {
      assert.equal(a.status, 200, a.body);
      assert.ok(Number(a.headers['retry-after'] ?? 0) <= 60);
    }
    assert.ok(Date.now() - started < 3000, `other clients waited ${Date.now() - started} ms`);
    for (const s of await Promise.all(streams)) assert.equal(s.status, 200);
  });
});

function rssMiB(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

test('three waves of 300 concurrent 900 KB requests, each retried after a 500 that takes 1.5 s: Envoy RSS stays under 384 MiB above its start after every wave', async () => {
  const tokens = ['sk-mem-a', 'sk-mem-b', 'sk-mem-c', 'sk-mem-d'];
  const config: PluginConfig = { provider: { apiTokens: tokens, ...failoverAndRetry } };
  await withGateway(config, async (gw) => {
    const pid = gw.envoy.proc.pid ?? 0;
    for (let i = 0; i < 20; i++) await chat(gw);
    const start = rssMiB(pid);
    setTokens(gw, Object.fromEntries(tokens.map((t) => [t, { status: 500, delayMs: 1500, failFirstBy: 'x-test-id' }])));
    const prompt = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(900_000) }] };
    const body = JSON.stringify(prompt);
    const waves: number[] = [];
    let served = 0;
    for (let w = 0; w < 3; w++) {
      const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => chat(gw, { body, headers: { 'x-test-id': `mem-${w}-${i}` }, timeoutMs: 60_000 }).catch(() => null)));
      served += answers.filter((a) => a?.status === 200).length;
      waves.push(rssMiB(pid));
    }
    const skipped = Number((await gw.stats()).split('\n').find((l) => l.startsWith('ai_token_failover_retries_skipped_memory'))?.split(' ').at(-1) ?? 0);
    console.log(`RSS ${start.toFixed(0)} MiB, after each wave ${waves.map((m) => m.toFixed(0)).join(', ')} MiB; ${served} of 900 served, ${skipped} sent without a retry (memory bound)`);
    // Bounded: under 384 MiB above the start after every wave (runs measured growth of 100 to 295).
    // Which wave reaches the peak depends on how 300 uploads interleave with the held bodies
    // (measured 196, 384, 388 and 196, 196, 326), so waves are not compared with each other.
    assert.ok(Math.max(...waves) - start < 384, `RSS grew ${(Math.max(...waves) - start).toFixed(0)} MiB`);
    assert.doesNotMatch(gw.envoy.log, TRAP);
  });
});
