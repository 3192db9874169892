// What one client can do to every other client: nothing it sends may take keys out, aim probes,
// lock budgets or ride along to the provider, and no request waits for a body Envoy hides.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { statusOf } from '../host/status_document.js';
import type { PluginConfig } from '../../envoy/config.js';
import { CHAT, isProbeCall, roundTrip, statusByToken, tokenOf, type Upstream, type UpstreamAnswer } from '../host/gateway.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c', 'sk-d'];
const POOL_KEY = 'ai-token-failover:ai-token-failover:openai::pool';
const defaults = (extra: Record<string, unknown> = {}): PluginConfig => ({
  provider: {
    apiTokens: TOKENS,
    failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' },
    retryOnFailure: { enabled: true },
    ...extra,
  },
});

function setup(config: PluginConfig = defaults(), vms = 3) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  for (const vm of list) assert.equal(vm.configure(config)[0], true);
  return { host, vms: list };
}
const outCount = (host: Host): number => (host.shared.text(POOL_KEY) ?? '').split(';').slice(1).filter((e) => e.split(',')[1] === '1').length;
const failures = (host: Host): number => (host.shared.text(POOL_KEY) ?? '').split(';').slice(1).reduce((n, e) => n + parseInt(e.split(',')[2], 16), 0);

test('a path outside `paths` gets no pool key, loses every client credential, and is never counted', () => {
  const { host, vms } = setup();
  for (let i = 0; i < 30; i++) {
    const s = vms[i % 3].newStream();
    s.onRequestHeaders({ ':method': 'GET', ':path': '/v1/organization/users?limit=5', ':authority': 'api.example.com', authorization: 'Bearer client-own', 'x-goog-api-key': 'client-own' }, true);
    assert.equal(s.requestHeaders.get('authorization'), null);
    assert.equal(s.requestHeaders.get('x-goog-api-key'), null);
    s.forward();
    s.setProperty('response.code_details', 'via_upstream');
    s.onResponseHeaders({ ':status': '403' }, true);
    s.finish();
  }
  assert.equal(failures(host), 0);
  assert.equal(outCount(host), 0);
});

test('every credential header a client may send is removed, with the operator\'s own list', () => {
  const { vms } = setup({ ...defaults(), credentialHeaders: ['X-Company-Key'] });
  const own = { authorization: 'Bearer c', 'proxy-authorization': 'Basic c', 'api-key': 'c', 'x-api-key': 'c', 'x-goog-api-key': 'c', 'x-company-key': 'c' };
  const seen: Array<Record<string, string | null>> = [];
  const upstream: Upstream = ({ headers, token }) => {
    seen.push(Object.fromEntries(Object.keys(own).map((h) => [h, headers.get(h)])));
    return { status: token === 'sk-a' ? 503 : 200, body: '{}' };
  };
  for (let i = 0; i < 20; i++) roundTrip(vms[i % 3], upstream, { headers: own });
  for (const h of seen) {
    assert.match(h.authorization ?? '', /^Bearer sk-[abcd]$/);
    for (const name of Object.keys(own).filter((n) => n !== 'authorization')) assert.equal(h[name], null, `${name} reached the provider`);
  }
  assert.ok(seen.length > 20, 'no retry was sent');
});

