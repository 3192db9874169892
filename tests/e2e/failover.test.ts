// Failover in a real Envoy (two workers, three plugin VMs): 4 tokens, threshold 3, interval 1000 ms.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import type { RecordedRequest } from '../../envoy/mock_provider.js';
import { TRAP, chat, isProbe, setTokens, sleep, startGateway, waitFor, type ReloadableGateway } from './harness.js';

const TOKENS = ['sk-fo-a', 'sk-fo-b', 'sk-fo-c', 'sk-fo-d'];
const config = (tokens = TOKENS): PluginConfig => ({
  provider: {
    apiTokens: tokens,
    // maxProbeInterval equal to the interval: a dead (401) key is probed every interval here too
    // (tests/e2e/key_classes.test.ts shows the growing pace).
    failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, maxProbeInterval: 1000, healthCheckTimeout: 1000, healthCheckModel: 'gpt-4o-mini' },
  },
});
let gw: ReloadableGateway;

before(async () => { gw = await startGateway(config(), { lds: true }); });
after(async () => { await gw?.stop(); });
beforeEach(async () => {
  // Every token healthy and back in the pool before each scenario.
  gw.mock.behaviours.clear();
  await waitFor(async () => {
    const seen = new Set<string | null | undefined>();
    for (let i = 0; i < 24; i++) seen.add(await sentToken());
    return TOKENS.every((t) => seen.has(t));
  }, 15_000, 200);
  gw.mock.requests.length = 0;
});

const clientRequests = (token?: string): RecordedRequest[] => gw.mock.requests.filter((r) => !isProbe(r) && (token === undefined || r.token === token));
const probesOf = (token: string): RecordedRequest[] => gw.mock.requests.filter((r) => isProbe(r) && r.token === token);
/** Sends one chat request; resolves the key the provider received it with. */
async function sentToken(): Promise<string | null | undefined> {
  const before = gw.mock.requests.length;
  await chat(gw);
  return gw.mock.requests.slice(before).find((r) => !isProbe(r))?.token;
}
async function failUntilOut(token: string, failures: number): Promise<void> {
  let seen = 0;
  for (let i = 0; i < 400 && seen < failures; i++) if (await sentToken() === token) seen++;
  assert.equal(seen, failures, `${token} was not used ${failures} times`);
}

test('a 401 token gets nothing after its third failure, is probed about once per interval with max_tokens 1, and returns within 2 intervals of healing', async () => {
  setTokens(gw, { 'sk-fo-b': '401' });
  await failUntilOut('sk-fo-b', 3);
  const failedAt = gw.mock.requests.length;
  for (let i = 0; i < 200; i++) await chat(gw);
  assert.equal(clientRequests('sk-fo-b').length, 3, 'the dead token received requests after its third failure');
  assert.equal(gw.mock.requests.slice(failedAt).filter((r) => !isProbe(r)).length, 200);

  const probesBefore = probesOf('sk-fo-b').length;
  await sleep(10_000);
  const probes = probesOf('sk-fo-b');
  const n = probes.length - probesBefore;
  assert.ok(n >= 5 && n <= 15, `${n} probes in 10 s`);
  for (const p of probes) {
    assert.equal((p.body as { max_tokens?: number }).max_tokens, 1);
    assert.equal(p.path, '/v1/chat/completions');
  }

  setTokens(gw, { 'sk-fo-b': 'ok' });
  const healedAt = Date.now();
  const back = await waitFor(async () => (await sentToken()) === 'sk-fo-b', 6000, 20);
  const took = Date.now() - healedAt;
  assert.ok(back && took <= 2300, `back after ${took} ms`);
});

test('a 429 with Retry-After: 2 takes a token out for about 2 s with no probe in between', async () => {
  setTokens(gw, { 'sk-fo-c': { status: 429, retryAfter: 2 } });
  await failUntilOut('sk-fo-c', 1);
  const outAt = Date.now();
  setTokens(gw, { 'sk-fo-c': 'ok' });
  const countBefore = clientRequests('sk-fo-c').length;
  while (Date.now() - outAt < 1500) await chat(gw);
  assert.equal(clientRequests('sk-fo-c').length, countBefore, 'token used while benched');
  const back = await waitFor(async () => (await sentToken()) === 'sk-fo-c', 5000, 20);
  const took = Date.now() - outAt;
  assert.ok(back && took >= 1800 && took <= 3500, `back after ${took} ms`);
  assert.equal(probesOf('sk-fo-c').length, 0, 'a probe was sent before Retry-After passed');
});

test('a 400 answer never takes a token out', async () => {
  setTokens(gw, { 'sk-fo-a': '400' });
  for (let i = 0; i < 80; i++) await chat(gw);
  const share = clientRequests('sk-fo-a').length;
  assert.ok(share >= 8, `token answering 400 got only ${share} of 80 requests`);
  const late = gw.mock.requests.slice(-40).filter((r) => r.token === 'sk-fo-a').length;
  assert.ok(late > 0, 'token answering 400 stopped receiving requests');
});

test('with all 4 tokens failing every request gets a 503 (the provider\'s, or the plugin\'s once it knows the provider is failing), nothing crashes, and they return once healed', async () => {
  setTokens(gw, Object.fromEntries(TOKENS.map((t) => [t, '503'])));
  const answers = await Promise.all(Array.from({ length: 40 }, () => chat(gw)));
  const fromPlugin = (a: { body: string; headers: Record<string, unknown> }) => /"code":"provider_unavailable"/.test(a.body) && Number(a.headers['retry-after']) >= 1;
  for (const a of answers) {
    assert.equal(a.status, 503);
    assert.ok(/mock provider answered 503/.test(a.body) || fromPlugin(a), a.body);
  }
  for (let i = 0; i < 20; i++) assert.equal((await chat(gw)).status, 503);
  gw.mock.behaviours.clear();
  // The paced request (one per rest, at most 30 s apart) finds the provider healed.
  const healed = await waitFor(async () => {
    const seen = new Set<string | null | undefined>();
    for (let i = 0; i < 24; i++) seen.add(await sentToken());
    return TOKENS.every((t) => seen.has(t));
  }, 35_000, 100);
  assert.ok(healed, 'tokens did not come back');
  assert.doesNotMatch(gw.envoy.log, TRAP);
});

test('a reload through file-based discovery keeps the ejected token out and brings a fifth into use', async () => {
  setTokens(gw, { 'sk-fo-d': '401' });
  await failUntilOut('sk-fo-d', 3);
  await gw.reload(config([...TOKENS, 'sk-fo-e']));
  await sleep(300);
  gw.mock.requests.length = 0;
  for (let i = 0; i < 100; i++) await chat(gw);
  assert.equal(clientRequests('sk-fo-d').length, 0, 'the ejected token was used after the reload');
  assert.ok(clientRequests('sk-fo-e').length >= 10, `the new token got ${clientRequests('sk-fo-e').length} of 100`);
  await gw.reload(config());
});
