// The plugin reads a request body as the provider's JSON parser does (last duplicate key wins,
// escaped key names decoded, Go's case-insensitive keys), so a client cannot get a key for a model
// the key does not serve, hide a stream, or slip a large max_tokens past a token budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import type { PluginConfig } from '../../envoy/config.js';
import { roundTrip, type Upstream } from '../host/gateway.js';

function setup(provider: Record<string, unknown>, vms = 2) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  const config = { provider: { failover: { enabled: true, healthCheckInterval: 60_000, healthCheckModel: 'gpt-4o-mini' }, ...provider } } as PluginConfig;
  for (const vm of list) assert.equal(vm.configure(config)[0], true);
  return { host, vms: list };
}
const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });

test('a duplicate or escaped "model" gets the key of the model the provider reads (the last); one named in another case too is refused', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-mini', models: ['gpt-4o-mini'] }, { token: 'sk-o1', models: ['o1-pro'] }] });
  for (let i = 0; i < 10; i++) {
    assert.equal(roundTrip(vms[i % 2], ok, { body: '{"model":"gpt-4o-mini","model":"o1-pro","messages":[]}' }).token, 'sk-o1');
    assert.equal(roundTrip(vms[i % 2], ok, { body: '{"model":"gpt-4o-mini","\\u006dodel":"o1-pro","messages":[]}' }).token, 'sk-o1');
    assert.equal(roundTrip(vms[i % 2], ok, { body: '{"model":"o1-pro","model":"gpt-4o-mini","messages":[]}' }).token, 'sk-mini');
  }
  for (const body of ['{"model":"gpt-4o-mini","MODEL":"o1-pro"}', '{"MODEL":"o1-pro","messages":[]}', '{"model":"gpt-4o-mini","Model":"o1-pro"}']) {
    const r = roundTrip(vms[0], ok, { body });
    assert.equal(r.token, null, body);
    assert.equal(r.client.status, 400);
    assert.match(r.client.body ?? '', /"code":"ambiguous_model"/);
  }
});

test('a mini-only pool refuses a request whose last "model" is another model, however the first one reads', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-mini-1', models: ['gpt-4o-mini'] }, { token: 'sk-mini-2', models: ['gpt-4o-mini'] }] });
  const r = roundTrip(vms[0], ok, { body: '{"model":"gpt-4o-mini","model":"o1-pro"}' });
  assert.equal(r.token, null);
  assert.equal(r.client.status, 400);
  assert.match(r.client.body ?? '', /o1-pro/);
});

test('a stream hidden behind a duplicate "stream" is a stream: its retry waits for a stream (streamRetryTimeout)', () => {
  const { vms } = setup({ apiTokens: ['sk-a', 'sk-b'], retryOnFailure: { enabled: true, retryTimeout: 1000, streamRetryTimeout: 90_000 },
    failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 60_000, healthCheckModel: 'm' } });
  let timeout = 0;
  const upstream: Upstream = ({ token, call }) => {
    if (call) timeout = call.timeoutMs;
    return { status: token === 'sk-a' ? 503 : 200, body: '{}' };
  };
  let streamed = 0;
  let retried = 0;
  for (let i = 0; i < 60 && (streamed < 3 || retried < 3); i++) {
    const hidden = roundTrip(vms[i % 2], upstream, { body: '{"model":"m","stream":false,"stream":true}' });
    if (hidden.token === 'sk-a') {
      streamed++;
      assert.equal(hidden.retries, 1);
      assert.equal(timeout, 90_000);
    }
    const plain = roundTrip(vms[i % 2], upstream, { body: '{"model":"m","stream":true,"Stream":false,"stream":false}' });
    // The last "stream" is false in every reading: an ordinary request, retried as one.
    if (plain.token === 'sk-a') {
      retried++;
      assert.equal(plain.client.status, 200);
      assert.equal(timeout, 1000);
    }
  }
  assert.ok(streamed >= 3 && retried >= 3, `${streamed} hidden streams, ${retried} retried requests met the failing key`);
});

test('max_tokens in every form the provider accepts counts against a token budget: 3e4, 30000.0, a string, max_completion_tokens, another case', () => {
  for (const asked of ['"max_tokens":3e4', '"max_tokens":30000.0', '"max_tokens":"30000"', '"max_completion_tokens":30000', '"MAX_TOKENS":30000', '"max_tokens":10,"max_tokens":30000']) {
    // 80,000 tpm: an unanswered request counts at most an eighth of the bucket (10,000 tokens).
    const { vms } = setup({ apiTokens: [{ token: 'sk-t', tpm: 80000 }] });
    let served = 0;
    for (let i = 0; i < 20; i++) if (roundTrip(vms[i % 2], ok, { body: `{"model":"m",${asked}}` }).token) served++;
    assert.ok(served <= 9, `${asked}: ${served} of 20 requests served`);
    assert.ok(served >= 6, `${asked}: ${served} of 20 requests served`);
  }
});
