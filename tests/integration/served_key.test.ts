// The key that served a request: servedKeyHeader and servedKeyFilterState, in the emulator (Envoy's
// filter state as `wasm.<name>`). Off by default; never the token itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host, type Vm } from '../host/emulator.js';
import { roundTrip, statusByToken } from '../host/gateway.js';
import { fingerprint } from '../host/fingerprint.js';
import type { PluginConfig } from '../../envoy/config.js';

const TOKENS = ['sk-a', 'sk-b', 'sk-c'];
const HEADER = 'x-served-key';
const fp = (token: string): string => fingerprint(TOKENS.indexOf(token), token);

function vmWith(extra: Partial<PluginConfig>): Vm {
  const vm = new Host().createVm();
  const cfg: PluginConfig = {
    ...extra,
    provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 100, healthCheckInterval: 1000, healthCheckModel: 'm' },
      retryOnFailure: { enabled: true, maxRetries: 2 } },
  };
  assert.equal(vm.configure(cfg)[0], true);
  return vm;
}

test('off by default: no header, no filter state', () => {
  const r = roundTrip(vmWith({}), statusByToken({}));
  assert.equal(r.client.headers?.get(HEADER) ?? null, null);
  assert.equal(r.stream.filterState.size, 0);
});

test('a served request names its key in the header and the filter state; an upstream header of that name is replaced', () => {
  const vm = vmWith({ servedKeyHeader: HEADER, servedKeyFilterState: true });
  const r = roundTrip(vm, statusByToken({}, Object.fromEntries(TOKENS.map((t) => [t, { headers: { [HEADER]: 'forged', [`${HEADER}-tried`]: 'forged' } }]))));
  assert.equal(r.client.headers?.get(HEADER), fp(r.token!));
  assert.equal(r.client.headers?.get(`${HEADER}-tried`), null);
  assert.equal(r.stream.filterState.get('wasm.ai_token_failover_key'), fp(r.token!));
  assert.equal(r.stream.filterState.get('wasm.ai_token_failover_tried'), undefined);
  for (const v of r.stream.filterState.values()) for (const t of TOKENS) assert.ok(!v.includes(t));
});

test('a retried request names the retry\'s key and lists the keys tried, in the replaced answer and the filter state', () => {
  const vm = vmWith({ servedKeyHeader: HEADER, servedKeyFilterState: true });
  let checked = false;
  for (let i = 0; i < 30 && !checked; i++) {
    const r = roundTrip(vm, statusByToken({ 'sk-a': 503, 'sk-b': 503 }));
    if (r.token !== 'sk-a' || r.retries === 0) continue;
    checked = true;
    assert.equal(r.client.status, 200);
    const served = 'sk-c';
    assert.equal(r.client.headers?.get(HEADER), fp(served));
    const tried = r.client.headers?.get(`${HEADER}-tried`) ?? '';
    assert.ok(tried.startsWith(`${fp('sk-a')},`) && tried.endsWith(fp(served)), tried);
    assert.equal(tried.split(',').length, r.retries + 1);
    assert.equal(r.stream.filterState.get('wasm.ai_token_failover_key'), fp(served));
    assert.equal(r.stream.filterState.get('wasm.ai_token_failover_tried'), tried);
  }
  assert.ok(checked, 'sk-a never took a request first');
});

test('when every attempt fails, the client\'s answer (the last one) names its key and all the keys tried', () => {
  const vm = vmWith({ servedKeyHeader: HEADER });
  // A success first: the VM learns the route, so a retry's failure is delivered as the last answer.
  assert.equal(roundTrip(vm, statusByToken({})).client.status, 200);
  const r = roundTrip(vm, statusByToken({ 'sk-a': 503, 'sk-b': 503, 'sk-c': 503 }));
  assert.equal(r.client.status, 503);
  assert.equal(r.retries, 2);
  const tried = (r.client.headers?.get(`${HEADER}-tried`) ?? '').split(',');
  assert.equal(tried.length, 3);
  assert.deepEqual([...tried].sort(), TOKENS.map(fp).sort());
  assert.equal(r.client.headers?.get(HEADER), tried[2]);
});

test('servedKeyHeader must be a header name', () => {
  const vm = new Host().createVm();
  const [ok] = vm.configure({ servedKeyHeader: 'bad header', provider: { apiTokens: TOKENS } } as PluginConfig);
  assert.equal(ok, false);
});
