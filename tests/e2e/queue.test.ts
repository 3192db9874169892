// The admission queue in a real Envoy (two workers) behind the provider-shaped route: requests
// wait for budget by priority instead of being refused, every wait ends by its deadline, places
// are freed when clients leave, and a reload leaves no waiter behind.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { chat, isProbe, setTokens, sleep, waitFor, withGateway, type ChatAnswer, type Gateway } from './harness.js';
import { CLIENT_PATH, startProviderGateway } from './provider_gateway.js';

const STATUS = { statusPath: '/ai-token-failover/status', statusToken: 'queue-status-token' };
const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
const MAX_WAIT = { urgent: 30_000, high: 30_000, normal: 10_000, low: 2000 };
const MIX = ['urgent', 'high', 'normal', 'low', 'high', 'normal', 'low', 'normal', 'low', 'normal'] as const;

/** `n` keys of one request a second each (a bucket of `burst`), in front of a provider that counts the same. */
function queued(n: number, queue: Record<string, unknown>, burst = 2): { config: PluginConfig; keys: string[] } {
  const keys = Array.from({ length: n }, (_, k) => `sk-queue-${k}`);
  return {
    keys,
    config: {
      ...STATUS,
      provider: { apiTokens: keys.map((token) => ({ token, rpm: 60, burst })), failover: { enabled: true, healthCheckModel: 'gpt-4o-mini' } },
      queue: { enabled: true, ...queue },
    },
  };
}

function limitProvider(gw: Gateway, keys: string[], burst = 2): void {
  setTokens(gw, Object.fromEntries(keys.map((t) => [t, { rateLimit: { requests: burst, windowMs: burst * 1000, bucket: true } }])));
}

async function waitingNow(gw: Gateway): Promise<number> {
  const r = await chat(gw, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken });
  const q = (JSON.parse(r.body) as { queue: { waiting: Record<string, number> } }).queue.waiting;
  return q.urgent + q.high + q.normal + q.low;
}

interface Timed { priority: typeof PRIORITIES[number]; ms: number; status: number; retryAfter?: string }

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

test('4 keys offered twice what they accept for 20 s, priorities mixed (1 urgent, 2 high, 4 normal, 3 low in 10): the provider refuses almost nothing, higher priorities wait less, every wait ends by its deadline', async () => {
  const { config, keys } = queued(4, {});
  const gw = await startProviderGateway(config);
  try {
    limitProvider(gw, keys);
    const pending: Array<Promise<Timed>> = [];
    const started = Date.now();
    const perSecond = 8, seconds = 20;
    for (let i = 0; i < perSecond * seconds; i++) {
      const due = started + (i * 1000) / perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      // Of every ten requests: one urgent, two high, four normal, three low.
      const priority = MIX[i % MIX.length];
      const t0 = Date.now();
      pending.push(chat(gw, { headers: { 'x-priority': priority }, timeoutMs: 40_000 }).then(
        (a: ChatAnswer) => ({ priority, ms: Date.now() - t0, status: a.status, retryAfter: a.headers['retry-after'] as string | undefined }),
        () => ({ priority, ms: Date.now() - t0, status: 0 })));
    }
    const answers = await Promise.all(pending);
    const sent = gw.mock.requests.filter((r) => !isProbe(r));
    const refused = sent.filter((r) => r.status === 429).length;
    const byPriority = Object.fromEntries(PRIORITIES.map((p) => [p, answers.filter((a) => a.priority === p)]));
    const waits = Object.fromEntries(PRIORITIES.map((p) => [p, median(byPriority[p].map((a) => a.ms))]));
    const late = answers.map((a) => a.ms - MAX_WAIT[a.priority]);
    const lowRefused = byPriority.low.filter((a) => a.status === 429);
    console.log(`queue load: served ${answers.filter((a) => a.status === 200).length} of ${answers.length}; provider received ${sent.length}, refused ${refused}; ` +
      `median wait ms ${JSON.stringify(waits)}; latest answer ${Math.max(...late)} ms past its priority's maximum wait; ` +
      `low 429s at ${Math.min(...lowRefused.map((a) => a.ms))}..${Math.max(...lowRefused.map((a) => a.ms))} ms`);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 429), `other answers: ${answers.filter((a) => a.status !== 200 && a.status !== 429).map((a) => a.status)}`);
    assert.ok(refused <= sent.length * 0.01, `the provider refused ${refused} of ${sent.length}`);
    assert.ok(waits.urgent < waits.low && waits.high < waits.low, JSON.stringify(waits));
    assert.ok(lowRefused.length > 0, 'no low request waited out its 2 s');
    for (const a of lowRefused) {
      assert.ok(a.retryAfter, 'a 429 without Retry-After');
      assert.ok(a.ms >= MAX_WAIT.low - 100 && a.ms <= MAX_WAIT.low + 150, `a low request refused after ${a.ms} ms`);
    }
    assert.ok(Math.max(...late) <= 150, `an answer came ${Math.max(...late)} ms after its priority's maximum wait`);
  } finally {
    await gw.stop();
  }
});

