// Capacity as providers sell it, in Envoy (two workers) behind the provider-shaped route: key
// tiers (tier 0 serves while it can, tier 1 when both tier-0 keys are dead, tier 0 again once
// probes bring its keys back) and consumers named in the body kept on one key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chat, isProbe, setTokens, waitFor } from './harness.js';
import { withProviderGateway } from './provider_gateway.js';

const TIER0 = ['sk-tier0-a', 'sk-tier0-b'];
const TIER1 = ['sk-tier1-a', 'sk-tier1-b'];
const PROBE_EVERY_MS = 1000;

test('two tier-0 and two tier-1 keys: tier 0 serves while healthy, tier 1 serves every client while both tier-0 keys are dead, tier 0 again within 3 probe intervals of healing', async () => {
  // maxRetries 2: a request that meets both dead tier-0 keys before they leave still reaches tier 1.
  await withProviderGateway({ provider: {
    apiTokens: [...TIER0.map((token) => ({ token })), ...TIER1.map((token) => ({ token, tier: 1 }))],
    failover: { enabled: true, healthCheckModel: 'gpt-4o-mini', healthCheckInterval: PROBE_EVERY_MS },
    retryOnFailure: { enabled: true, maxRetries: 2 },
  } }, async (gw) => {
    const firstKeys = async (n: number): Promise<string[]> => {
      const before = gw.mock.requests.length;
      for (let i = 0; i < n; i += 4) {
        const answers = await Promise.all(Array.from({ length: 4 }, () => chat(gw)));
        for (const a of answers) assert.equal(a.status, 200, a.body);
      }
      return gw.mock.requests.slice(before).filter((q) => !isProbe(q)).map((q) => q.token ?? '');
    };

    const healthy = await firstKeys(40);
    assert.deepEqual([...new Set(healthy)].sort(), TIER0, 'a tier-1 key served while tier 0 was healthy');

    setTokens(gw, { 'sk-tier0-a': '401', 'sk-tier0-b': '401' });
    const dead = await firstKeys(40);
    const lastTen = dead.slice(-10);
    assert.ok(lastTen.every((t) => TIER1.includes(t)), `tier 0 still tried once dead: ${lastTen.join(' ')}`);

    setTokens(gw, { 'sk-tier0-a': 'ok', 'sk-tier0-b': 'ok' });
    const healedAt = Date.now();
    // Probes bring the tier-0 keys back: from then on tier 0 serves again.
    assert.ok(await waitFor(async () => {
      const keys = await firstKeys(20);
      return keys.filter((t) => TIER0.includes(t)).length >= 18;
    }, 3 * PROBE_EVERY_MS + 2000, 200), 'tier 0 did not serve 90% again');
    console.log(`# tier 0 served 90% again ${Date.now() - healedAt} ms after healing`);
  });
});

test('affinity.bodyField "user": 20 users x 10 requests over 6 keys, each user on one key, at least 4 keys used', async () => {
  const keys = ['sk-aff-1', 'sk-aff-2', 'sk-aff-3', 'sk-aff-4', 'sk-aff-5', 'sk-aff-6'];
  await withProviderGateway({ affinity: { bodyField: 'user' }, provider: { apiTokens: keys } }, async (gw) => {
    for (let u = 0; u < 20; u++) {
      const body = { model: 'gpt-4o-mini', user: `user-${u}`, messages: [{ role: 'user', content: 'hi' }] };
      const answers = await Promise.all(Array.from({ length: 10 }, () => chat(gw, { body })));
      for (const a of answers) assert.equal(a.status, 200, a.body);
    }
    const byUser = new Map<string, Set<string>>();
    for (const q of gw.mock.requests.filter((r) => !isProbe(r))) {
      const who = (q.body as { user: string }).user;
      if (!byUser.has(who)) byUser.set(who, new Set());
      byUser.get(who)!.add(q.token ?? '');
    }
    assert.equal(byUser.size, 20);
    for (const [who, used] of byUser) assert.equal(used.size, 1, `${who} went with ${[...used].join(' ')}`);
    const spread = new Set([...byUser.values()].map((s) => [...s][0]));
    assert.ok(spread.size >= 4, `only ${spread.size} keys used`);
  });
});