test('a client header that makes every key fail (a foreign OpenAI-Organization: 401) takes no key out', () => {
  const { host, vms } = setup();
  const upstream: Upstream = ({ headers }) => (headers.get('openai-organization') === 'org-attacker'
    ? { status: 401, body: '{"error":{"code":"invalid_organization"}}' } : { status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 60; i++) {
    const hostile = i % 2 === 0;
    const r = roundTrip(vms[i % 3], upstream, { headers: hostile ? { 'openai-organization': 'org-attacker' } : {} });
    assert.equal(r.client.status, hostile ? 401 : 200);
  }
  assert.equal(outCount(host), 0);
  assert.equal(failures(host), 0, 'a failure another key repeated was counted');
  assert.ok(host.metric('ai_token_failover.pool.ai-token-failover:openai.failures_not_counted') > 0);
});

test('a new host header on every request (so every retry goes on a guessed route) does not let a failure every key shares count', () => {
  const { host, vms } = setup();
  const route = { hostRewrite: 'api.provider.test', prefixRewrite: ['/openai/v1/', '/v1/'] as [string, string] };
  // The provider refuses the foreign organization whatever the host and path; a misrouted request gets 404.
  const upstream: Upstream = ({ headers }) => {
    if (headers.get('openai-organization') === 'org-attacker') return { status: 401, body: '{"error":{"code":"invalid_organization"}}' };
    return headers.get(':authority') === 'api.provider.test' ? { status: 200, body: '{"choices":[]}' } : { status: 404, body: '{}' };
  };
  for (let i = 0; i < 60; i++) {
    const headers = { ':authority': `h${i}.gateway.example`, ':path': '/openai/v1/chat/completions', 'openai-organization': 'org-attacker' };
    assert.equal(roundTrip(vms[i % 3], upstream, { headers, route }).client.status, 401);
  }
  assert.equal(failures(host), 0, 'a failure on a request whose retry went on a guessed route was counted');
  assert.equal(outCount(host), 0);
  // A dead key still counts on such requests when the guessed retry is served (this provider takes any host).
  const dead: Upstream = ({ token }) => (token === 'sk-b' ? { status: 401, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 60 && failures(host) === 0; i++) {
    roundTrip(vms[i % 3], dead, { headers: { ':authority': `d${i}.gateway.example`, ':path': '/openai/v1/chat/completions' }, route });
  }
  assert.ok(failures(host) > 0, 'a dead key\'s failure did not count when another key served the request');
});

test('without retries, a refusal a client causes reaches failureThreshold but its probe keeps the key in, even aimed at one key through affinity', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: false } }));
  const upstream: Upstream = ({ headers }) => (headers.get('openai-organization') === 'org-attacker'
    ? { status: 401, body: '{"error":{"code":"invalid_organization"}}' } : { status: 200, body: '{"choices":[]}' });
  // Normal traffic first: its successes show where probes go.
  for (let i = 0; i < 6; i++) assert.equal(roundTrip(vms[i % 3], upstream).client.status, 200);
  for (let i = 0; i < 60; i++) roundTrip(vms[i % 3], upstream, { headers: { 'openai-organization': 'org-attacker' } });
  assert.equal(outCount(host), 0, 'a key left the pool on refusals its probe did not repeat');
  assert.ok(host.metric('ai_token_failover.pool.ai-token-failover:openai.ejections_not_confirmed') >= 4);
  // The probes carried nothing the client sent.
  assert.ok(host.logs.some((l) => l.msg.includes('stays in the pool: its probe succeeded')));
  // Aimed: with affinity every hostile request lands on one key; it still stays.
  const aimed = setup({ ...defaults({ retryOnFailure: { enabled: false } }), affinity: { header: 'x-user-id' } });
  for (let i = 0; i < 6; i++) roundTrip(aimed.vms[i % 3], upstream);
  let probes = 0;
  const counting: Upstream = (r) => {
    if (r.call && isProbeCall(r)) probes++;
    return upstream(r);
  };
  for (let i = 0; i < 30; i++) roundTrip(aimed.vms[i % 3], counting, { headers: { 'openai-organization': 'org-attacker', 'x-user-id': 'mallory' } });
  assert.equal(outCount(aimed.host), 0);
  // However often the key reaches the threshold, each VM probes it at most once an interval.
  assert.ok(probes >= 1 && probes <= 3, `${probes} probes`);
});

