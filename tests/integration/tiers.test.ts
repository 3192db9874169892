// Key tiers in the emulator: a request is served from the lowest tier that has an eligible key
// (in the pool, with room, serving its model); a higher tier only when no lower one can.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { roundTrip, type Upstream } from '../host/gateway.js';

const KEYS = [{ token: 'sk-t0-a' }, { token: 'sk-t0-b' }, { token: 'sk-t1-a', tier: 1 }, { token: 'sk-t1-b', tier: 1 }];
const TIER0 = ['sk-t0-a', 'sk-t0-b'];

function setup(provider: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const host = new Host();
  const vm = host.createVm();
  const [ok] = vm.configure({ provider: { apiTokens: KEYS, failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'm' }, ...provider }, ...extra });
  assert.equal(ok, true, host.logs.map((l) => l.msg).join('\n'));
  return { host, vm };
}

const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });

test('healthy: every request goes to tier 0, spread over its keys', () => {
  const { vm } = setup();
  const used = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const r = roundTrip(vm, ok);
    used.set(r.token ?? '', (used.get(r.token ?? '') ?? 0) + 1);
  }
  assert.deepEqual([...used.keys()].sort(), TIER0);
  for (const k of TIER0) assert.ok((used.get(k) ?? 0) > 60, `${k}: ${used.get(k)}`);
});

test('both tier-0 keys dead: every request is served, by tier 1 once they are out; a retry moves up a tier', () => {
  const { vm } = setup({ retryOnFailure: { enabled: true, maxRetries: 2 } });
  const upstream: Upstream = ({ token }) => (TIER0.includes(token ?? '') ? { status: 401, body: '{"error":"dead"}' } : { status: 200, body: '{"choices":[]}' });
  let lastFirst = '';
  for (let i = 0; i < 60; i++) {
    const r = roundTrip(vm, upstream);
    assert.equal(r.client.status, 200);
    lastFirst = r.token ?? '';
  }
  // Both dead keys have left (maxEjectionPercent lets half the keys go): tier 1 serves first.
  assert.ok(!TIER0.includes(lastFirst), lastFirst);
});

test('a tier-0 key resting after 429 with Retry-After leaves its requests to the other tier-0 key, then to tier 1', () => {
  const { vm } = setup();
  const limited = new Set<string>();
  const upstream: Upstream = ({ token }) => {
    if (TIER0.includes(token ?? '')) {
      limited.add(token ?? '');
      return { status: 429, headers: { 'retry-after': '5' }, body: '{"error":"rate"}' };
    }
    return { status: 200, body: '{"choices":[]}' };
  };
  const firsts: string[] = [];
  for (let i = 0; i < 10; i++) firsts.push(roundTrip(vm, upstream).token ?? '');
  // Each tier-0 key is met once, then rests; tier 1 takes the rest.
  assert.equal(firsts.filter((t) => TIER0.includes(t)).length, 2, firsts.join(' '));
  assert.ok(firsts.slice(2).every((t) => !TIER0.includes(t)), firsts.join(' '));
});

test('with affinity, consumers stay on tier-0 keys while tier 0 has an eligible key', () => {
  const { vm } = setup({}, { affinity: { header: 'x-user' } });
  const byUser = new Map<string, Set<string>>();
  for (let u = 0; u < 20; u++) {
    for (let n = 0; n < 5; n++) {
      const r = roundTrip(vm, ok, { headers: { 'x-user': `user-${u}` } });
      if (!byUser.has(`user-${u}`)) byUser.set(`user-${u}`, new Set());
      byUser.get(`user-${u}`)!.add(r.token ?? '');
    }
  }
  const keys = new Set<string>();
  for (const [, set] of byUser) {
    assert.equal(set.size, 1);
    keys.add([...set][0]);
  }
  assert.deepEqual([...keys].sort(), TIER0);
});

test('a tier outside 0..9 is refused with one line naming the field', () => {
  for (const tier of [10, -1, 1.5, '1']) {
    const host = new Host();
    const [accepted] = host.createVm().configure({ provider: { apiTokens: [{ token: 'sk-a', tier }] } });
    assert.equal(accepted, false);
    const refusals = host.logs.filter((l) => /apiTokens\[0\]\.tier/.test(l.msg));
    assert.equal(refusals.length, 1, host.logs.map((l) => l.msg).join('\n'));
  }
});
