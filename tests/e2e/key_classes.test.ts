// Dead or tired, in Envoy (two workers) behind the provider-shaped route: a key answering 401
// invalid_api_key is dead and probed at a growing interval; a key answering 429 is tired, probed at
// the normal pace, and comes back on it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chat, isProbe, setTokens, sleep, waitFor, type Gateway } from './harness.js';
import { withProviderGateway } from './provider_gateway.js';

const TOKENS = ['sk-cls-a', 'sk-cls-b', 'sk-cls-c', 'sk-cls-d'];
const STATUS = { statusPath: '/ai-token-failover/status', statusToken: 'cls-status' };
const CONFIG = { ...STATUS, provider: { apiTokens: TOKENS, failover: { enabled: true, healthCheckInterval: 1000, maxProbeInterval: 8000, healthCheckModel: 'gpt-4o-mini' } } };

async function keyState(gw: Gateway, index: number): Promise<{ state: string; nextProbeInMs?: number }> {
  const doc = JSON.parse((await chat(gw, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken })).body);
  return doc.tokens[index];
}

/** Takes `token` out with `behaviour`; resolves when it left. */
async function takeOut(gw: Gateway, token: string, behaviour: Parameters<typeof setTokens>[1][string]): Promise<number> {
  // Successful requests first: probes go where they went.
  for (let i = 0; i < 6; i++) assert.equal((await chat(gw)).status, 200);
  setTokens(gw, { [token]: behaviour });
  const index = TOKENS.indexOf(token);
  assert.ok(await waitFor(async () => {
    await chat(gw);
    return ['dead', 'probing', 'waiting'].includes((await keyState(gw, index)).state);
  }, 30_000, 0), `${token} never left the pool`);
  return Date.now();
}

const probesOf = (gw: Gateway, token: string, from: number) => gw.mock.requests.filter((q) => isProbe(q) && q.token === token && q.time >= from).length;

test('a key answering 401 invalid_api_key (interval 1000, maxProbeInterval 8000) is dead: at most 7 probes over the 20 s after it left', async () => {
  await withProviderGateway(CONFIG, async (gw) => {
    const left = await takeOut(gw, 'sk-cls-b', { status: 401, body: '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}' });
    await sleep(20_000);
    const probes = probesOf(gw, 'sk-cls-b', left);
    const s = await keyState(gw, 1);
    console.log(`# dead key: ${probes} probes in the 20 s after it left; next probe in ${s.nextProbeInMs} ms`);
    assert.ok(probes >= 2 && probes <= 7, `${probes} probes`);
    assert.equal(s.state, 'dead');
  });
});

test('a key answering 429 is tired: probed every interval, and back on that pace once it answers again', async () => {
  await withProviderGateway(CONFIG, async (gw) => {
    const left = await takeOut(gw, 'sk-cls-c', { status: 429, body: '{"error":{"code":"rate_limit_exceeded"}}' });
    await sleep(6_000);
    const probes = probesOf(gw, 'sk-cls-c', left);
    assert.ok(probes >= 4, `${probes} probes in 6 s`);
    assert.equal((await keyState(gw, 2)).state, 'probing');
    setTokens(gw, { 'sk-cls-c': 'ok' });
    const healed = Date.now();
    assert.ok(await waitFor(async () => (await keyState(gw, 2)).state === 'in', 3000, 100), 'the tired key did not come back within 3 intervals');
    console.log(`# tired key: ${probes} probes in 6 s; back ${Date.now() - healed} ms after it answered again`);
  });
});

test('notify pointed at the mock\'s webhook: a key that dies and is healed gives a key_out (dead) and a key_back, each within 5 s, neither with a token', async () => {
  const notify = { cluster: 'openai', authority: 'hooks.example.com', path: '/__mock/hook', headers: ['x-hook-secret=s3cret'] };
  await withProviderGateway({ ...CONFIG, notify }, async (gw) => {
    // The lease holder's first tick takes the pool as it finds it; changes after it are told.
    await sleep(2500);
    const left = await takeOut(gw, 'sk-cls-d', '401');
    assert.ok(await waitFor(() => gw.mock.hooks.some((h) => JSON.parse(h.body).event === 'key_out'), 5000, 100), 'no key_out within 5 s');
    const out = gw.mock.hooks.find((h) => JSON.parse(h.body).event === 'key_out')!;
    assert.ok(out.time - left <= 5000, `key_out ${out.time - left} ms after the key left`);
    setTokens(gw, { 'sk-cls-d': 'ok' });
    const healed = Date.now();
    // A dead key comes back at its next probe (up to maxProbeInterval away): the event follows it.
    assert.ok(await waitFor(() => gw.mock.hooks.some((h) => JSON.parse(h.body).event === 'key_back'), 12_000, 100), 'no key_back');
    const back = gw.mock.hooks.find((h) => JSON.parse(h.body).event === 'key_back')!;
    const returned = gw.mock.requests.find((q) => isProbe(q) && q.token === 'sk-cls-d' && q.time >= healed);
    assert.ok(returned, 'no probe after healing');
    assert.ok(back.time - returned.time <= 5000, `key_back ${back.time - returned.time} ms after the probe that brought the key back`);
    console.log(`# key_out ${out.time - left} ms after the key left; key_back ${back.time - returned.time} ms after the probe that brought it back`);
    const events = gw.mock.hooks.map((h) => JSON.parse(h.body));
    assert.deepEqual(events.map((e) => e.event), ['key_out', 'key_back']);
    assert.equal(events[0].class, 'dead');
    assert.equal(events[0].status, 401);
    assert.equal(out.headers['x-hook-secret'], 's3cret');
    for (const h of gw.mock.hooks) for (const t of TOKENS) assert.ok(!h.body.includes(t) && !JSON.stringify(h.headers).includes(t), 'a token in a notification');
    assert.ok(await waitFor(async () => (await gw.stats()).includes('ai_token_failover_notifications_sent'), 2000));
  });
});