test('without retries, a dead key leaves once its probe fails too, and the log line says so', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: false } }));
  const dead = statusByToken({ 'sk-c': 401 });
  for (let i = 0; i < 100 && outCount(host) === 0; i++) roundTrip(vms[i % 3], dead);
  assert.equal(outCount(host), 1);
  // One VM, its probe answered 100 ms later while requests go on (so its view of the record is
  // fresh when the answer comes): the suspect is still one then, and leaves.
  const alone = setup({ ...defaults({ retryOnFailure: { enabled: false } }), statusPath: '/status', statusToken: 'st' }, 1);
  const slowProbe: Upstream = (r) => {
    const a = dead(r);
    return r.call && a && !('hang' in a) ? { ...a, delayMs: 100 } : a;
  };
  for (let i = 0; i < 100 && !alone.host.logs.some((l) => l.msg.includes('reached failureThreshold')); i++) roundTrip(alone.vms[0], slowProbe);
  // Meanwhile the suspect, its probe on the way, gets no request while other keys can serve.
  for (let i = 0; i < 20; i++) assert.notEqual(roundTrip(alone.vms[0], dead).token, 'sk-c', 'the held suspect was chosen');
  assert.equal(outCount(alone.host), 0, 'the suspect left before its probe answered');
  assert.deepEqual(statusOf(alone.vms[0]).tokens.map((t) => t.state), ['in', 'in', 'suspect', 'in']);
  alone.host.advance(100);
  assert.equal(outCount(alone.host), 1, 'the suspect stayed when its probe failed');
  // A probe call that fails (no answer) decides nothing; the lease holder's tick probes the suspect again.
  const again = setup(defaults({ retryOnFailure: { enabled: false } }), 1);
  const noAnswer: Upstream = (r) => (r.call ? null : dead(r));
  for (let i = 0; i < 100 && !again.host.logs.some((l) => l.msg.includes('reached failureThreshold')); i++) roundTrip(again.vms[0], noAnswer);
  assert.equal(outCount(again.host), 0);
  again.host.advance(1000);
  again.vms[0].answerCalls((call) => dead({ token: tokenOf(call.headers), headers: call.headers, body: '', call }) as UpstreamAnswer);
  assert.equal(outCount(again.host), 1, 'the suspect was not probed again on the tick');
  assert.ok(host.logs.some((l) => /token #2:[0-9a-f]{6} reached failureThreshold \(status 401\): a probe decides/.test(l.msg)));
  assert.ok(host.logs.some((l) => /token #2:[0-9a-f]{6} taken out of the pool \(status 401, confirmed by a probe\)/.test(l.msg)));
});

test('a retry goes to a suspect whose probe runs when no other key is left untried: a burst of one-off failures never ends as a client error', () => {
  const host = new Host();
  const two = (retries: boolean): PluginConfig => ({ ...defaults({ apiTokens: ['sk-a', 'sk-b'], retryOnFailure: { enabled: retries } }), statusPath: '/status', statusToken: 'st' });
  // A worker without retries sees sk-b refuse until it is a suspect; its probe takes a second to answer.
  const [plain, retrying] = [host.createVm(), host.createVm()];
  assert.equal(plain.configure(two(false))[0], true);
  assert.equal(retrying.configure(two(true))[0], true);
  const bRefuses: Upstream = (r) => {
    const a = statusByToken({ 'sk-b': 401 })(r);
    return r.call && isProbeCall(r) && a && !('hang' in a) ? { ...a, delayMs: 1000 } : a;
  };
  for (let i = 0; i < 100 && !host.logs.some((l) => l.msg.includes('reached failureThreshold')); i++) roundTrip(plain, bRefuses);
  assert.deepEqual(statusOf(retrying).tokens.map((t) => t.state), ['in', 'suspect']);
  // A worker with retries: sk-a fails a request once, its retry has only the suspect left, and the suspect serves it.
  const aFails: Upstream = (r) => (r.call ? { status: 200, body: '{}' } : statusByToken({ 'sk-a': 500 })(r));
  const r = roundTrip(retrying, aFails);
  assert.equal(r.token, 'sk-a');
  assert.equal(r.client.status, 200, 'the client got the failure: the retry found no key');
});

test('more suspects than probe slots: each waits for a free slot, not for the tick, and none serves meanwhile', () => {
  const tokens = Array.from({ length: 10 }, (_, i) => `sk-slot-${i}`);
  const dead = new Set(tokens.slice(0, 6));
  const host = new Host();
  const vm = host.createVm();
  assert.equal(vm.configure({ provider: { apiTokens: tokens, failover: { enabled: true, failureThreshold: 1, maxEjectionPercent: 100,
    healthCheckInterval: 60_000, healthCheckModel: 'm' } } })[0], true);
  const upstream: Upstream = ({ token, call }) => {
    const answer = dead.has(token ?? '') ? { status: 401, body: '{}' } : { status: 200, body: '{}' };
    return call ? { ...answer, delayMs: 50 } : answer;
  };
  roundTrip(vm, statusByToken({}));
  let deadServed = 0;
  for (let i = 0; i < 200 && host.logs.filter((l) => l.msg.includes('reached failureThreshold')).length < 6; i++) {
    if (dead.has(roundTrip(vm, upstream).token ?? '')) deadServed++;
  }
  assert.equal(deadServed, 6, 'a dead key served again after its failure');
  // The probes that freed slots sent the waiting ones: answer those too, 50 ms later each.
  for (let k = 0; k < 4 && outCount(host) < 6; k++) {
    vm.answerCalls((call) => upstream({ token: tokenOf(call.headers), headers: call.headers, body: '', call }) as UpstreamAnswer);
    host.advance(50);
  }
  assert.equal(outCount(host), 6, 'a suspect waited for the tick');
});

test('a dead key still leaves: its failure counts when the retry on another key succeeds; out keys serve retries when no key in the pool is left', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: true, maxRetries: 3 } }));
  for (let i = 0; i < 60; i++) assert.equal(roundTrip(vms[i % 3], statusByToken({ 'sk-b': 401 })).client.status, 200);
  assert.equal(outCount(host), 1);
  // Three dead keys: at most two leave (half of four), and requests still succeed on the live one,
  // whichever key they start on: retries may use keys that are out.
  const upstream = statusByToken({ 'sk-a': 401, 'sk-b': 401, 'sk-c': 401 });
  for (let i = 0; i < 60; i++) assert.equal(roundTrip(vms[i % 3], upstream).client.status, 200);
  assert.equal(outCount(host), 2);
});

