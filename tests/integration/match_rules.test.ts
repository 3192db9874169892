// Higress matchRules (`_rules_`) in the emulator: each rule's requests get only that rule's keys,
// a rule is read over the global configuration, a request no rule matches passes untouched when
// there is no global configuration, and each rule's pool is its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type Vm } from '../host/emulator.js';
import { CHAT, tokenOf } from '../host/gateway.js';

function setup(config: unknown, vms = 2) {
  const host = new Host();
  const list = Array.from({ length: vms }, () => host.createVm());
  const results = list.map((vm) => vm.configure(JSON.stringify(config))[0]);
  return { host, vms: list, accepted: results.every((r) => r) };
}

/** One request with the given route name, host and cluster; the key it went out with (null: none) and its authorization header. */
function send(vm: Vm, { route, host = 'gw.example.com', cluster, status = 200 }: { route?: string; host?: string; cluster?: string; status?: number }) {
  const props: Record<string, string> = {};
  if (route) props.route_name = route;
  if (cluster) props.cluster_name = cluster;
  const s = vm.newStream(vm.root, props, { allowOnHeadersStopIteration: true });
  s.onRequestHeaders({ ...CHAT, ':authority': host, authorization: 'Bearer client-own' }, false);
  s.onRequestBody('{"model":"m","messages":[]}', true);
  s.forward();
  s.setProperty('response.code_details', 'via_upstream');
  s.onResponseHeaders({ ':status': String(status) }, true);
  const token = tokenOf(s.requestHeaders);
  const auth = s.requestHeaders.get('authorization');
  s.finish();
  return { token, auth };
}

const failover = { enabled: true, failureThreshold: 2, healthCheckInterval: 1000, healthCheckModel: 'm' };

test('only _rules_ (defaultConfigDisable): a rule by route and one by domain each give their requests only their keys; a request matching none passes untouched', () => {
  const config = {
    _rules_: [
      { _match_route_: ['default/openai-route'], provider: { type: 'openai', apiTokens: ['sk-route-1', 'sk-route-2'] } },
      { _match_domain_: ['*.anthropic.example'], provider: { type: 'openai', apiTokens: ['sk-domain-1'] } },
    ],
  };
  const { vms, accepted } = setup(config);
  assert.ok(accepted);
  for (let i = 0; i < 20; i++) {
    assert.ok(['sk-route-1', 'sk-route-2'].includes(send(vms[i % 2], { route: 'default/openai-route' }).token ?? ''));
    assert.equal(send(vms[i % 2], { host: 'api.anthropic.example:8443' }).token, 'sk-domain-1');
  }
  const other = send(vms[0], { route: 'default/other', host: 'other.example.com' });
  assert.equal(other.auth, 'Bearer client-own', 'a request no rule matches was changed');
  // `*.suffix` needs a subdomain, as Higress's matcher does.
  assert.equal(send(vms[0], { host: 'anthropic.example' }).auth, 'Bearer client-own');
});

test('a rule by service (fqdn:port against outbound|port||fqdn) and by route prefix; the first matching rule wins; unmatched requests use the global configuration', () => {
  const config = {
    provider: { apiTokens: ['sk-global'] },
    _rules_: [
      { _match_service_: ['api.openai.com:443'], provider: { apiTokens: ['sk-service'] } },
      { _match_route_prefix_: ['ai-'], provider: { apiTokens: ['sk-prefix'] } },
      { _match_route_prefix_: ['ai-chat'], provider: { apiTokens: ['sk-never'] } },
    ],
  };
  const { vms, accepted } = setup(config);
  assert.ok(accepted);
  assert.equal(send(vms[0], { cluster: 'outbound|443||api.openai.com' }).token, 'sk-service');
  assert.equal(send(vms[0], { cluster: 'outbound|80||api.openai.com' }).token, 'sk-global');
  assert.equal(send(vms[0], { route: 'ai-chat-route' }).token, 'sk-prefix');
  assert.equal(send(vms[0], { route: 'web' }).token, 'sk-global');
});

