// Rate-aware key choice inside the emulator: weights, model lists, the provider's rate-limit headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { CHAT, roundTrip, type Upstream, type UpstreamAnswer } from '../host/gateway.js';
import type { PluginConfig, ProviderConfig } from '../../envoy/config.js';
import { statusOf } from '../host/status_document.js';

function setup(provider: ProviderConfig, vms = 3) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  for (const vm of list) assert.equal(vm.configure({ provider })[0], true);
  return { host, vms: list };
}
const OK = (): UpstreamAnswer => ({ status: 200, body: '{"choices":[]}' });
const chatBody = (model: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

test('weights 1:3 give shares of about 25% and 75%', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-w1', weight: 1 }, { token: 'sk-w3', weight: 3 }], failover: { enabled: true, healthCheckModel: 'm' } });
  const counts: Record<string, number> = { 'sk-w1': 0, 'sk-w3': 0 };
  for (let i = 0; i < 2000; i++) counts[String(roundTrip(vms[i % 3], OK).token)]++;
  assert.ok(Math.abs(counts['sk-w1'] / 2000 - 0.25) <= 0.05, JSON.stringify(counts));
  assert.ok(Math.abs(counts['sk-w3'] / 2000 - 0.75) <= 0.05, JSON.stringify(counts));
});

test('model lists send each model only to keys that allow it; keys without a list serve every model', () => {
  const { vms } = setup({
    apiTokens: [{ token: 'sk-4o', models: ['gpt-4o*'] }, { token: 'sk-mini', models: ['gpt-4o-mini', 'o?-mini'] }, 'sk-any'],
    failover: { enabled: true, healthCheckModel: 'gpt-4o-mini' },
  });
  const seen = (model: string) => {
    const s = new Set<string | null>();
    for (let i = 0; i < 120; i++) {
      const r = roundTrip(vms[i % 3], OK, { body: chatBody(model) });
      assert.equal(r.client.status, 200);
      s.add(r.token);
    }
    return [...s].sort();
  };
  assert.deepEqual(seen('gpt-4o'), ['sk-4o', 'sk-any']);
  assert.deepEqual(seen('gpt-4o-mini'), ['sk-4o', 'sk-any', 'sk-mini']);
  assert.deepEqual(seen('o3-mini'), ['sk-any', 'sk-mini']);
  assert.deepEqual(seen('claude-3'), ['sk-any']);
  // A request without a model uses keys without a list.
  const r = roundTrip(vms[0], OK, { body: '{"messages":[]}' });
  assert.equal(r.token, 'sk-any');
});

test('a model no key serves is answered 400 with an OpenAI-style error and never reaches the provider', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-a', models: ['gpt-4o'] }, { token: 'sk-b', models: ['gpt-4o-mini'] }], failover: { enabled: true, healthCheckModel: 'gpt-4o' } });
  const never = () => { throw new Error('the provider was contacted'); };
  const model = 'llama-"3"\\n';
  const r = roundTrip(vms[0], never, { body: chatBody(model) });
  assert.equal(r.client.status, 400);
  const err = JSON.parse(r.client.body ?? '').error;
  assert.equal(err.code, 'model_not_found');
  assert.equal(err.param, 'model');
  assert.ok(err.message.endsWith(JSON.stringify(model)), err.message);
  assert.equal(roundTrip(vms[0], never, { body: '{"messages":[]}' }).client.status, 400);
  assert.equal(roundTrip(vms[0], never, { body: 'not json' }).client.status, 400);
});

test('retries go only to untried keys that serve the model', () => {
  const { vms } = setup({
    apiTokens: [{ token: 'sk-a', models: ['m1'] }, { token: 'sk-b', models: ['m1'] }, { token: 'sk-c', models: ['m2'] }, { token: 'sk-d', models: ['m2'] }],
    retryOnFailure: { enabled: true, maxRetries: 3 },
  }, 1);
  const calls: Array<string | null> = [];
  const upstream: Upstream = ({ token, call }) => { if (call) calls.push(token); return { status: 503, body: 'busy' }; };
  const r = roundTrip(vms[0], upstream, { body: chatBody('m1') });
  assert.ok(['sk-a', 'sk-b'].includes(r.token ?? ''));
  assert.deepEqual(calls, [r.token === 'sk-a' ? 'sk-b' : 'sk-a']);
  assert.equal(r.client.status, 503);
});

