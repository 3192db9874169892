// Key state survives configuration changes, in Envoy (two workers): a listener update under load
// that removes one key and adds one keeps every unchanged key's state (a dead key stays dead and
// out, a spent budget stays spent), no request uses the removed key afterwards, and no request
// fails because of the change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { chat, isProbe, setTokens, sleep, startGateway, waitFor, TRAP, type ChatAnswer } from './harness.js';

const STATUS = { statusPath: '/ai-token-failover/status', statusToken: 'reload-status' };
const config = (tokens: string[]): PluginConfig => ({
  ...STATUS,
  provider: {
    apiTokens: tokens.map((token) => (token === 'sk-rl-c' ? { token, rpm: 30 } : token)),
    failover: { enabled: true, failureThreshold: 2, healthCheckInterval: 1000, maxProbeInterval: 8000, healthCheckModel: 'gpt-4o-mini' },
  },
});

test('a reload under load removing one key and adding one keeps the unchanged keys\' state, never uses the removed key, and fails no request', async () => {
  const gw = await startGateway(config(['sk-rl-a', 'sk-rl-b', 'sk-rl-c', 'sk-rl-d']), { lds: true });
  try {
    const status = async () => JSON.parse((await chat(gw, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken })).body);
    const key = async (token: string) => (await status()).tokens.find((t: { fingerprint: string }) => t.fingerprint.startsWith(`#${['sk-rl-a', 'sk-rl-b', 'sk-rl-c'].indexOf(token)}:`));
    for (let i = 0; i < 8; i++) assert.equal((await chat(gw)).status, 200);
    // sk-rl-b dies (out, dead); sk-rl-c spends part of its rpm budget.
    setTokens(gw, { 'sk-rl-b': '401' });
    assert.ok(await waitFor(async () => { await chat(gw); return (await key('sk-rl-b')).state === 'dead'; }, 20_000, 0), 'sk-rl-b never died');
    for (let i = 0; i < 30; i++) await chat(gw);
    const spentBefore = (await key('sk-rl-c')).budgetLeft.requests as number;
    assert.ok(spentBefore < 25, `sk-rl-c has ${spentBefore} of 30 left`);

    // Load on four connections while the listener is replaced.
    let stop = false;
    const answers: Array<{ at: number; answer: ChatAnswer | null }> = [];
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) answers.push({ at: Date.now(), answer: await chat(gw).catch(() => null) });
    });
    await sleep(500);
    await gw.reload(config(['sk-rl-a', 'sk-rl-b', 'sk-rl-c', 'sk-rl-e']));
    const reloadedAt = Date.now();
    await sleep(3000);
    stop = true;
    await Promise.all(loops);

    const failed = answers.filter((a) => a.answer?.status !== 200);
    assert.equal(failed.length, 0, `${failed.length} of ${answers.length} requests failed: ${failed.map((a) => a.answer?.status ?? 'reset').join(' ')}`);
    // Requests sent once the new listener is in place never use the removed key.
    const after = gw.mock.requests.filter((q) => !isProbe(q) && q.time >= reloadedAt + 300);
    assert.ok(after.length > 20, `only ${after.length} requests after the reload`);
    assert.deepEqual(after.filter((q) => q.token === 'sk-rl-d').length, 0, 'the removed key was used after the reload');
    assert.ok(after.some((q) => q.token === 'sk-rl-e'), 'the added key was never used');
    assert.equal(after.filter((q) => q.token === 'sk-rl-b').length, 0, 'the dead key was used after the reload');
    const b = await key('sk-rl-b');
    assert.equal(b.state, 'dead', JSON.stringify(b));
    // The spent budget is not refilled by the change: at most the refill of the seconds since (30/min).
    const c = await key('sk-rl-c');
    const seconds = (Date.now() - reloadedAt) / 1000 + 2;
    assert.ok(c.budgetLeft.requests <= spentBefore + Math.ceil(seconds / 2) + 1, `sk-rl-c went from ${spentBefore} to ${c.budgetLeft.requests}`);
    console.log(`# ${answers.length} requests under load, ${after.length} after the reload; sk-rl-c budget ${spentBefore} before, ${c.budgetLeft.requests} after`);
    assert.doesNotMatch(gw.envoy.log, TRAP);
  } finally {
    await gw.stop();
  }
});
