// notify in the emulator: the lease holder tells the operator's endpoint of a key leaving (dead or
// tired), coming back, and staying dead; a failed POST is retried a bounded number of times and
// counted; no token in any notification; a bad notify is refused with one line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type PendingCall } from '../host/emulator.js';
import { configuredVms } from '../host/configured_vms.js';
import { isProbeCall, roundTrip, statusByToken, tokenOf } from '../host/gateway.js';

const KEYS = ['sk-n1', 'sk-n2', 'sk-n3', 'sk-n4'];
const PROPS = { 'xds.cluster_name': 'llm', 'request.host': 'api.example.com', 'request.url_path': '/v1/chat/completions' };
const NOTIFY = { cluster: 'ops', authority: 'hooks.example.com', path: '/hooks/keys', headers: ['x-hook-secret=abc'], deadAfterMs: 5000 };
const POOL_METRIC = 'ai_token_failover.pool.ai-token-failover:openai.';

function setup(notify: Record<string, unknown> = NOTIFY) {
  const made = configuredVms({ notify, provider: { apiTokens: KEYS, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 1000, healthCheckModel: 'm' } } });
  // The endpoint's cluster, which the notifications are sent to.
  made.host.clusters.add('ops');
  return made;
}

/** Advances `ms`, answering probes `probe` and notifications `hook`; returns the notifications' bodies. */
function run(host: Host, vms: ReturnType<typeof setup>['vms'], ms: number, probe: number, hook = 200): Array<{ body: Record<string, unknown>; call: PendingCall }> {
  const out: Array<{ body: Record<string, unknown>; call: PendingCall }> = [];
  for (let t = 0; t < ms; t += 100) {
    host.advance(100);
    for (const vm of vms) {
      vm.answerCalls((call) => {
        if (call.cluster === 'ops') {
          out.push({ body: JSON.parse(call.body.toString()), call });
          return { status: hook, body: '{}' };
        }
        return isProbeCall(call) && tokenOf(call.headers) === 'sk-n2' ? { status: probe, body: '{}' } : { status: 200, body: '{}' };
      });
    }
  }
  return out;
}

test('a key that dies and heals: one key_out (dead, status 401), one key_dead after deadAfterMs, one key_back, by the lease holder only, no token', () => {
  const { host, vms } = setup();
  for (let i = 0; i < 10; i++) roundTrip(vms[i % 2], statusByToken({}), { props: PROPS });
  run(host, vms, 1500, 200);
  for (let i = 0; i < 40 && !host.logs.some((l) => l.msg.includes('taken out')); i++) roundTrip(vms[i % 2], statusByToken({ 'sk-n2': 401 }), { props: PROPS });
  const dying = run(host, vms, 7000, 401);
  const healing = run(host, vms, 20000, 200);
  const events = [...dying, ...healing];
  assert.deepEqual(events.map((e) => e.body.event), ['key_out', 'key_dead', 'key_back']);
  assert.equal(events[0].body.class, 'dead');
  assert.equal(events[0].body.status, 401);
  assert.match(String(events[0].body.key), /^#1:[0-9a-f]+$/);
  assert.equal(new Set(events.map((e) => e.call.root)).size, 1, 'more than one VM sent');
  for (const e of events) {
    assert.equal(e.call.headers.get(':authority'), 'hooks.example.com');
    assert.equal(e.call.headers.get(':path'), '/hooks/keys');
    assert.equal(e.call.headers.get('x-hook-secret'), 'abc');
    const headerText = e.call.headers.pairs.map(([n, v]) => `${n}: ${v}`).join("\n");
    for (const k of KEYS) assert.ok(!e.call.body.toString().includes(k) && !headerText.includes(k), "a token in a notification");
  }
  assert.equal(host.metric(POOL_METRIC + 'notifications.sent'), 3);
});

test('a notification the endpoint refuses is sent 3 times, then counted as failed', () => {
  const { host, vms } = setup();
  for (let i = 0; i < 10; i++) roundTrip(vms[i % 2], statusByToken({}), { props: PROPS });
  run(host, vms, 1500, 200, 500);
  for (let i = 0; i < 40 && !host.logs.some((l) => l.msg.includes('taken out')); i++) roundTrip(vms[i % 2], statusByToken({ 'sk-n2': 401 }), { props: PROPS });
  const tries = run(host, vms, 3000, 401, 500);
  assert.equal(tries.filter((e) => e.body.event === 'key_out').length, 3);
  assert.equal(host.metric(POOL_METRIC + 'notifications.failed'), 1);
});

test('notify without cluster, authority or a path starting with /, or with a malformed header, is refused with one line naming the field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ authority: 'a', path: '/p' }, /notify\.cluster is required/],
    [{ cluster: 'c', path: '/p' }, /notify\.authority is required/],
    [{ cluster: 'c', authority: 'a', path: 'p' }, /notify\.path must start/],
    [{ cluster: 'c', authority: 'a', path: '/p', headers: ['no-equals'] }, /notify\.headers\[0\]/],
  ];
  for (const [notify, line] of cases) {
    const host = new Host();
    const [accepted] = host.createVm().configure({ notify, provider: { apiTokens: KEYS, failover: { enabled: true, healthCheckModel: 'm' } } });
    assert.equal(accepted, false, JSON.stringify(notify));
    assert.equal(host.logs.filter((l) => line.test(l.msg)).length, 1, host.logs.map((l) => l.msg).join('\n'));
  }
});
