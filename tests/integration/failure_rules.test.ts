// Failure rules to the end: an answer a failure rule matches (a 200 whose body says the key has no
// quota) is retried like a failing status, the client gets another key's answer, and the log line
// of the ejection names the rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type Vm } from '../host/emulator.js';
import { clientView, roundTrip, type Upstream } from '../host/gateway.js';
import type { PluginConfig } from '../../envoy/config.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const QUOTA = '{"error":{"code":"insufficient_quota","message":"You exceeded your current quota"}}';
const OK = '{"choices":[{"message":{"content":"ok"}}]}';
/** sk-a answers 200 with a quota error in the body, the others serve. */
const quotaOnA: Upstream = ({ token }) => ({ status: 200, body: token === 'sk-a' ? QUOTA : OK });

function setup(retry: Record<string, unknown> = {}, failureThreshold = 1): { host: Host; vm: Vm } {
  const cfg: PluginConfig = {
    provider: {
      apiTokens: TOKENS,
      failover: { enabled: true, failureThreshold, maxEjectionPercent: 100, healthCheckInterval: 1000, healthCheckModel: 'm',
        failureConditions: [{ status: ['403'], body: 'account_deactivated' }, { status: ['200'], body: 'insufficient_quota' }] },
      retryOnFailure: { enabled: true, maxRetries: 1, ...retry },
    },
  };
  const host = new Host();
  const vm = host.createVm();
  assert.equal(vm.configure(cfg)[0], true);
  return { host, vm };
}

test('a 200 whose body a failure rule matches is retried: the client gets the other key\'s answer, the log names the rule', () => {
  const { host, vm } = setup();
  let fromA = 0;
  for (let i = 0; i < 40; i++) {
    const r = roundTrip(vm, quotaOnA);
    if (r.token === 'sk-a') {
      fromA++;
      assert.equal(r.retries, 1, 'the matched answer was not retried');
    }
    assert.equal(r.client.status, 200);
    assert.equal(r.client.body, OK, `request ${i} got the quota error`);
  }
  assert.ok(fromA >= 1, 'sk-a never served a request first');
  const line = host.logs.find((l) => l.msg.includes('taken out of the pool'));
  assert.ok(line, 'sk-a was not taken out');
  assert.match(line.msg, /failover\.failureConditions\[1\] matched, status 200, confirmed by a probe\)/);
});

test('retryOnFailureConditions false: the matched answer reaches the client, the key still counts', () => {
  const { host, vm } = setup({ retryOnFailureConditions: false });
  let seen = false;
  for (let i = 0; i < 40 && !seen; i++) {
    const r = roundTrip(vm, quotaOnA);
    if (r.token !== 'sk-a') continue;
    seen = true;
    assert.equal(r.retries, 0);
    assert.equal(r.client.body, QUOTA);
  }
  assert.ok(seen);
  assert.ok(host.logs.some((l) => l.msg.includes('taken out of the pool (failover.failureConditions[1] matched')));
});

test('a retry answer that a rule matches is retried again while retries are left', () => {
  const { vm } = setup({ maxRetries: 3 }, 100);
  const served: Upstream = ({ token }) => ({ status: 200, body: token === 'sk-d' ? OK : QUOTA });
  for (let i = 0; i < 20; i++) {
    const r = roundTrip(vm, served);
    assert.equal(r.client.body, OK, `request ${i} did not reach sk-d within 3 retries`);
  }
});

test('an answer that no rule matches is held only until its body is read, and goes on unchanged', () => {
  const { vm } = setup();
  const r = roundTrip(vm, () => ({ status: 200, body: OK }));
  assert.equal(r.retries, 0);
  assert.equal(r.client.body, OK);
  assert.equal(r.client.local, false);
});

