// The status-document example and metrics table of docs/operations.md against what the plugin emits: the same
// fields in the document (every feature on), the same series (the Higress build with redis adds
// its two), nothing documented that is not emitted and nothing emitted that is not documented.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';
import { DEFAULT_WASM, Host } from '../host/emulator.js';
import { series } from '../host/metric_series.js';
import { roundTrip, statusByToken } from '../host/gateway.js';
import { statusOf } from '../host/status_document.js';

const PAGE = fs.readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
const HIGRESS_WASM = path.join(path.dirname(DEFAULT_WASM), 'plugin.higress.wasm');
const EVERYTHING = {
  statusPath: '/status', statusToken: 'st', queue: { enabled: true },
  provider: {
    apiTokens: ['sk-r-a', { token: 'sk-r-b', weight: 2, models: ['m*'], rpm: 600, tpm: 100000, group: 'org-a' }, 'sk-r-c'],
    groups: { 'org-a': { rpm: 1000 } },
    failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'm' }, retryOnFailure: { enabled: true },
  },
};

/** Every path of a JSON value: objects by key, arrays of objects as `[]`, anything else a leaf. */
function paths(v: unknown, at = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) {
    for (const item of v) for (const p of paths(item, `${at}[]`)) out.add(p);
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) for (const p of paths(x, at ? `${at}.${k}` : k)) out.add(p);
  } else {
    out.add(at);
  }
  return out;
}

/** A section of the page: from its heading to the next heading of its level. */
function section(heading: string): string {
  const start = PAGE.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `no section ${heading}`);
  const end = PAGE.indexOf('\n## ', start + 1);
  return PAGE.slice(start, end < 0 ? undefined : end);
}

test('the status document example has exactly the fields the plugin emits', () => {
  const host = new Host();
  const vm = host.createVm();
  assert.equal(vm.configure(EVERYTHING)[0], true);
  for (let i = 0; i < 10; i++) roundTrip(vm, statusByToken({ 'sk-r-c': 401 }));
  host.advance(2000);
  const emitted = paths(statusOf(vm, '/status', 'st'));
  const example = section('Status endpoint').match(/```json\n([\s\S]*?)```/);
  assert.ok(example, 'no JSON example');
  const documented = paths(JSON.parse(example[1]));
  // replicas is null without redis; its fields are described in the prose after the example.
  assert.deepEqual([...documented].sort(), [...emitted].sort());
});

test('the metrics table names exactly the series the plugin defines', () => {
  const standard = new Host();
  assert.equal(standard.createVm().configure(EVERYTHING)[0], true);
  const higress = new Host({ wasmPath: HIGRESS_WASM });
  higress.redis.services.set('outbound|6379||redis.dns', { port: null } as never);
  assert.equal(higress.createVm().configure({ ...EVERYTHING, redis: { serviceName: 'redis.dns' } })[0], true);
  const emitted = new Set([...series(standard), ...series(higress)]);
  const table = section('Metrics').split('\n').filter((l) => l.startsWith('| `ai_token_failover_'));
  const documented = new Set(table.flatMap((row) => [...row.split(' | ')[0].matchAll(/`(ai_token_failover_[a-z0-9_]+)/g)].map((m) => m[1])));
  assert.deepEqual([...documented].sort(), [...emitted].sort());
});
