// The provider examples of docs/configuration.md as written (OpenAI, Azure OpenAI, Anthropic): each is accepted
// without a warning, sends the key in its provider's header, and probes a failing key with the
// path, headers and body the provider needs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';
import { Host } from '../host/emulator.js';
import { isProbeCall, roundTrip, type Upstream } from '../host/gateway.js';

const PAGE = fs.readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
const start = PAGE.indexOf('\n## Provider examples\n');
const EXAMPLES = [...PAGE.slice(start).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));

interface Case { type: string; header: string; value: (key: string) => string; clientPath: string; probePath: string; probeHeaders: Record<string, string>; cluster: string }
const CASES: Case[] = [
  { type: 'openai', header: 'authorization', value: (k) => `Bearer ${k}`, clientPath: '/v1/chat/completions', probePath: '/v1/chat/completions', probeHeaders: {}, cluster: 'llm' },
  { type: 'azure', header: 'api-key', value: (k) => k, clientPath: '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21',
    probePath: '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', probeHeaders: { ':authority': 'my-resource.openai.azure.com' }, cluster: 'azure-openai' },
  { type: 'claude', header: 'x-api-key', value: (k) => k, clientPath: '/v1/messages', probePath: '/v1/messages', probeHeaders: { 'anthropic-version': '2023-06-01' }, cluster: 'llm' },
];

test('the page has one example per provider, in this order', () => {
  assert.deepEqual(EXAMPLES.map((e) => e.provider.type), CASES.map((c) => c.type));
});

for (const [i, c] of CASES.entries()) {
  test(`the ${c.type} example: accepted without a warning, the key in ${c.header}, a failing key probed as the provider needs`, () => {
    const example = EXAMPLES[i];
    const names: string[] = example.provider.apiTokens.map((t: { env: string }) => t.env);
    const env = Object.fromEntries(names.map((n, k) => [n, `sk-${c.type}-${k}`]));
    const host = new Host({ env });
    host.clusters.add(c.cluster);
    const vm = host.createVm();
    assert.equal(vm.configure(example)[0], true);
    assert.deepEqual(host.logs.filter((l) => l.level >= 3).map((l) => l.msg), []);
    const dead = env[names[0]];
    const upstream: Upstream = ({ token }) => (token === dead ? { status: 401, body: '{"error":"invalid key"}' } : { status: 200, body: '{"ok":true}' });
    const headers = { ':path': c.clientPath, 'anthropic-version': '2023-06-01' };
    let sentRight = false;
    for (let k = 0; k < 40; k++) {
      const r = roundTrip(vm, upstream, { headers, body: JSON.stringify({ model: example.provider.failover.healthCheckModel, messages: [] }) });
      sentRight ||= r.stream.requestHeaders.get(c.header) === c.value(r.token!);
    }
    assert.ok(sentRight, `the key did not go in ${c.header}`);
    host.advance(example.provider.failover.healthCheckInterval ?? 5000);
    const probe = vm.calls().find(isProbeCall);
    assert.ok(probe, 'the failing key was not probed');
    assert.equal(probe.cluster, c.cluster);
    assert.equal(probe.headers.get(':path'), c.probePath);
    assert.equal(probe.headers.get(c.header), c.value(dead));
    for (const [name, value] of Object.entries(c.probeHeaders)) assert.equal(probe.headers.get(name), value, name);
    assert.equal(JSON.parse(probe.body.toString()).model, example.provider.failover.healthCheckModel);
  });
}