test('a key that reports 0 requests remaining with a reset in 2 s gets no request before its reset, on any VM', () => {
  const { host, vms } = setup({ apiTokens: ['sk-a', 'sk-b'], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } });
  let limited = false;
  const upstream: Upstream = ({ token }): UpstreamAnswer => {
    if (token === 'sk-a' && !limited) {
      limited = true;
      return { status: 200, body: '{}', headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2s', 'x-ratelimit-remaining-tokens': '9000' } };
    }
    return { status: 200, body: '{}', headers: { 'x-ratelimit-remaining-requests': '50', 'x-ratelimit-remaining-tokens': '9000' } };
  };
  for (let i = 0; i < 50 && !limited; i++) roundTrip(vms[i % 3], upstream);
  assert.ok(limited);
  const start = host.nowMs;
  for (let i = 0; i < 300; i++) {
    host.nowMs = start + Math.floor(i * 6.6); // through 1.98 s
    assert.equal(roundTrip(vms[i % 3], upstream).token, 'sk-b', `sk-a used ${host.nowMs - start} ms after it reported nothing left`);
  }
  host.nowMs = start + 2001;
  const seen = new Set();
  for (let i = 0; i < 60; i++) seen.add(roundTrip(vms[i % 3], upstream).token);
  assert.ok(seen.has('sk-a'), 'sk-a did not come back after its reset');
});

