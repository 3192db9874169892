// affinity.bodyField in the emulator: the consumer named in the request body (OpenAI's `user` or
// `prompt_cache_key`, Anthropic's `metadata.user_id`) keeps one key, as the affinity header does;
// the header, when present, wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { roundTrip, type Upstream } from '../host/gateway.js';

const KEYS = ['sk-b1', 'sk-b2', 'sk-b3', 'sk-b4', 'sk-b5', 'sk-b6'];
const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });

function setup(affinity: Record<string, unknown>) {
  const host = new Host();
  const vm = host.createVm();
  const [accepted] = vm.configure({ affinity, provider: { apiTokens: KEYS } });
  assert.equal(accepted, true, host.logs.map((l) => l.msg).join('\n'));
  return { host, vm };
}

/** The keys each consumer's requests went with, `body(consumer)` giving each request's body. */
function keysByConsumer(vm: ReturnType<typeof setup>['vm'], body: (who: string) => string, headers: (who: string) => Record<string, string> = () => ({})): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (let u = 0; u < 20; u++) {
    const who = `user-${u}`;
    out.set(who, new Set());
    for (let n = 0; n < 10; n++) out.get(who)!.add(roundTrip(vm, ok, { body: body(who), headers: headers(who) }).token ?? '');
  }
  return out;
}

test('bodyField "user": 20 users x 10 requests over 6 keys, each user on one key, at least 4 keys used', () => {
  const { vm } = setup({ bodyField: 'user' });
  const byUser = keysByConsumer(vm, (who) => JSON.stringify({ model: 'm', user: who, messages: [] }));
  for (const [who, keys] of byUser) assert.equal(keys.size, 1, `${who}: ${[...keys].join(' ')}`);
  assert.ok(new Set([...byUser.values()].map((s) => [...s][0])).size >= 4);
});

test('a nested field (metadata.user_id), escaped, duplicated (the last wins, as providers read it), and after a long prompt', () => {
  const { vm } = setup({ bodyField: 'metadata.user_id' });
  const plain = keysByConsumer(vm, (who) => JSON.stringify({ model: 'm', metadata: { user_id: who } }));
  const tricky = keysByConsumer(vm, (who) =>
    `{"messages":[{"content":"${'\\"{x}\\" '.repeat(2000)}"}],"metadata":{"user_id":"someone-else","note":{"user_id":"x"},"user\\u005fid":"${who}"},"model":"m"}`);
  for (const [who, keys] of plain) assert.deepEqual([...tricky.get(who)!], [...keys], who);
});

test('the affinity header wins over the body field; a body without the field gets any key', () => {
  const { vm } = setup({ header: 'x-user', bodyField: 'user' });
  const byHeader = keysByConsumer(vm, () => JSON.stringify({ model: 'm', messages: [] }), (who) => ({ 'x-user': who }));
  // The same identity in the body lands on the same key: one hash for both sources.
  const byBody = keysByConsumer(vm, (who) => JSON.stringify({ model: 'm', user: who }));
  for (const [who, keys] of byHeader) assert.deepEqual([...byBody.get(who)!], [...keys], who);
  // The header, when present, decides: the body's user is ignored.
  const mixed = keysByConsumer(vm, () => JSON.stringify({ model: 'm', user: 'one-body-user' }), (who) => ({ 'x-user': who }));
  for (const [who, keys] of byHeader) assert.deepEqual([...mixed.get(who)!], [...keys], who);
  const anonymous = new Set<string>();
  for (let i = 0; i < 60; i++) anonymous.add(roundTrip(vm, ok, { body: '{"model":"m","user":""}' }).token ?? '');
  assert.ok(anonymous.size >= 4, 'an empty user is no consumer: requests spread over the keys');
});

test('bodyField is refused with one line when it is not a dotted path of 1 to 4 names', () => {
  for (const bodyField of ['', 'a..b', '.user', 'user.', 'a.b.c.d.e', 'x'.repeat(65), 7]) {
    const host = new Host();
    const [accepted] = host.createVm().configure({ affinity: { bodyField }, provider: { apiTokens: KEYS } });
    assert.equal(accepted, false, String(bodyField));
    // An empty one names no consumer, and without a header affinity has nothing to read.
    const field = bodyField === '' ? /affinity needs header or bodyField/ : /affinity\.bodyField/;
    assert.equal(host.logs.filter((l) => field.test(l.msg)).length, 1, host.logs.map((l) => l.msg).join('\n'));
  }
});

test('a field name with capitals is matched whole: userID is not userIP', () => {
  const { vm } = setup({ bodyField: 'metadata.userID' });
  const byId = keysByConsumer(vm, (who) => JSON.stringify({ model: 'm', metadata: { userID: who, userIP: '10.0.0.1' } }));
  for (const [who, keys] of byId) assert.equal(keys.size, 1, who);
  // Were userIP read for userID, every consumer would share one key.
  assert.ok(new Set([...byId.values()].map((s) => [...s][0])).size >= 3);
});
