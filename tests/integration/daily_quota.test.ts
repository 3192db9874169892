// Daily quotas (rpd, tpd) in the emulator: counted across VMs, spent keys left out until the next
// reset at dailyResetUtcHour, the client told when (Retry-After), the status document showing
// what is left today.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { DEFAULT_WASM, Host } from '../host/emulator.js';
import { configuredVms } from '../host/configured_vms.js';
import { roundTrip, type Upstream } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const setup = (provider: Record<string, unknown>) => configuredVms({ statusPath: '/status', statusToken: 'st', provider });

const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });
/** Time to the next `hour`:00 UTC from `now`. */
const untilHour = (now: number, hour: number): number => {
  const next = Math.floor((now - hour * HOUR) / DAY) * DAY + hour * HOUR + DAY;
  return next - now;
};

test('two keys with rpd 5, 14 requests over two VMs: 10 reach the provider, 4 get 429 with a Retry-After no later than the reset; the next day serves again', () => {
  const { host, vms } = setup({ apiTokens: [{ token: 'sk-d1', rpd: 5 }, { token: 'sk-d2', rpd: 5 }], dailyResetUtcHour: 7 });
  let sent = 0;
  const refused: number[] = [];
  for (let i = 0; i < 14; i++) {
    const r = roundTrip(vms[i % 2], () => { sent++; return { status: 200, body: '{}' }; });
    if (r.client.status === 429) refused.push(Number(r.client.headers?.get('retry-after')));
    else assert.equal(r.client.status, 200);
  }
  assert.equal(sent, 10);
  assert.equal(refused.length, 4);
  const limit = Math.ceil(untilHour(host.nowMs, 7) / 1000);
  for (const s of refused) assert.ok(s >= 1 && s <= limit, `Retry-After ${s}, reset in ${limit} s`);
  const doc = statusOf(vms[0], '/status', 'st');
  assert.deepEqual(doc.tokens.map((t) => [t.rpd, t.budgetLeft?.requestsToday]), [[5, 0], [5, 0]]);
  // At the reset every key has its day again.
  host.advance(untilHour(host.nowMs, 7));
  for (let i = 0; i < 4; i++) assert.equal(roundTrip(vms[i % 2], ok).client.status, 200);
  assert.deepEqual(statusOf(vms[1], '/status', 'st').tokens.map((t) => t.budgetLeft?.requestsToday).sort(), [3, 3]);
});

test('a key that has spent its day is left out for the others; a key without a quota keeps serving', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-q', rpd: 3 }, { token: 'sk-free' }] });
  const used = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const r = roundTrip(vms[i % 2], ok);
    assert.equal(r.client.status, 200);
    used.set(r.token ?? '', (used.get(r.token ?? '') ?? 0) + 1);
  }
  assert.equal(used.get('sk-q'), 3);
  assert.equal(used.get('sk-free'), 37);
});

test('tpd: the answers\' usage is counted against the day; a key without room for a request is not chosen until the reset', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-t', tpd: 1000 }] });
  const used: Upstream = () => ({ status: 200, body: '{"choices":[],"usage":{"total_tokens":300}}' });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push(roundTrip(vms[i % 2], used, { body: '{"model":"m","messages":[],"max_tokens":10}' }).client.status ?? 0);
  // 3 answers use 900 of 1000; the fourth request's estimate still fits, its answer overruns the day.
  assert.deepEqual(statuses.filter((s) => s === 200).length, 4, statuses.join(' '));
  assert.ok(statuses.slice(4).every((s) => s === 429), statuses.join(' '));
  const left = statusOf(vms[0], '/status', 'st').tokens[0].budgetLeft?.tokensToday;
  assert.equal(left, 0);
});

test('dailyResetUtcHour outside 0..23 and rpd or tpd that are not positive are refused with one line naming the field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ apiTokens: [{ token: 'sk-a', rpd: 5 }], dailyResetUtcHour: 24 }, /dailyResetUtcHour/],
    [{ apiTokens: [{ token: 'sk-a', rpd: 0 }] }, /apiTokens\[0\]\.rpd/],
    [{ apiTokens: [{ token: 'sk-a', tpd: -1 }] }, /apiTokens\[0\]\.tpd/],
  ];
  for (const [provider, field] of cases) {
    const host = new Host();
    const [accepted] = host.createVm().configure({ provider });
    assert.equal(accepted, false, JSON.stringify(provider));
    assert.equal(host.logs.filter((l) => field.test(l.msg)).length, 1, host.logs.map((l) => l.msg).join('\n'));
  }
});

test('with redis (the Higress build) rpd and tpd are accepted: the replicas share each day (tests/integration/replicas.test.ts)', () => {
  const host = new Host({ wasmPath: path.join(path.dirname(DEFAULT_WASM), 'plugin.higress.wasm') });
  host.redis.services.set('outbound|6379||redis.dns', { port: null });
  const [accepted] = host.createVm().configure({
    redis: { serviceName: 'redis.dns' },
    provider: { apiTokens: ['sk-a', { token: 'sk-b', tpd: 1000 }], failover: { enabled: true, healthCheckModel: 'm' } },
  });
  assert.equal(accepted, true, host.logs.map((l) => l.msg).join('\n'));
});

test('one request larger than what is left of a key\'s day is refused alone: smaller requests still go with the key', () => {
  const { vms } = setup({ apiTokens: [{ token: 'sk-t', tpd: 10_000 }] });
  const used: Upstream = () => ({ status: 200, body: '{"choices":[],"usage":{"total_tokens":50}}' });
  assert.equal(roundTrip(vms[0], used, { body: '{"model":"m","messages":[]}' }).client.status, 200);
  // About 12,500 tokens of prompt: more than the day holds.
  const huge = `{"model":"m","messages":[{"role":"user","content":"${'x'.repeat(50_000)}"}]}`;
  assert.equal(roundTrip(vms[0], used, { body: huge }).client.status, 429);
  for (let i = 0; i < 5; i++) assert.equal(roundTrip(vms[i % 2], used, { body: '{"model":"m","messages":[]}' }).client.status, 200);
});