test('when every key serving a request is rate-limited the plugin answers 429 with Retry-After, without the provider', () => {
  const { host, vms } = setup({ type: 'claude', apiTokens: ['sk-a', 'sk-b'], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } });
  const reset = new Date(host.nowMs + 4500).toISOString();
  const upstream = () => ({ status: 200, body: '{}', headers: { 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': reset } });
  const used = new Set();
  for (let i = 0; i < 40 && used.size < 2; i++) {
    const r = roundTrip(vms[0], upstream);
    if (r.token) used.add(r.token);
  }
  assert.equal(used.size, 2);
  const r = roundTrip(vms[1], () => { throw new Error('the provider was contacted'); });
  assert.equal(r.client.status, 429);
  assert.equal(r.client.headers?.get('retry-after'), '5');
  assert.equal(JSON.parse(r.client.body ?? '').error.code, 'rate_limit_exceeded');
});

test('keys out of the pool are still used (the one due first) rather than answered 429', () => {
  const { vms } = setup({ apiTokens: ['sk-a', 'sk-b'], failover: { enabled: true, failureThreshold: 1, healthCheckModel: 'm' } }, 1);
  for (let i = 0; i < 20; i++) roundTrip(vms[0], () => ({ status: 401, body: '{}' }));
  const r = roundTrip(vms[0], OK);
  assert.ok(r.token);
  assert.equal(r.client.status, 200);
});

test('rpm budgets hold across VMs: the bucket holds the key\'s whole minute, then 429 with Retry-After; the rate refills it', () => {
  // 60 rpm = one request a second; the bucket holds the minute: 60 requests.
  const { host, vms } = setup({ apiTokens: [{ token: 'sk-a', rpm: 60 }, { token: 'sk-b', rpm: 60 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } });
  const sent: Record<string, number> = { 'sk-a': 0, 'sk-b': 0 };
  let refused = 0;
  let retryAfter: string | null | undefined = null;
  for (let i = 0; i < 150; i++) {
    const r = roundTrip(vms[i % 3], OK);
    if (r.token) sent[r.token]++;
    else { refused++; retryAfter = r.client.headers?.get('retry-after'); assert.equal(r.client.status, 429); }
  }
  assert.deepEqual(sent, { 'sk-a': 60, 'sk-b': 60 });
  assert.equal(refused, 30);
  assert.equal(retryAfter, '1');
  host.nowMs += 3000;
  let more = 0;
  for (let i = 0; i < 20; i++) if (roundTrip(vms[i % 3], OK).token) more++;
  assert.equal(more, 6, `${more} requests after 3 s`);
});

test('a burst caps what a key\'s bucket holds, for providers that enforce shorter windows', () => {
  const { host, vms } = setup({ apiTokens: [{ token: 'sk-a', rpm: 600, burst: 20 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } });
  let sent = 0;
  for (let i = 0; i < 40; i++) if (roundTrip(vms[i % 3], OK).token) sent++;
  assert.equal(sent, 20);
  host.nowMs += 1000;
  sent = 0;
  for (let i = 0; i < 40; i++) if (roundTrip(vms[i % 3], OK).token) sent++;
  assert.equal(sent, 10);
});

test('with budgets a successful request does one shared-data read, and at most 1 write in 10', () => {
  const { host, vms } = setup({ apiTokens: [{ token: 'sk-a', rpm: 60000 }, { token: 'sk-b', rpm: 60000, tpm: 10000000 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } });
  for (let i = 0; i < 30; i++) roundTrip(vms[i % 3], OK);
  const reads = host.shared.reads, writes = host.shared.writes;
  let oneRead = 0;
  for (let i = 0; i < 600; i++) {
    const before = host.shared.reads;
    roundTrip(vms[i % 3], OK);
    if (host.shared.reads - before === 1) oneRead++;
    if (i % 60 === 59) host.nowMs += 1000;
  }
  const w = (host.shared.writes - writes) / 600;
  assert.ok(w <= 0.1, `${w} shared-data writes per request`);
  assert.ok(oneRead >= 540, `${oneRead} of 600 requests did one shared-data read (${(host.shared.reads - reads) / 600} on average)`);
});

test('token budgets count the provider usage: a big answer slows the key, a small one frees room', () => {
  // 2,000 tpm: the bucket holds 2,000 tokens and refills 33 a second.
  const { host, vms } = setup({ apiTokens: [{ token: 'sk-t', tpm: 2000 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } }, 1);
  const usage = (n: number): Upstream => () => ({ status: 200, body: JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: n - 10, total_tokens: n } }) });
  const body = chatBody('m', { max_tokens: 100 });
  // Each request is estimated at ~130 tokens; answers say 1,000 each: the budget lasts 2 or 3 requests.
  let ok = 0;
  for (let i = 0; i < 10; i++) if (roundTrip(vms[0], usage(1000), { body }).token) ok++;
  assert.ok(ok >= 2 && ok <= 4, `${ok} requests got through at 1,000 tokens each`);
  host.nowMs += 60_000;
  // Now they say 20 tokens each: what the estimates did not use goes back, and many more fit.
  ok = 0;
  for (let i = 0; i < 40; i++) if (roundTrip(vms[0], usage(20), { body }).token) ok++;
  assert.ok(ok >= 30, `${ok} requests got through at 20 tokens each`);
});

test('a huge max_tokens cannot lock a token budget, and a refused request gives its reservation back', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-t', tpm: 10000 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } }, 2);
  const refused: Upstream = () => ({ status: 400, body: '{"error":{"message":"max_tokens is too large"}}' });
  const huge = chatBody('m', { max_tokens: 999999999999 });
  for (let i = 0; i < 4; i++) assert.equal(roundTrip(vms[i % 2], refused, { body: huge }).client.status, 400);
  // Streams that never report usage keep their (capped) estimate: an eighth of the bucket each.
  const silent: Upstream = () => ({ status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 2; i++) roundTrip(vms[i % 2], silent, { body: chatBody('m', { max_tokens: 100000, stream: true }) });
  let ok = 0;
  for (let i = 0; i < 40; i++) if (roundTrip(vms[i % 2], usage20(), { body: chatBody('m', { max_tokens: 50 }) }).client.status === 200) ok++;
  assert.equal(ok, 40, `${ok} of 40 small requests served`);
});
const usage20 = (): Upstream => () => ({ status: 200, body: JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } }) });