test('a flood of urgent requests that never ends (twice what 4 keys accept, for 12 s): normal requests are still served at their share of the releases, urgent keeps the rest, the provider refuses almost nothing', async () => {
  const { config, keys } = queued(4, { maxWaitMs: { urgent: 5000, normal: 10_000 } }, 1);
  const gw = await startProviderGateway(config);
  try {
    limitProvider(gw, keys, 1);
    const pending: Array<Promise<Timed>> = [];
    const started = Date.now();
    for (let i = 0; i < 8 * 12; i++) {
      const due = started + i * 125;
      if (due > Date.now()) await sleep(due - Date.now());
      // Eight urgent requests a second, and one normal.
      const priorities: Array<typeof PRIORITIES[number]> = i % 8 === 4 ? ['urgent', 'normal'] : ['urgent'];
      for (const priority of priorities) {
        const t0 = Date.now();
        pending.push(chat(gw, { headers: { 'x-priority': priority }, timeoutMs: 20_000 }).then(
          (a: ChatAnswer) => ({ priority, ms: Date.now() - t0, status: a.status }), () => ({ priority, ms: Date.now() - t0, status: 0 })));
      }
    }
    const answers = await Promise.all(pending);
    const served = (p: string) => answers.filter((a) => a.priority === p && a.status === 200).length;
    const sent = gw.mock.requests.filter((r) => !isProbe(r));
    const refused = sent.filter((r) => r.status === 429).length;
    console.log(`urgent flood: served urgent ${served('urgent')} of 96, normal ${served('normal')} of 12; median wait ms urgent ${median(answers.filter((a) => a.priority === 'urgent').map((a) => a.ms))}, ` +
      `normal ${median(answers.filter((a) => a.priority === 'normal').map((a) => a.ms))}; the provider refused ${refused} of ${sent.length}`);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 429), `other answers: ${answers.filter((a) => a.status !== 200 && a.status !== 429).map((a) => a.status)}`);
    assert.ok(served('normal') >= 10, `${served('normal')} of 12 normal requests served`);
    assert.ok(served('urgent') >= 30, `${served('urgent')} urgent requests served`);
    assert.ok(refused <= sent.length * 0.02, `the provider refused ${refused} of ${sent.length}`);
  } finally {
    await gw.stop();
  }
});

/** One HTTP/2 connection: its streams reach one worker, so waiters share that worker's queue. */
function h2(gw: Gateway) {
  const session = http2.connect(gw.base);
  const send = (priority: string): Promise<{ status: number; ms: number }> => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = session.request({ ':method': 'POST', ':path': CLIENT_PATH, authorization: 'Bearer client-key', 'content-type': 'application/json', 'x-priority': priority });
    let status = 0;
    req.on('response', (h) => { status = Number(h[':status']); });
    req.on('data', () => {});
    req.on('end', () => resolve({ status, ms: Date.now() - t0 }));
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
  });
  return { send, close: () => session.close() };
}

