// Account groups in the emulator: keys of one organization share its rpm/tpm/rpd/tpd; a request
// needs room in its key's budgets and in its group's; a bad group is refused with one line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { configuredVms } from '../host/configured_vms.js';
import { roundTrip } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';

const setup = (provider: Record<string, unknown>) => configuredVms({ statusPath: '/status', statusToken: 'st', provider });

const ORG = ['sk-org-1', 'sk-org-2', 'sk-org-3'];

test('three keys in a group with rpm 12, 30 requests over 6 s on two VMs: the provider receives 12 to 14, the rest get 429 with Retry-After', () => {
  const { host, vms } = setup({ apiTokens: ORG.map((token) => ({ token, group: 'org' })), groups: { org: { rpm: 12 } } });
  let sent = 0;
  let refused = 0;
  for (let i = 0; i < 30; i++) {
    const r = roundTrip(vms[i % 2], () => { sent++; return { status: 200, body: '{}' }; });
    if (r.client.status === 429) {
      refused++;
      assert.ok(Number(r.client.headers?.get('retry-after')) >= 1);
    }
    host.advance(200);
  }
  assert.ok(sent >= 12 && sent <= 14, `the provider received ${sent}`);
  assert.equal(sent + refused, 30);
  const doc = statusOf(vms[0], '/status', 'st') as unknown as { groups: Array<{ name: string; rpm: number; budgetLeft: { requests: number } }>; tokens: Array<{ group: string | null }> };
  assert.deepEqual(doc.groups.map((g) => [g.name, g.rpm]), [['org', 12]]);
  assert.ok(doc.groups[0].budgetLeft.requests <= 1);
  assert.deepEqual(doc.tokens.map((t) => t.group), ['org', 'org', 'org']);
});

test('a request needs room in its key\'s own budget and in its group\'s; a key outside the group takes the rest', () => {
  const { vms } = setup({
    apiTokens: [{ token: 'sk-org-1', group: 'org', rpm: 2 }, { token: 'sk-org-2', group: 'org' }, { token: 'sk-other' }],
    groups: { org: { rpm: 5 } },
  });
  const used = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const r = roundTrip(vms[i % 2], () => ({ status: 200, body: '{}' }));
    assert.equal(r.client.status, 200);
    used.set(r.token ?? '', (used.get(r.token ?? '') ?? 0) + 1);
  }
  assert.ok((used.get('sk-org-1') ?? 0) <= 2, `sk-org-1: ${used.get('sk-org-1')}`);
  assert.equal((used.get('sk-org-1') ?? 0) + (used.get('sk-org-2') ?? 0), 5);
  assert.equal(used.get('sk-other'), 35);
});

test('rate-limit headers saying one key of a group has nothing left speak for the group: every key of it rests, a key outside serves', () => {
  const { vms } = setup({
    apiTokens: [...ORG.map((token) => ({ token, group: 'org' })), { token: 'sk-other', rpm: 600 }],
    groups: { org: { rpm: 600 } },
    failover: { enabled: true, healthCheckModel: 'm', healthCheckInterval: 60_000 },
  });
  let reported = false;
  const used: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = roundTrip(vms[i % 2], ({ token }) => {
      if (!reported && ORG.includes(token ?? '')) {
        reported = true;
        return { status: 200, body: '{}', headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '5s' } };
      }
      return { status: 200, body: '{}' };
    });
    assert.equal(r.client.status, 200);
    used.push(r.token ?? '');
  }
  const after = used.slice(used.findIndex((t) => ORG.includes(t)) + 1);
  assert.ok(reported);
  assert.ok(after.every((t) => t === 'sk-other'), `a key of the group served after the report: ${after.join(' ')}`);
});

test('a key naming an unknown group, a group no key names, a group without a limit, and a group quota with redis are refused with one line', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ apiTokens: [{ token: 'sk-a', group: 'nope' }] }, /apiTokens\[0\]\.group names no group/],
    [{ apiTokens: ['sk-a'], groups: { org: { rpm: 5 } } }, /groups\.org is named by no key/],
    [{ apiTokens: [{ token: 'sk-a', group: 'org' }], groups: { org: {} } }, /groups\.org needs rpm, tpm, rpd or tpd/],
    [{ apiTokens: [{ token: 'sk-a', group: 'org' }], groups: { org: { rpm: 0 } } }, /groups\.org\.rpm/],
    [{ apiTokens: [{ token: 'sk-a', group: 'org' }], groups: [] }, /groups must be an object/],
  ];
  for (const [provider, line] of cases) {
    const host = new Host();
    const [accepted] = host.createVm().configure({ provider });
    assert.equal(accepted, false, JSON.stringify(provider));
    assert.equal(host.logs.filter((l) => line.test(l.msg)).length, 1, host.logs.map((l) => l.msg).join('\n'));
  }
});
