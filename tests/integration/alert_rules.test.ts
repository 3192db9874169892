// The shipped Prometheus alerting rules (deploy/prometheus/alerts.yaml) pass promtool's check and
// its unit tests (tests/prometheus/alerts_test.yaml), and name only series the plugin emits.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';
import { Host } from '../host/emulator.js';
import { series } from '../host/metric_series.js';

const RULES = path.join(ROOT, 'deploy/prometheus/alerts.yaml');
const TESTS = path.join(ROOT, 'tests/prometheus/alerts_test.yaml');
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const missing = promtool.error ? 'promtool not found (Debian package prometheus)' : '';
if (missing && process.env.REQUIRE_PROMTOOL) throw new Error(missing);

test('promtool checks the rules and runs their unit tests', missing ? { skip: missing } : {}, () => {
  for (const args of [['check', 'rules', RULES], ['test', 'rules', TESTS]]) {
    const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  }
});

test('the rules and their tests name only series the plugin defines', () => {
  const host = new Host();
  const [ok] = host.createVm().configure({ provider: { apiTokens: ['sk-a', { token: 'sk-b', rpm: 60, tpm: 1000 }], failover: { enabled: true, healthCheckModel: 'm' }, retryOnFailure: { enabled: true } } });
  assert.equal(ok, true);
  const defined = series(host);
  for (const file of [RULES, TESTS]) {
    const named = new Set([...fs.readFileSync(file, 'utf8').matchAll(/ai_token_failover_[a-z0-9_]+/g)].map((m) => m[0]));
    assert.ok(named.size >= 5, `${file} names ${named.size} series`);
    for (const name of named) assert.ok(defined.has(name), `${path.relative(ROOT, file)} names ${name}, which the plugin does not define`);
  }
});
