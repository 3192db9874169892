// Stalled uploads cannot take every other client's retries away: a VM holds at most maxHeldBytes
// of request bodies, and over it uploads that stopped growing (or trickle) give their room back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import type { PluginConfig } from '../../envoy/config.js';
import { CHAT, roundTrip, type Upstream } from '../host/gateway.js';

const SKIPPED = 'ai_token_failover.pool.ai-token-failover:openai.retries_skipped_memory';

function setup() {
  const host = new Host();
  const vm = host.createVm();
  const config = {
    provider: {
      apiTokens: ['sk-a', 'sk-b'],
      failover: { enabled: true, failureThreshold: 1000, healthCheckInterval: 60_000, healthCheckModel: 'm' },
      retryOnFailure: { enabled: true, maxHeldBytes: 1 << 20 },
    },
  } as PluginConfig;
  assert.equal(vm.configure(config)[0], true);
  return { host, vm };
}

// Every first attempt fails, so a request is served only by its retry.
const firstFails = (): Upstream => {
  let n = 0;
  return () => ({ status: n++ % 2 === 0 ? 503 : 200, body: '{}' });
};

test('uploads that stall fill maxHeldBytes for at most two sweeps a second apart; then every other request is retried again', () => {
  const { host, vm } = setup();
  // Eight uploads of 127 KiB each that never finish: together they hold nearly all of the VM's 1 MiB.
  const stalled = Array.from({ length: 8 }, () => {
    const s = vm.newStream();
    s.onRequestHeaders({ ...CHAT, 'content-length': String(1 << 20) }, false);
    s.onRequestBody('{"model":"m","messages":[{"role":"user","content":"' + 'x'.repeat(127 * 1024), false);
    return s;
  });
  // One that trickles: a few bytes a second is not an upload that moves.
  const trickle = vm.newStream();
  trickle.onRequestHeaders({ ...CHAT }, false);
  trickle.onRequestBody('{"model":"m","messages":[{"role":"user","content":"' + 'y'.repeat(4096), false);
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'z'.repeat(20_000) }] });
  const served: Upstream = () => ({ status: 200, body: '{}' });
  // The first requests find no room (they would go without a retry): the first sweep only notes
  // how far each upload got.
  for (let i = 0; i < 5; i++) roundTrip(vm, served, { body });
  const skipped = host.metric(SKIPPED);
  assert.ok(skipped >= 5, `${skipped} requests went without a retry`);
  host.advance(1100);
  trickle.onRequestBody('y'.repeat(10), false);
  // A second later they have not moved: the next request's sweep takes their room back, and every
  // request is kept for a retry again: those whose first answer fails are served by it.
  let retried = 0;
  for (let i = 0; i < 50; i++) if (roundTrip(vm, firstFails(), { body }).client.status === 200) retried++;
  assert.equal(retried, 50, `${retried} of 50 requests were retried after the sweep`);
  assert.equal(host.metric(SKIPPED), skipped + 1, 'only the trickling upload gave its body up when it grew');
  for (const s of [...stalled, trickle]) s.finish();
});

test('an upload that keeps arriving keeps its room however long it takes', () => {
  const { host, vm } = setup();
  // Filling most of the VM's bytes, growing 64 KiB a second.
  const slow = vm.newStream();
  slow.onRequestHeaders({ ...CHAT }, false);
  slow.onRequestBody('{"model":"m","messages":[{"role":"user","content":"' + 'x'.repeat(600 * 1024), false);
  const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'z'.repeat(300 * 1024) }] });
  for (let second = 0; second < 4; second++) {
    roundTrip(vm, () => ({ status: 200, body: '{}' }), { body: big });
    host.advance(1000);
    slow.onRequestBody('x'.repeat(64 * 1024), false);
  }
  slow.onRequestBody('"}]}', true);
  slow.forward();
  slow.setProperty('response.code_details', 'via_upstream');
  // Its body is still kept, so its own failure is retried.
  assert.notEqual(slow.onResponseHeaders({ ':status': '503' }, true), 0, 'the slow upload lost its retry');
  slow.finish();
});
