// Bounded memory: 10,000 requests with 256 KiB escape-heavy prompts, streaming and not, a quarter
// of them retried, through three VMs. Each VM's linear memory must stop growing after warm-up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Host } from '../host/emulator.js';
import { roundTrip, type Upstream } from '../host/gateway.js';

const TOKENS = ['sk-m-a', 'sk-m-b', 'sk-m-c', 'sk-m-d'];
/** Each VM's linear memory stays under this (about 1.8 MiB is used: bodies of 256 KiB are copied in and freed). */
const BOUND = 4 * 1024 * 1024;

function prompt(kb: number, tag: string): (stream: boolean) => string {
  const line = 'if (x) {\\n\\t\\"a\\": \\"b\\\\c\\"\\n}\\n';
  const content = line.repeat(Math.ceil((kb * 1024) / line.length)).slice(0, kb * 1024);
  return (stream: boolean) => `{"model":"m","stream":${stream},"messages":[{"role":"user","content":"${tag}${content}"}]}`;
}

test('10,000 requests of 256 KiB prompts (streaming and not, with retries): memory stops growing after warm-up', () => {
  const host = new Host();
  const vms = [host.createVm(), host.createVm(), host.createVm()];
  const cfg = { provider: { apiTokens: TOKENS, retryOnFailure: { enabled: true, maxRetries: 1 } } };
  for (const vm of vms) assert.equal(vm.configure(cfg)[0], true);
  const body = prompt(256, 'q');
  const upstream: Upstream = ({ token }) => (token === 'sk-m-a' ? { status: 503, body: '{"error":"busy"}' } : { status: 200, body: '{"choices":[]}' });
  const sizes = () => vms.map((vm) => vm.exports.memory.buffer.byteLength);
  let afterWarmup: number[] = [];
  let retried = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = roundTrip(vms[i % 3], upstream, { body: body(i % 2 === 0) });
    if (r.retries > 0) retried++;
    if (i === 999) afterWarmup = sizes();
  }
  const end = sizes();
  console.log(`linear memory per VM after warm-up: ${afterWarmup.join(', ')} bytes; at the end: ${end.join(', ')}`);
  assert.ok(retried > 1000, `only ${retried} requests were retried`);
  for (let k = 0; k < 3; k++) {
    assert.equal(end[k], afterWarmup[k], `VM ${k} grew from ${afterWarmup[k]} to ${end[k]} bytes after warm-up`);
    assert.ok(end[k] <= BOUND, `VM ${k} uses ${end[k]} bytes`);
  }
});
