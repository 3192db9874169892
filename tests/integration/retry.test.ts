// Retry on failure inside the emulator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import type { Headers } from '../host/header_map.js';
import { clientView, roundTrip, tokenOf, type Upstream } from '../host/gateway.js';

const POOL_METRIC = 'ai_token_failover.pool.ai-token-failover:openai.';
const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const config = ({ maxRetries = 1, failover = true, retryOnStatus = ['401', '403', '429', '5..'], retryTimeout = 5000 } = {}) => ({
  provider: {
    apiTokens: TOKENS,
    failover: { enabled: failover, failureThreshold: 3, healthCheckInterval: 1000, healthCheckModel: 'm' },
    retryOnFailure: { enabled: true, maxRetries, retryOnStatus, retryTimeout },
  },
});

function setup(cfg = config(), vms = 3) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  for (const vm of list) assert.equal(vm.configure(cfg)[0], true);
  return { host, vms: list };
}

const answerFor = (dead: string[]): Upstream => ({ token }) => (dead.includes(token ?? '')
  ? { status: 401, body: '{"error":"invalid key"}', headers: { 'x-provider': 'dead' } }
  : { status: 200, body: `{"answer":"from token ${TOKENS.indexOf(token ?? '')}"}`, headers: { 'x-provider': 'ok' } });

test('with one dead token every request answers 200 with the provider body, and the dead token leaves the pool', () => {
  const { host, vms } = setup();
  const upstream = answerFor(['sk-b']);
  let retried = 0;
  for (let i = 0; i < 500; i++) {
    const r = roundTrip(vms[i % 3], upstream);
    assert.equal(r.client.status, 200);
    assert.match(r.client.body ?? '', /"answer":"from token [023]"/);
    if (r.retries > 0) {
      retried++;
      // The retry answer took the held answer's place: status, headers and body, not a local reply.
      assert.equal(r.client.local, false);
      assert.equal(r.client.headers?.get('x-provider'), 'ok');
      assert.equal(r.client.headers?.get('content-length'), String(Buffer.byteLength(r.client.body ?? '')));
    }
  }
  assert.equal(retried, 3, 'the dead token should be used exactly 3 times before it is out');
  assert.equal(host.metric(POOL_METRIC + 'retries.attempted'), 3);
  assert.equal(host.metric(POOL_METRIC + 'retries.succeeded'), 3);
});

test('with two dead tokens and maxRetries 3 every request answers 200', () => {
  const { vms } = setup(config({ maxRetries: 3 }));
  const upstream = answerFor(['sk-a', 'sk-c']);
  for (let i = 0; i < 500; i++) assert.equal(roundTrip(vms[i % 3], upstream).client.status, 200);
});

test('a retry replays method, path, body and client headers with an untried token and no client credential', () => {
  const { vms } = setup(config({ failover: false, maxRetries: 3 }));
  const calls: Array<{ token: string | null; headers: Headers; body: string }> = [];
  const upstream: Upstream = ({ token, headers, body, call }) => {
    if (call) calls.push({ token, headers, body });
    return { status: 503, body: 'busy' };
  };
  const r = roundTrip(vms[0], upstream, { headers: { 'x-custom': 'kept', 'api-key': 'client-own', connection: 'keep-alive' }, body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}' });
  assert.equal(calls.length, 3);
  const used = new Set([r.token, ...calls.map((c) => c.token)]);
  assert.equal(used.size, 4, 'a token was tried twice');
  for (const c of calls) {
    assert.equal(c.headers.get(':method'), 'POST');
    assert.equal(c.headers.get(':path'), '/v1/chat/completions');
    assert.equal(c.headers.get('x-custom'), 'kept');
    assert.equal(c.headers.get('api-key'), null);
    assert.equal(c.headers.get('connection'), null);
    assert.ok(!JSON.stringify(c.headers.pairs).includes('client-own') && !JSON.stringify(c.headers.pairs).includes('client-key'));
    assert.equal(c.body, '{"model":"m","messages":[{"role":"user","content":"hi"}]}');
  }
  // Attempts ran out: the client gets the last failure as the provider sent it.
  assert.equal(r.client.status, 503);
  assert.equal(r.client.body, 'busy');
});

test('statuses outside retryOnStatus and bodies over 1 MiB are not retried', () => {
  const { host, vms } = setup(config({ retryOnStatus: ['5..'] }));
  const dead: Upstream = ({ call }) => { assert.ok(!call, 'unexpected retry'); return { status: 401, body: 'no' }; };
  assert.equal(roundTrip(vms[0], dead).client.status, 401);
  const bigDead: Upstream = ({ call }) => { assert.ok(!call, 'a body over 1 MiB was retried'); return { status: 500, body: 'x' }; };
  const big = `{"model":"m","pad":"${'x'.repeat(1 << 20)}"}`;
  assert.equal(roundTrip(vms[0], bigDead, { body: big }).client.status, 500);
  assert.equal(host.metric(POOL_METRIC + 'retries.attempted'), 0);
});

test('a retry call that times out ends with the original failure within retryTimeout', () => {
  const { host, vms } = setup(config({ retryTimeout: 2000 }));
  const upstream: Upstream = ({ call }) => (call ? { hang: true } : { status: 500, body: 'original failure' });
  const r = roundTrip(vms[0], upstream);
  assert.equal(r.client.pending, true);
  host.advance(2000);
  const view = clientView(r.stream, 1);
  assert.equal(view.status, 500);
  assert.equal(view.body, 'original failure');
  assert.equal(view.local, false);
  assert.equal(r.stream.continued.response, true);
  assert.equal(host.metric(POOL_METRIC + 'retries.exhausted'), 1);
});

test('a retry call refused with no headers ends with the original failure at once', () => {
  const { vms } = setup();
  const upstream: Upstream = ({ call }) => (call ? null : { status: 502, body: 'bad gateway' });
  const r = roundTrip(vms[0], upstream);
  assert.equal(r.client.status, 502);
  assert.equal(r.client.local, false);
});

test('every attempt counts for its token, so retries eject dead tokens too', () => {
  const { host, vms } = setup(config({ maxRetries: 3 }));
  const upstream = answerFor(['sk-a', 'sk-b', 'sk-c']);
  for (let i = 0; i < 30; i++) assert.equal(roundTrip(vms[i % 3], upstream).client.status, 200);
  const text = host.shared.text('ai-token-failover:ai-token-failover:openai::pool');
  assert.ok(text !== null, 'no pool record');
  // Two of the three dead keys: passive evidence takes out at most half of the keys (maxEjectionPercent 50).
  assert.equal(text.split(';').slice(1).filter((e) => e.split(',')[1] === '1').length, 2);
});

test('the stream may be gone when the retry answer arrives', () => {
  const { vms } = setup();
  const s = vms[0].newStream();
  s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'a' }, false);
  s.onRequestBody('{"model":"m"}', true);
  s.setProperty('response.code_details', 'via_upstream');
  assert.equal(s.onResponseHeaders({ ':status': '500' }, false), 1);
  s.finish();
  assert.equal(vms[0].calls().length, 1, 'the retry call ended with the stream');
  vms[0].answerCalls(() => ({ status: 200, body: 'late' }));
  assert.equal(vms[0].calls().length, 0);
  assert.equal(s.localResponse, null);
});

