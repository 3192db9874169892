// Situations every real deployment meets, in a real Envoy (two workers): many dead keys with a
// small probe budget, quota errors recognised by their body, and default settings with a dead key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { burst, isProbe, setTokens, waitFor, withGateway } from './harness.js';


test('20 keys, the 8 lowest dead: each dead key is probed at least once every 3 intervals, and a healed one is back within 4 intervals', async () => {
  const INTERVAL = 500;
  const tokens = Array.from({ length: 20 }, (_, i) => `sk-many-${String(i).padStart(2, '0')}`);
  const dead = tokens.slice(0, 8);
  // maxProbeInterval at the interval: these dead keys keep the interval's pace (what is measured
  // here is how the probe slots are shared; tests/e2e/key_classes.test.ts shows the growing pace).
  await withGateway({ provider: { apiTokens: tokens, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: INTERVAL, maxProbeInterval: INTERVAL, healthCheckTimeout: 400, healthCheckModel: 'm' } } }, async (gw) => {
    setTokens(gw, Object.fromEntries(dead.map((t) => [t, '401'])));
    const outCount = () => new Set(gw.mock.requests.filter((r) => !isProbe(r) && dead.includes(r.token ?? '')).map((r) => r.token)).size;
    assert.ok(await waitFor(async () => { await burst(gw, 20); return outCount() === 8; }, 20_000, 0), 'not every dead key was used');
    // Let the ejections settle, then watch the probes.
    await new Promise((r) => setTimeout(r, 2 * INTERVAL));
    const from = Date.now();
    gw.mock.requests.length = 0;
    await new Promise((r) => setTimeout(r, 9 * INTERVAL));
    const probes = gw.mock.requests.filter(isProbe).map((r) => ({ token: r.token, at: r.time - from }));
    for (const t of dead) {
      const times = probes.filter((p) => p.token === t).map((p) => p.at);
      assert.ok(times.length >= 3, `${t} probed ${times.length} times in 9 intervals`);
      const gaps = [times[0], ...times.slice(1).map((x, k) => x - times[k])];
      assert.ok(Math.max(...gaps) <= 3 * INTERVAL + 250, `${t}: a gap of ${Math.max(...gaps)} ms between probes`);
    }
    setTokens(gw, { [dead[6]]: 'ok' });
    const healedAt = Date.now();
    const back = await waitFor(async () => {
      const before = gw.mock.requests.length;
      await burst(gw, 20);
      return gw.mock.requests.slice(before).some((r) => !isProbe(r) && r.token === dead[6]);
    }, 8 * INTERVAL, 0);
    assert.ok(back, 'the healed key did not come back');
    assert.ok(Date.now() - healedAt <= 4 * INTERVAL + 300, `back after ${Date.now() - healedAt} ms`);
  });
});

test('every key answering 429 with a body that matches a failureConditions body rule: keys are ejected', async () => {
  const tokens = ['sk-q-a', 'sk-q-b', 'sk-q-c', 'sk-q-d'];
  const quota = { status: 429, body: '{"error":{"type":"insufficient_quota","message":"You exceeded your current quota"}}' };
  await withGateway({
    provider: {
      apiTokens: tokens,
      failover: {
        enabled: true, failureThreshold: 2, maxEjectionPercent: 100, healthCheckInterval: 60_000, healthCheckModel: 'm',
        // 429 alone is a rate limit, not a dead key: only the quota error counts.
        failoverOnStatus: ['401', '403', '5..'],
        failureConditions: [{ status: ['429'], body: 'insufficient_quota' }],
      },
      retryOnFailure: { enabled: true, maxRetries: 1 },
    },
  }, async (gw) => {
    setTokens(gw, Object.fromEntries(tokens.map((t) => [t, quota])));
    const answers = await burst(gw, 40, 4);
    for (const a of answers) assert.equal(a.status, 429);
    const ejected = async () => (await gw.stats()).split('\n').filter((l) => l.startsWith('ai_token_failover_token_ejections{'))
      .map((l) => Number(l.split(' ').at(-1))).filter((n) => n >= 1).length;
    // A 429 without Retry-After also rests its key a moment, so the last keys take a few more requests.
    const all = await waitFor(async () => {
      await burst(gw, 8, 4);
      return await ejected() === 4;
    }, 15_000, 0);
    assert.ok(all, `${await ejected()} of 4 keys answering insufficient_quota were ejected`);
  });
});

test('default settings, 1 dead key of 4, 500 requests: no client sees an error', async () => {
  const tokens = ['sk-df-a', 'sk-df-b', 'sk-df-c', 'sk-df-d'];
  await withGateway({ provider: { apiTokens: tokens, failover: { enabled: true, healthCheckModel: 'm' }, retryOnFailure: { enabled: true } } }, async (gw) => {
    setTokens(gw, { 'sk-df-c': '401' });
    const answers = await burst(gw, 500);
    const errors = answers.filter((a) => a.status !== 200);
    assert.equal(errors.length, 0, `${errors.length} client-visible errors`);
    assert.ok(gw.mock.requests.some((r) => r.token === 'sk-df-c'), 'the dead key was never tried');
  });
});