test('two keys with rpd 5, 14 requests over two workers: exactly 10 reach the provider, 4 get 429 with a Retry-After no later than the next reset', async () => {
  const resetHour = (new Date().getUTCHours() + 3) % 24;
  await withProviderGateway({ provider: { apiTokens: [{ token: 'sk-rpd-a', rpd: 5 }, { token: 'sk-rpd-b', rpd: 5 }], dailyResetUtcHour: resetHour } }, async (gw) => {
    const answers = [];
    for (let i = 0; i < 14; i += 2) answers.push(...await Promise.all([chat(gw), chat(gw)]));
    const sent = gw.mock.requests.filter((q) => !isProbe(q));
    assert.equal(sent.length, 10);
    const refused = answers.filter((a) => a.status === 429);
    assert.equal(refused.length, 4, answers.map((a) => a.status).join(' '));
    assert.equal(answers.filter((a) => a.status === 200).length, 10);
    const now = Date.now();
    const reset = Math.floor((now - resetHour * 3_600_000) / 86_400_000) * 86_400_000 + resetHour * 3_600_000 + 86_400_000;
    for (const a of refused) {
      const seconds = Number(a.headers['retry-after']);
      assert.ok(seconds >= 1 && seconds <= Math.ceil((reset - now) / 1000) + 1, `Retry-After ${seconds}`);
    }
  });
});

test('three keys in an account group with rpm 12, 30 requests over 6 s: the provider receives 12 to 14, the rest get the plugin\'s 429, or wait in the queue when it is on', async () => {
  const keys = ['sk-grp-1', 'sk-grp-2', 'sk-grp-3'].map((token) => ({ token, group: 'org' }));
  for (const queue of [false, true]) {
    await withProviderGateway({ provider: { apiTokens: keys, groups: { org: { rpm: 12 } } }, ...(queue ? { queue: { enabled: true } } : {}) }, async (gw) => {
      const answers: Array<Promise<{ status: number; headers: Record<string, unknown> }>> = [];
      for (let i = 0; i < 30; i++) {
        answers.push(chat(gw, { timeoutMs: 60_000 }).catch(() => ({ status: 0, headers: {} })));
        await new Promise((r) => setTimeout(r, 200));
      }
      const settled = await Promise.all(answers);
      const sent = gw.mock.requests.filter((q) => !isProbe(q)).length;
      const statuses = settled.map((a) => a.status);
      console.log(`# queue ${queue ? 'on' : 'off'}: provider received ${sent}; ${statuses.filter((s) => s === 429).length} got 429`);
      if (!queue) {
        assert.ok(sent >= 12 && sent <= 14, `the provider received ${sent}`);
        assert.deepEqual([...new Set(statuses)].sort(), [200, 429]);
        assert.equal(statuses.filter((s) => s === 200).length, sent);
        for (const a of settled.filter((x) => x.status === 429)) assert.ok(Number(a.headers['retry-after']) >= 1);
      } else {
        // The queue holds what the group has no room for, up to its wait, and sends it as the
        // group refills (one request every 5 s): never faster than the group's limit.
        const times = gw.mock.requests.filter((q) => !isProbe(q)).map((q) => q.time);
        const span = Math.max(...times) - Math.min(...times);
        assert.ok(sent >= 12 && sent <= 12 + Math.ceil(span / 5000) + 1, `the provider received ${sent} in ${span} ms`);
        assert.ok(sent >= 13, `the queue held nothing: ${sent}`);
        assert.equal(statuses.filter((s) => s === 200).length, sent);
      }
    });
  }
});