test('a rule that leaves out failover keeps the global one, and a dead key in one rule\'s pool never touches the other pool', () => {
  const config = {
    provider: { apiTokens: ['sk-global'], failover, retryOnFailure: { enabled: true } },
    _rules_: [
      { _match_route_: ['route-a'], provider: { apiTokens: ['sk-a1', 'sk-a2'] } },
      { _match_route_: ['route-b'], provider: { apiTokens: ['sk-b1', 'sk-b2'] } },
    ],
  };
  const { host, vms, accepted } = setup(config);
  assert.ok(accepted);
  // sk-a1 dies: route-a's pool takes it out (failover inherited), route-b's is untouched.
  const answers = (token: string | null) => (token === 'sk-a1' ? 401 : 200);
  for (let i = 0; i < 40; i++) {
    const s = vms[i % 2].newStream(vms[i % 2].root, { route_name: 'route-a' }, { allowOnHeadersStopIteration: true });
    s.onRequestHeaders({ ...CHAT }, false);
    s.onRequestBody('{"model":"m","messages":[]}', true);
    s.forward();
    s.setProperty('response.code_details', 'via_upstream');
    s.onResponseHeaders({ ':status': String(answers(tokenOf(s.requestHeaders))) }, true);
    for (const vm of vms) vm.answerCalls((call) => ({ status: answers(tokenOf(call.headers)), body: '{}' }));
    s.finish();
  }
  host.advance(1000);
  for (const vm of vms) vm.answerCalls((call) => ({ status: answers(tokenOf(call.headers)), body: '{}' }));
  const records = [...host.shared.keys()].filter((k) => k.endsWith(':pool'));
  assert.equal(records.length, 3, records.join(' '));
  const out = records.map((k) => (host.shared.text(k) ?? '').split(';').slice(1).filter((e) => e.split(',')[1] === '1').length);
  assert.deepEqual(out.sort(), [0, 0, 1], 'one key out, in route-a\'s pool only');
  for (let i = 0; i < 20; i++) assert.notEqual(send(vms[i % 2], { route: 'route-a' }).token, 'sk-a1');
  for (let i = 0; i < 20; i++) assert.ok(['sk-b1', 'sk-b2'].includes(send(vms[i % 2], { route: 'route-b' }).token ?? ''));
});

test('rules that name the same provider and keys as the global configuration share its pool', () => {
  const config = {
    provider: { apiTokens: ['sk-same-1', 'sk-same-2'], failover },
    _rules_: [{ _match_route_: ['r'], provider: { failover: { ...failover, failureThreshold: 5 } } }],
  };
  const { host, accepted } = setup(config);
  assert.ok(accepted);
  assert.deepEqual([...host.shared.keys()].filter((k) => k.endsWith(':pool')), ['ai-token-failover:ai-token-failover:openai::pool']);
});

test('a rule\'s error is refused with one line naming the rule and the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ _rules_: {} }, /_rules_ must be an array/],
    [{ _rules_: [{ provider: { apiTokens: ['k'] } }] }, /_rules_\[0\] names no _match_route_/],
    [{ _rules_: [{ _match_route_: 'r', provider: { apiTokens: ['k'] } }] }, /_rules_\[0\]\._match_route_ must be an array/],
    [{ provider: { apiTokens: ['k'] }, _rules_: [{ _match_route_: ['r'] }, { _match_domain_: ['d'], provider: { failover: { failureThreshold: -1 } } }] },
      /_rules_\[1\]: provider\.failover\.failureThreshold/],
    [{ _rules_: [{ _match_route_: ['r'] }] }, /_rules_\[0\]: provider/],
  ];
  for (const [config, line] of cases) {
    const host = new Host();
    const vm = host.createVm();
    assert.equal(vm.configure(JSON.stringify(config))[0], false, JSON.stringify(config));
    const errors = host.logs.filter((l) => l.msg.includes('invalid config'));
    assert.equal(errors.length, 1);
    assert.match(errors[0].msg, line);
  }
});

test('the status document lists every pool, and each pool has its own metric label', () => {
  const config = {
    statusPath: '/status', statusToken: 'st',
    provider: { apiTokens: ['sk-g'] },
    _rules_: [{ _match_route_: ['r1'], provider: { id: 'one', apiTokens: ['sk-r1'] } }, { _match_domain_: ['two.example'], provider: { apiTokens: ['sk-r2'] } }],
  };
  const { host, vms } = setup(config);
  const s = vms[0].newStream(vms[0].root, { route_name: 'r1' });
  s.onRequestHeaders({ ':method': 'GET', ':path': '/status', ':authority': 'gw', authorization: 'Bearer st' }, true);
  const doc = JSON.parse(s.localResponse?.body.toString() ?? '{}') as { pools: Array<{ pool: string; rule: number | null; thisDocument: boolean }>; tokens: unknown[] };
  s.finish();
  assert.deepEqual(doc.pools.map((p) => [p.rule, p.thisDocument]), [[null, false], [0, true], [1, false]]);
  assert.equal(new Set(doc.pools.map((p) => p.pool)).size, 3, JSON.stringify(doc.pools));
  assert.equal(doc.tokens.length, 1);
  const labels = [...host.metrics.keys()].filter((n) => n.endsWith('.tokens_in_pool'));
  assert.equal(labels.length, 3, labels.join(' '));
});