test('a successful answer brings a key that is out back at once', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: false }, failover: { enabled: true, failureThreshold: 1, maxEjectionPercent: 100, healthCheckInterval: 60_000, healthCheckModel: 'm' } }));
  for (let i = 0; i < 40; i++) roundTrip(vms[i % 3], () => ({ status: 401, body: '{}' }));
  assert.equal(outCount(host), 4);
  roundTrip(vms[0], () => ({ status: 200, body: '{}' }));
  assert.equal(outCount(host), 3);
});

test('probes carry no client header, query or body, and go where a successful chat request went', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: false }, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' } }), 1);
  const evil = { 'x-evil': 'aimed', cookie: 'session=1' };
  // Hostile requests fail on every path; a normal chat request succeeds once.
  for (let i = 0; i < 10; i++) roundTrip(vms[0], () => ({ status: 403, body: '{}' }), { headers: { ':path': '/v1/chat/completions?evil=1', ...evil } });
  roundTrip(vms[0], statusByToken({}), { headers: { ':path': '/v1/chat/completions' } });
  for (let i = 0; i < 40 && outCount(host) === 0; i++) roundTrip(vms[0], statusByToken({ 'sk-c': 401 }), { headers: evil });
  host.advance(1000);
  const probes = vms[0].calls();
  assert.ok(probes.length > 0, 'no probe');
  for (const p of probes) {
    assert.equal(p.headers.get(':path'), '/v1/chat/completions');
    assert.equal(p.headers.get('x-evil'), null);
    assert.equal(p.headers.get('cookie'), null);
    assert.equal(JSON.parse(p.body.toString()).max_tokens, 1);
  }
});

test('a configuration that cannot work is refused with one line naming the field', () => {
  const cases: Array<[PluginConfig, RegExp]> = [
    [{ provider: { type: 'opena1', apiTokens: ['k'] } }, /provider\.type must be one of/],
    [{ provider: { apiTokens: ['k'] }, statusPath: '/status?x=1', statusToken: 't' }, /statusPath must not contain '\?'/],
    [{ provider: { apiTokens: ['k'] }, statusPath: '/v1/chat/completions', statusToken: 't' }, /statusPath must not match paths/],
    [{ provider: { apiTokens: ['k'] }, statusPath: '/status', statusToken: 'token\n' }, /statusToken must not contain/],
    [{ provider: { apiTokens: ['k'] }, paths: [] }, /paths must be a non-empty array/],
    [{ provider: { apiTokens: ['k'] }, credentialHeaders: ['bad header'] }, /credentialHeaders\[0\] must be a header name/],
    [{ provider: { apiTokens: [{ token: 'k', burst: 5 }] } }, /apiTokens\[0\]\.burst needs rpm/],
    [{ provider: { apiTokens: ['k'], failover: { enabled: true, healthCheckModel: 'm', maxEjectionPercent: 101 } } }, /maxEjectionPercent must be an integer from 0 to 100/],
  ];
  for (const [config, message] of cases) {
    const host = new Host();
    const [ok] = host.createVm().configure(config);
    assert.equal(ok, false, JSON.stringify(config));
    const errors = host.logs.filter((l) => l.level >= 4);
    assert.equal(errors.length, 1);
    assert.match(errors[0].msg, message);
  }
});