test('queue full: reject answers at once, passthrough forwards, drop_lowest refuses the youngest lowest waiter and serves the urgent newcomer first', async () => {
  for (const whenFull of ['reject', 'passthrough', 'drop_lowest']) {
    // Full shares: any priority may take both places, as this test asserts drops between them.
    const { config, keys } = queued(1, { maxWaiting: 2, whenFull, share: { urgent: 100, high: 100, normal: 100, low: 100 } }, 1);
    const gw = await startProviderGateway(config);
    const conn = h2(gw);
    try {
      limitProvider(gw, keys, 1);
      assert.equal((await conn.send('normal')).status, 200);
      const lowOld = conn.send('low');
      await sleep(50);
      const lowYoung = conn.send('low');
      await sleep(50);
      assert.equal(await waitingNow(gw), 2);
      const t0 = Date.now();
      const newcomer = conn.send('urgent');
      if (whenFull === 'reject') {
        const r = await newcomer;
        assert.equal(r.status, 429);
        assert.ok(Date.now() - t0 < 500, `rejected after ${Date.now() - t0} ms`);
      } else if (whenFull === 'passthrough') {
        const r = await newcomer;
        assert.ok(Date.now() - t0 < 500, `passed through after ${Date.now() - t0} ms`);
        // Sent at once with the key due back first: the provider itself refuses it.
        assert.ok(r.status === 429 || r.status === 200, `status ${r.status}`);
        assert.ok(gw.mock.requests.length >= 2, 'the newcomer did not reach the provider');
      } else {
        const young = await lowYoung;
        assert.equal(young.status, 429, 'the youngest low waiter was not refused');
        const [urgent, old] = await Promise.all([newcomer, lowOld]);
        assert.equal(urgent.status, 200);
        assert.ok(urgent.ms < old.ms || old.status === 429, `urgent ${urgent.ms} ms, old low ${old.ms} ms (${old.status})`);
      }
      await Promise.all([lowOld, lowYoung].map((p) => p.catch(() => null)));
    } finally {
      conn.close();
      await gw.stop();
    }
  }
});

test('100 clients leave while waiting: the waiting count returns to 0, and later requests are served', async () => {
  const { config, keys } = queued(2, { maxWaiting: 200, maxWaitMs: { normal: 20_000 } }, 1);
  const gw = await startProviderGateway(config);
  try {
    limitProvider(gw, keys, 1);
    await Promise.all([chat(gw), chat(gw)]);
    const leaving = Array.from({ length: 100 }, () => chat(gw, { timeoutMs: 500 }).then(() => 'answered', () => 'left'));
    await sleep(200);
    assert.ok(await waitingNow(gw) > 50, 'the clients did not wait');
    const outcomes = await Promise.all(leaving);
    assert.ok(outcomes.filter((o) => o === 'left').length >= 90, `only ${outcomes.filter((o) => o === 'left').length} left`);
    assert.ok(await waitFor(async () => (await waitingNow(gw)) === 0, 2000), 'places were not freed');
    await sleep(1100);
    assert.equal((await chat(gw, { timeoutMs: 5000 })).status, 200);
  } finally {
    await gw.stop();
  }
});

test('a configuration reload with waiters leaves none hanging: each ends by its deadline', async () => {
  const { config, keys } = queued(1, { maxWaitMs: { normal: 1500 } }, 1);
  await withGateway(config, async (gw) => {
    limitProvider(gw, keys, 1);
    await chat(gw);
    const t0 = Date.now();
    const waiters = Array.from({ length: 10 }, () => chat(gw, { timeoutMs: 10_000 }).then((a) => ({ status: a.status, ms: Date.now() - t0 }), () => ({ status: 0, ms: Date.now() - t0 })));
    await sleep(200);
    await gw.reload({ ...config, statusToken: 'queue-status-token-2' });
    const ended = await Promise.all(waiters);
    console.log(`reload with waiters: ${JSON.stringify(ended.map((e) => `${e.status}@${e.ms}`))}`);
    // Served as budget came back, refused at the deadline, or closed by the old listener's drain: none hangs.
    assert.ok(ended.every((e) => e.ms <= 1500 + 1000 + 500), `a waiter ended after ${Math.max(...ended.map((e) => e.ms))} ms`);
  }, { lds: true });
});

