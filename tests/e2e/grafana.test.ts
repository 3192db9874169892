// Every series the Grafana dashboard queries is one the plugin exports in a real Envoy's
// /stats/prometheus (with the shipped stats_tags rules, budgets and a failing key so that every
// kind of metric exists).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';
import { chat, setTokens, waitFor, withGateway } from './harness.js';

/** The parts of a Grafana dashboard this test reads. */
interface GrafanaDashboard {
  panels: Array<{ targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ query?: unknown }> };
}

test('the Grafana dashboard queries only series the plugin exports, with the labels it uses', async () => {
  const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy/grafana/ai-token-failover.json'), 'utf8')) as GrafanaDashboard;
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
  exprs.push(...dashboard.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string' && q.length > 0));
  const wanted = new Set(exprs.flatMap((e) => e.match(/ai_token_failover_[a-z0-9_]+/g) ?? []));
  assert.ok(wanted.size >= 15, `${wanted.size} series`);
  const config = { provider: { apiTokens: ['sk-gf-a', { token: 'sk-gf-b', rpm: 1000, tpm: 100000 }], failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 500, healthCheckModel: 'm' }, retryOnFailure: { enabled: true } }, queue: { enabled: true } };
  await withGateway(config, async (gw) => {
    setTokens(gw, { 'sk-gf-a': '500' });
    for (let i = 0; i < 10; i++) await chat(gw);
    await waitFor(async () => (await gw.stats()).includes('ai_token_failover_token_probes_failed{'), 5000);
    const text = await gw.stats();
    const exported = new Map<string, string>();
    for (const line of text.split('\n')) {
      const m = line.match(/^(ai_token_failover_[a-z0-9_]+)(\{[^}]*\})? /);
      if (m) exported.set(m[1], (exported.get(m[1]) ?? '') + (m[2] ?? ''));
    }
    for (const name of wanted) {
      assert.ok(exported.has(name), `the dashboard queries ${name}, which Envoy does not export`);
      const labels = exported.get(name) ?? '';
      if (name.startsWith('ai_token_failover_token_')) assert.match(labels, /token="#\d+:[0-9a-f]{6}"/, `${name} has no token label`);
      else assert.match(labels, /pool="[^"]+"/, `${name} has no pool label`);
    }
  });
});