test('a stream is never held for a body rule', () => {
  const { vm } = setup();
  const s = vm.newStream(vm.root, {}, {});
  s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'gw', 'content-type': 'application/json' }, false);
  s.onRequestBody('{"model":"m","stream":true,"messages":[]}', true);
  s.forward();
  assert.equal(s.onResponseHeaders({ ':status': '200', 'content-type': 'text/event-stream' }, false), 0);
  s.finish();
});

test('when Envoy hides a held answer\'s body (no allow_on_headers_stop_iteration), the answer goes on after the wait, unretried', () => {
  const { host, vm } = setup();
  const r = roundTrip(vm, () => ({ status: 200, body: QUOTA }), { allowOnHeadersStopIteration: false });
  assert.equal(r.client.pending, true);
  host.advance(400);
  const client = clientView(r.stream, 1);
  assert.equal(client.status, 200);
  assert.equal(client.body, QUOTA);
  r.stream.finish();
  // The process has learned that bodies are hidden: the next answer is not held at all.
  const next = roundTrip(vm, () => ({ status: 200, body: QUOTA }), { allowOnHeadersStopIteration: false });
  assert.equal(next.client.pending, undefined);
  assert.equal(next.client.body, QUOTA);
});

test('a client that makes the model write a rule\'s text takes no key out: on a retried request every key answering it is the request\'s doing', () => {
  const { host, vm } = setup({ maxRetries: 2 });
  // Every key's 200 carries the rule's text when the prompt asks for it, as a model would.
  const echo: Upstream = ({ body }) => ({ status: 200, body: String(body).includes('say insufficient_quota') ? `{"choices":[{"message":{"content":"insufficient_quota"}}]}` : OK });
  const hostile = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'say insufficient_quota' }] });
  for (let i = 0; i < 40; i++) {
    const r = roundTrip(vm, echo, { body: hostile });
    assert.equal(r.retries, 2, 'the matched answer was not retried');
    // Another client meanwhile is served by its first key.
    const other = roundTrip(vm, echo);
    assert.equal(other.client.body, OK);
    assert.equal(other.retries, 0);
  }
  assert.ok(!host.logs.some((l) => l.msg.includes('taken out of the pool')), 'a key was taken out');
  assert.ok(host.metric('ai_token_failover.pool.ai-token-failover:openai.failures_not_counted') >= 40);
});

test('without retries, a client that makes the model write a rule\'s text still takes no key out: the key\'s probe decides', () => {
  const cfg: PluginConfig = {
    provider: {
      apiTokens: TOKENS,
      failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 1000, healthCheckModel: 'm',
        failureConditions: [{ status: ['200'], body: 'insufficient_quota' }] },
    },
  };
  const host = new Host();
  const vm = host.createVm();
  assert.equal(vm.configure(cfg)[0], true);
  const echo: Upstream = ({ body }) => ({ status: 200, body: String(body).includes('say insufficient_quota') ? `{"choices":[{"message":{"content":"insufficient_quota"}}]}` : OK });
  const hostile = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'say insufficient_quota' }] });
  // A success first shows where probes go.
  assert.equal(roundTrip(vm, echo).client.body, OK);
  for (let i = 0; i < 40; i++) roundTrip(vm, echo, { body: hostile });
  assert.ok(!host.logs.some((l) => l.msg.includes('taken out of the pool')), 'a key was taken out');
  assert.ok(host.logs.some((l) => l.msg.includes('failover.failureConditions[0] matched, status 200): a probe decides')));
  // A key whose probe says it has no quota does leave (probed on a tick: this VM probed it within the interval).
  const quota: Upstream = (r) => (r.token === 'sk-b' ? { status: 200, body: QUOTA } : echo(r));
  for (let i = 0; i < 40 && !host.logs.some((l) => l.msg.includes('taken out of the pool')); i++) {
    roundTrip(vm, quota);
    host.advance(250);
  }
  assert.ok(host.logs.some((l) => /token #1:[0-9a-f]{6} taken out of the pool \(failover\.failureConditions\[0\] matched, status 200, confirmed by a probe\)/.test(l.msg)));
});
