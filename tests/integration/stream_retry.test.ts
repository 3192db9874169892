// Streaming requests retried in the downstream placement, inside the emulator: the failed first
// answer is held, a retry call fetches the whole stream, and it takes the failure's place.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { clientView, roundTrip, type Upstream } from '../host/gateway.js';

const POOL_METRIC = 'ai_token_failover.pool.ai-token-failover:openai.';
const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const STREAM_BODY = '{"model":"m","stream":true,"messages":[]}';
const SSE = 'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n';

function setup(retry: Record<string, unknown> = {}, failover: Record<string, unknown> = {}) {
  const host = new Host();
  const vm = host.createVm();
  const cfg = {
    provider: {
      apiTokens: TOKENS,
      failover: { enabled: true, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'm', ...failover },
      retryOnFailure: { enabled: true, ...retry },
    },
  };
  assert.equal(vm.configure(cfg)[0], true);
  return { host, vm };
}

const stream = (status = 200): { status: number; headers: Record<string, string>; body: string } =>
  ({ status, headers: { 'content-type': 'text/event-stream', 'x-provider': 'ok' }, body: SSE });

test('a stream whose first answer is 429 with Retry-After gets the whole stream of another key in its place, and the key rests', () => {
  const { host, vm } = setup();
  const first = new Set<string>();
  const upstream: Upstream = ({ token, call }) => {
    if (!call) {
      first.add(token ?? '');
      return { status: 429, headers: { 'retry-after': '30' }, body: '{"error":{"code":"rate_limit_exceeded"}}' };
    }
    return stream();
  };
  const r = roundTrip(vm, upstream, { body: STREAM_BODY });
  assert.equal(r.retries, 1);
  assert.equal(r.client.status, 200);
  assert.equal(r.client.body, SSE);
  assert.equal(r.client.local, false);
  assert.equal(r.client.headers?.get('content-type'), 'text/event-stream');
  assert.equal(r.client.headers?.get('x-provider'), 'ok');
  assert.equal(host.metric(POOL_METRIC + 'retries.succeeded'), 1);
  // The rested key is not chosen again while it rests: the next streams start elsewhere.
  for (let i = 0; i < 20; i++) {
    const next = roundTrip(vm, ({ token }) => { assert.ok(!first.has(token ?? ''), 'a resting key was chosen'); return stream(); }, { body: STREAM_BODY });
    assert.equal(next.client.status, 200);
  }
});

test('a dead key of four: every stream is complete, retried when it met the dead key, which leaves the pool', () => {
  const { vm } = setup();
  const upstream: Upstream = ({ token }) => (token === 'sk-b' ? { status: 401, body: '{"error":"invalid key"}' } : stream());
  let retried = 0;
  for (let i = 0; i < 40; i++) {
    const r = roundTrip(vm, upstream, { body: STREAM_BODY });
    assert.equal(r.client.status, 200);
    assert.equal(r.client.body, SSE);
    retried += r.retries;
  }
  assert.equal(retried, 3, 'the dead key should be met exactly 3 times before it is out');
});

test('a stream retry has its own timeout (streamRetryTimeout), not retryTimeout', () => {
  const { host, vm } = setup({ retryTimeout: 1000, streamRetryTimeout: 60_000 });
  const timeouts: number[] = [];
  const r = roundTrip(vm, ({ call }) => {
    if (!call) return { status: 503, body: 'busy' };
    timeouts.push(call.timeoutMs);
    return { hang: true };
  }, { body: STREAM_BODY });
  assert.deepEqual(timeouts, [60_000]);
  assert.equal(r.client.pending, true);
  host.advance(59_000);
  assert.equal(clientView(r.stream, 1).pending, true);
  host.advance(1_000);
  // The retry timed out: the client gets the held failure, as the provider sent it.
  const view = clientView(r.stream, 1);
  assert.equal(view.status, 503);
  assert.equal(view.body, 'busy');
  // A non-streaming request keeps retryTimeout.
  const plain = roundTrip(vm, ({ call }) => {
    if (!call) return { status: 503, body: 'busy' };
    timeouts.push(call.timeoutMs);
    return { hang: true };
  });
  assert.deepEqual(timeouts, [60_000, 1000]);
  host.advance(1000);
  assert.equal(clientView(plain.stream, 1).status, 503);
});

test('a retried stream larger than maxStreamAnswerBytes is not delivered: the client gets the first failure', () => {
  const { vm } = setup({ maxStreamAnswerBytes: 1000 });
  const long = 'data: {"choices":[{"delta":{"content":"xxxxxxxxxxxxxxxxxxxx"}}]}\n\n'.repeat(40) + 'data: [DONE]\n\n';
  const r = roundTrip(vm, ({ call }) => (call ? { status: 200, headers: { 'content-type': 'text/event-stream' }, body: long } : { status: 500, body: 'first failure' }), { body: STREAM_BODY });
  assert.equal(r.client.status, 500);
  assert.equal(r.client.body, 'first failure');
});

test('maxStreamAnswerBytes 0: streaming requests are not retried', () => {
  const { host, vm } = setup({ maxStreamAnswerBytes: 0 });
  const r = roundTrip(vm, ({ call }) => { assert.ok(!call, 'a stream was retried'); return { status: 500, body: 'x' }; }, { body: STREAM_BODY });
  assert.equal(r.client.status, 500);
  assert.equal(host.metric(POOL_METRIC + 'retries.attempted'), 0);
});

test('a retried stream is judged on status and headers: text of the model matching a body rule counts nothing', () => {
  const rule = { failureConditions: [{ status: ['200'], body: 'insufficient_quota' }] };
  const { host, vm } = setup({}, rule);
  const saying = 'data: {"choices":[{"delta":{"content":"insufficient_quota"}}]}\n\ndata: [DONE]\n\n';
  const upstream: Upstream = ({ call }) => (call
    ? { status: 200, headers: { 'content-type': 'text/event-stream' }, body: saying }
    : { status: 503, body: 'failed' });
  for (let i = 0; i < 12; i++) {
    const r = roundTrip(vm, upstream, { body: STREAM_BODY });
    assert.equal(r.client.status, 200);
    assert.equal(r.client.body, saying);
  }
  // Had the rule read the stream, each retry would have been a failure and the retries exhausted.
  assert.equal(host.metric(POOL_METRIC + 'retries.succeeded'), 12);
  assert.equal(host.metric(POOL_METRIC + 'retries.exhausted'), 0);
});