test('over maxHeldBytes a request goes without a retry, and a metric counts it', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: true, maxHeldBytes: 3000 } }), 1);
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
  const a = vms[0].newStream();
  a.onRequestHeaders({ ...CHAT }, false);
  a.onRequestBody(body, true);
  const b = vms[0].newStream();
  b.onRequestHeaders({ ...CHAT }, false);
  b.onRequestBody(body, true);
  assert.equal(host.metric('ai_token_failover.pool.ai-token-failover:openai.retries_skipped_memory'), 1);
  // The second request's failure goes to its client as the provider sent it.
  b.forward();
  b.setProperty('response.code_details', 'via_upstream');
  assert.equal(b.onResponseHeaders({ ':status': '503' }, true), 0);
  // Once the first ends, its bytes are free again.
  a.finish();
  b.finish();
  const c = vms[0].newStream();
  c.onRequestHeaders({ ...CHAT }, false);
  c.onRequestBody(body, true);
  assert.equal(host.metric('ai_token_failover.pool.ai-token-failover:openai.retries_skipped_memory'), 1);
});

test('without allow_on_headers_stop_iteration a request held for its model goes on within 300 ms; later ones are not held; one log line names the option', () => {
  const config: PluginConfig = { provider: { apiTokens: ['sk-any', { token: 'sk-mini', models: ['gpt-4o-mini'] }] } };
  const { host, vms } = setup(config, 2);
  const held = vms[0].newStream(vms[0].root, {}, { allowOnHeadersStopIteration: false });
  assert.equal(held.onRequestHeaders({ ...CHAT }, false), 1);
  held.onRequestBody('{"model":"gpt-4o-mini"}', true);
  host.advance(250);
  assert.equal(held.forwarded, false);
  host.advance(100);
  assert.equal(held.forwarded, true, 'the held request did not go on');
  assert.equal(tokenOf(held.requestHeaders), 'sk-any');
  // The process knows now: no VM holds a request any more.
  const next = vms[1].newStream(vms[1].root, {}, { allowOnHeadersStopIteration: false });
  assert.equal(next.onRequestHeaders({ ...CHAT }, false), 0);
  assert.equal(tokenOf(next.requestHeaders), 'sk-any');
  const lines = host.logs.filter((l) => l.msg.includes('allow_on_headers_stop_iteration'));
  assert.equal(lines.length, 1);
});

test('without the option and with every key limited to models, the client is told the fix instead of waiting', () => {
  const config: PluginConfig = { provider: { apiTokens: [{ token: 'sk-mini', models: ['gpt-4o-mini'] }] } };
  const { host, vms } = setup(config, 1);
  const held = vms[0].newStream(vms[0].root, {}, { allowOnHeadersStopIteration: false });
  held.onRequestHeaders({ ...CHAT }, false);
  held.onRequestBody('{"model":"gpt-4o-mini"}', true);
  host.advance(400);
  assert.equal(held.localResponse?.status, 500);
  assert.match(held.localResponse?.body.toString() ?? '', /allow_on_headers_stop_iteration/);
});

test('with the option, a slow body is waited for and the model still chooses the key', () => {
  const config: PluginConfig = { provider: { apiTokens: [{ token: 'sk-big', models: ['gpt-4o'] }, { token: 'sk-mini', models: ['gpt-4o-mini'] }] } };
  const { host, vms } = setup(config, 1);
  const first = vms[0].newStream(vms[0].root, {}, { allowOnHeadersStopIteration: true });
  first.onRequestHeaders({ ...CHAT }, false);
  first.onRequestBody('{"model":"gpt-4o-mini"}', true);
  assert.equal(tokenOf(first.requestHeaders), 'sk-mini');
  const slow = vms[0].newStream(vms[0].root, {}, { allowOnHeadersStopIteration: true });
  slow.onRequestHeaders({ ...CHAT }, false);
  host.advance(2000);
  assert.equal(slow.forwarded, false);
  slow.onRequestBody('{"model":"gpt-4o-mini"}', true);
  assert.equal(tokenOf(slow.requestHeaders), 'sk-mini');
});

