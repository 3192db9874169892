// Keys from the environment: `apiTokens[i].env` names a variable of the VM's environment (WASI
// environ_get; Envoy's vm_config.environment_variables), read when the configuration is applied.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { roundTrip, statusByToken } from '../host/gateway.js';
import { fingerprint } from '../host/fingerprint.js';

const ENV = { OPENAI_KEY_1: 'sk-env-one', OPENAI_KEY_2: 'sk-env-two', EMPTY_KEY: '' };

function configured(apiTokens: unknown[], env: Record<string, string> = ENV) {
  const host = new Host({ env });
  const vm = host.createVm();
  const [ok] = vm.configure({ provider: { apiTokens } } as never);
  return { host, vm, ok, lines: host.logs.map((l) => l.msg) };
}

test('keys named by env go out as read from the environment, mixed with inline keys; fingerprints are the keys\'', () => {
  const { host, vm, ok } = configured([{ env: 'OPENAI_KEY_1', weight: 2 }, 'sk-inline', { env: 'OPENAI_KEY_2' }]);
  assert.equal(ok, true);
  const seen = new Set<string>();
  for (let i = 0; i < 60; i++) seen.add(roundTrip(vm, statusByToken({})).token!);
  assert.deepEqual([...seen].sort(), ['sk-env-one', 'sk-env-two', 'sk-inline']);
  const names = [...host.metrics.keys()].filter((n) => n.endsWith('.requests'));
  assert.ok(names.includes(`ai_token_failover.token.${fingerprint(0, 'sk-env-one')}.requests`));
});

test('a missing or empty variable, a key twice, or env with token is refused in one line naming the field, never a value', () => {
  const cases: Array<[unknown[], RegExp]> = [
    [[{ env: 'NOT_SET' }], /invalid config: provider\.apiTokens\[0\]\.env names NOT_SET, which the VM's environment does not have: list it in the Wasm filter's vm_config\.environment_variables/],
    [['sk-a', { env: 'EMPTY_KEY' }], /provider\.apiTokens\[1\]\.env names EMPTY_KEY, which the VM's environment does not have/],
    [['sk-env-one', { env: 'OPENAI_KEY_1' }], /provider\.apiTokens\[1\]\.env \(OPENAI_KEY_1\): the key duplicates an earlier token/],
    [[{ env: 'OPENAI_KEY_1', token: 'sk-x' }], /provider\.apiTokens\[0\]\.env cannot be given with token/],
    [[{ env: '1BAD' }], /provider\.apiTokens\[0\]\.env must be an environment variable name/],
    [[{ weight: 2 }], /provider\.apiTokens\[0\]\.token is required \(or env: the environment variable that holds the key\)/],
  ];
  for (const [tokens, want] of cases) {
    const { ok, lines } = configured(tokens);
    assert.equal(ok, false, JSON.stringify(tokens));
    const refusals = lines.filter((l) => l.includes('invalid config'));
    assert.equal(refusals.length, 1, lines.join(' | '));
    assert.match(refusals[0], want);
    for (const line of lines) for (const value of Object.values(ENV).filter(Boolean)) assert.ok(!line.includes(value), `a key reached the log: ${line}`);
  }
});