test('a key answering 429 without headers gets a smaller share until it recovers, then its full share', () => {
  const { host, vms } = setup({ apiTokens: ['sk-a', 'sk-b'], failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 1000, healthCheckModel: 'm' } });
  const share = (upstream: Upstream, n = 400) => {
    let a = 0;
    for (let i = 0; i < n; i++) if (roundTrip(vms[i % 3], upstream).token === 'sk-a') a++;
    return a / n;
  };
  assert.ok(Math.abs(share(OK) - 0.5) < 0.08);
  const throttled: Upstream = ({ token }) => (token === 'sk-a' ? { status: 429, body: '{"error":"slow down"}' } : OK());
  share(throttled, 60);
  const low = share(OK);
  assert.ok(low < 0.1, `share while throttled: ${low}`);
  for (let t = 0; t < 14; t++) host.advance(1000);
  const back = share(OK);
  assert.ok(Math.abs(back - 0.5) < 0.08, `share after recovery: ${back}`);
});

test('keys with more headroom in the provider\'s headers get more of the traffic', () => {
  const { vms } = setup({ apiTokens: ['sk-low', 'sk-high'], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } }, 1);
  const room: Record<string, string> = { 'sk-low': '10', 'sk-high': '90' };
  const upstream: Upstream = ({ token }) => ({ status: 200, body: '{}', headers: { 'x-ratelimit-limit-requests': '100', 'x-ratelimit-remaining-requests': room[String(token)] } });
  for (let i = 0; i < 20; i++) roundTrip(vms[0], upstream);
  let high = 0;
  for (let i = 0; i < 1000; i++) if (roundTrip(vms[0], upstream).token === 'sk-high') high++;
  assert.ok(high >= 850 && high <= 950, `sk-high got ${high} of 1000`);
});

test('a burst over tpm-only budgets is told to wait (429 with Retry-After), never that no key serves the model', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-t1', tpm: 20000 }, { token: 'sk-t2', tpm: 20000 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } }, 2);
  // Each request reserves its estimate (about 2,500 tokens) until it is answered: the burst stays open.
  const open = [];
  const statuses: number[] = [];
  for (let i = 0; i < 24; i++) {
    const s = vms[i % 2].newStream(vms[i % 2].root, {}, { allowOnHeadersStopIteration: true });
    s.onRequestHeaders({ ...CHAT }, false);
    s.onRequestBody(chatBody('m', { max_tokens: 2500 }), true);
    if (s.localResponse) {
      statuses.push(s.localResponse.status);
      assert.ok(Number(s.localResponse.headers.get('retry-after')) >= 1);
    } else open.push(s);
  }
  assert.ok(statuses.length > 0, 'the burst fit the budgets');
  assert.deepEqual([...new Set(statuses)], [429]);
  for (const s of open) s.finish();
});

test('an answer that used far more than its estimate is a debt every worker and the status document see: the status shows it owed while requests are refused, and room once they go again', () => {
  const host = new Host();
  const vms = [host.createVm(), host.createVm()];
  const provider = { apiTokens: [{ token: 'sk-t', tpm: 2000 }], failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'm' } };
  for (const vm of vms) assert.equal(vm.configure({ provider, statusPath: '/status', statusToken: 'st' } as PluginConfig)[0], true);
  const used = (n: number): Upstream => () => ({ status: 200, body: JSON.stringify({ choices: [], usage: { total_tokens: n } }) });
  // Estimated at about 130 tokens; the answer says 6,000: three minutes of a 2,000 tpm key.
  assert.equal(roundTrip(vms[0], used(6000), { body: chatBody('m', { max_tokens: 100 }) }).client.status, 200);
  const owed = statusOf(vms[1]).tokens[0].budgetLeft?.tokens ?? 0;
  assert.ok(owed < 0, `the status shows ${owed} tokens left after the overrun`);
  for (const vm of vms) {
    const r = roundTrip(vm, used(20), { body: chatBody('m', { max_tokens: 100 }) });
    assert.equal(r.client.status, 429, 'a worker sent a request the status says has no room');
    const wait = Number(r.client.headers?.get('retry-after'));
    assert.ok(wait >= 60 && wait <= 70, `Retry-After ${wait}`);
  }
  host.nowMs += 70_000;
  const left = statusOf(vms[1]).tokens[0].budgetLeft?.tokens ?? 0;
  assert.ok(left >= 130, `${left} tokens left after the debt refilled`);
  for (const vm of vms) assert.equal(roundTrip(vm, used(20), { body: chatBody('m', { max_tokens: 100 }) }).client.status, 200);
});