test('every key answering 429 without Retry-After: keys rest, the plugin answers 429 with Retry-After meanwhile, and no key takes all the traffic', () => {
  const { host, vms } = setup(defaults({ retryOnFailure: { enabled: false }, failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 1000, healthCheckModel: 'm' } }));
  const perKey: Record<string, number> = {};
  let own = 0;
  let retryAfter = 0;
  // 100 requests a second for 3 s.
  for (let i = 0; i < 300; i++) {
    host.advance(10);
    const r = roundTrip(vms[i % 3], ({ token }) => {
      perKey[String(token)] = (perKey[String(token)] ?? 0) + 1;
      return { status: 429, body: '{"error":{"type":"rate_limit_exceeded"}}' };
    });
    if (r.token === null) {
      own++;
      assert.equal(r.client.status, 429);
      retryAfter = Math.max(retryAfter, Number(r.client.headers?.get('retry-after')));
    }
  }
  const sent = Object.values(perKey).reduce((a, b) => a + b, 0);
  assert.ok(sent <= 60, `${sent} of 300 requests went to a throttled provider`);
  assert.equal(own, 300 - sent);
  assert.ok(retryAfter >= 1 && retryAfter <= 2, `Retry-After ${retryAfter}`);
  assert.ok(Math.max(...Object.values(perKey)) <= sent / 2, JSON.stringify(perKey));
});

test('a slow or late first body teaches nothing: the request waits for its body, and others are still held and read by their model', () => {
  const config: PluginConfig = { provider: { apiTokens: ['sk-any', { token: 'sk-mini', models: ['gpt-4o-mini'] }] } };
  const { host, vms } = setup(config, 2);
  const options = { allowOnHeadersStopIteration: true };
  // The first held requests of a fresh process are slow clients': no body byte for 2 s.
  const slow = [0, 1].map((v) => {
    const s = vms[v].newStream(vms[v].root, {}, options);
    assert.equal(s.onRequestHeaders({ ...CHAT }, false), 1);
    return s;
  });
  host.advance(2000);
  for (const s of slow) assert.equal(s.forwarded, false, 'a request went on without the body its client had not sent yet');
  // Meanwhile every other request is still held for its model, and the model chooses its key.
  for (let i = 0; i < 40; i++) {
    const s = vms[i % 2].newStream(vms[i % 2].root, {}, options);
    assert.equal(s.onRequestHeaders({ ...CHAT }, false), 1, 'a request was not held for its model');
    s.onRequestBody('{"model":"gpt-4o"}', true);
    assert.equal(tokenOf(s.requestHeaders), 'sk-any');
  }
  // The slow clients' bodies come at last, and their models choose too.
  for (const s of slow) {
    s.onRequestBody('{"model":"gpt-4o-mini"}', true);
    assert.ok(['sk-any', 'sk-mini'].includes(tokenOf(s.requestHeaders) ?? ''));
  }
  assert.equal(host.logs.filter((l) => l.msg.includes('allow_on_headers_stop_iteration')).length, 0);
});

test('without the option, a held request whose client has sent nothing yet waits; once its first bytes reach Envoy the process learns', () => {
  const config: PluginConfig = { provider: { apiTokens: ['sk-any', { token: 'sk-mini', models: ['gpt-4o-mini'] }] } };
  const { host, vms } = setup(config, 1);
  const held = vms[0].newStream(vms[0].root, {}, { allowOnHeadersStopIteration: false });
  assert.equal(held.onRequestHeaders({ ...CHAT }, false), 1);
  host.advance(1000);
  assert.equal(held.forwarded, false);
  held.onRequestBody('{"model":', false);
  host.advance(400);
  assert.equal(held.forwarded, true, 'the held request did not go on once Envoy had its body');
  assert.equal(host.logs.filter((l) => l.msg.includes('allow_on_headers_stop_iteration')).length, 1);
});