test('a retry answer replaces the held answer in place once its body is buffered; without a body to replace it is a local reply', () => {
  const { vms } = setup(config({ failover: false }), 1);
  const upstream: Upstream = ({ token, call }) => (call ? { status: 200, body: '{"answer":"retried"}', headers: { 'x-provider': 'ok' } }
    : token === null ? { status: 401 } : { status: 503, body: '{"error":"busy"}' });
  const inPlace = roundTrip(vms[0], upstream);
  assert.equal(inPlace.retries, 1);
  assert.deepEqual([inPlace.client.status, inPlace.client.local, inPlace.client.body], [200, false, '{"answer":"retried"}']);
  // A failure that ends with its headers leaves no body to replace.
  const noBody: Upstream = ({ call }) => (call ? { status: 200, body: '{"answer":"retried"}' } : { status: 503 });
  const local = roundTrip(vms[0], noBody);
  assert.equal(local.retries, 1);
  assert.deepEqual([local.client.status, local.client.local, local.client.body], [200, true, '{"answer":"retried"}']);
});

test('a retry answer that comes before the held answer\'s body waits for it, once the VM has seen body data reach the filter while it holds headers', () => {
  const { host, vms } = setup(config({ failover: false }), 1);
  const vm = vms[0];
  const answer = { status: 200, body: '{"answer":"retried"}' };
  const failWithLateBody = () => {
    const s = vm.newStream(vm.root, {}, { allowOnHeadersStopIteration: true });
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'api', authorization: 'Bearer c' }, false);
    s.onRequestBody('{"model":"m","messages":[]}', true);
    s.onResponseHeaders({ ':status': '503', 'content-type': 'application/json' }, false);
    vm.answerCalls(() => answer);
    return s;
  };
  // Before this VM has seen Envoy call the filter with body data while holding headers: a local reply at once.
  const first = failWithLateBody();
  assert.equal(first.localResponse?.status, 200);
  first.finish();
  // Seen once (a failure with its body at once), a later retry answer waits for the body and replaces it.
  roundTrip(vm, ({ call }) => (call ? answer : { status: 503, body: '{"error":"busy"}' }));
  const s = failWithLateBody();
  assert.equal(s.localResponse, null);
  assert.equal(s.continued.response, false, 'the held answer went on before its body arrived');
  s.onResponseBody('{"error":', false);
  assert.equal(s.continued.response, false);
  s.onResponseBody('"busy"}', true);
  assert.equal(s.responseHeaders?.get(':status'), '200');
  assert.equal(Buffer.concat(s.clientBody).toString(), answer.body);
  s.finish();
  assert.equal(host.metric(POOL_METRIC + 'retries.succeeded'), 3);
});

test('without allow_on_headers_stop_iteration the held body never reaches the filter: the retry answer is a local reply', () => {
  const { vms } = setup(config({ failover: false }), 1);
  const r = roundTrip(vms[0], ({ call }) => (call ? { status: 200, body: '{"answer":"retried"}' } : { status: 503, body: '{"error":"busy"}' }), { allowOnHeadersStopIteration: false });
  assert.equal(r.retries, 1);
  assert.deepEqual([r.client.status, r.client.local, r.client.body], [200, true, '{"answer":"retried"}']);
});
