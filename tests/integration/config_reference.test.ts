// One source of truth for the configuration: the list of fields in assembly/plugin/config/schema.ts.
// The plugin reads every field it lists (a value of the wrong kind is refused naming the field) and
// enforces its limits; the reference table of docs/configuration.md names every field once with its default; and
// deploy/higress/spec.yaml is what scripts/config_reference.ts renders from the list.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FIELDS, type Field } from '../../assembly/plugin/config/schema.js';
import { REFERENCE_FILE, SPEC_FILE, referenceRows, renderSpec } from '../../scripts/config_reference.js';
import { ROOT } from '../../scripts/envoy_bin.js';
import { Host } from '../host/emulator.js';

const REFERENCE = fs.readFileSync(REFERENCE_FILE, 'utf8');
const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
/** Fields whose value is a whole object or list of objects: their parts carry the defaults. */
const CONTAINERS = new Set(['object', 'objects', 'groups']);

type Json = Record<string, unknown>;

/** A configuration that reaches `f` with `value` (every other field at its default). */
function configWith(f: Field, value: unknown): Json {
  const cfg: Json = { provider: { apiTokens: ['sk-a', 'sk-b'] } };
  let at: Json = cfg;
  const parts = f.object.length > 0 ? f.object.split('.') : [];
  for (const part of parts) {
    const list = part.endsWith('[]');
    const key = list ? part.slice(0, -2) : part;
    // A group (provider.groups.*) is named by a key, and has a limit unless the field sets one.
    const next: Json = key === 'apiTokens' ? { token: 'sk-c' } : key === 'failureConditions' ? { status: ['200'] } : key === '*' ? { rpd: 1000 } : {};
    if (key === '*') (cfg.provider as { apiTokens: unknown[] }).apiTokens.push({ token: 'sk-g', group: '*' });
    if (key === 'apiTokens') (at[key] as unknown[]).push(next);
    else at[key] = list ? [next] : (at[key] as Json | undefined) ?? next;
    if (!list) at = at[key] as Json; else at = next;
  }
  at[f.key] = value;
  // providers and activeProviderId are read only without a provider block; a redis field only
  // after serviceName, and redis needs failover.
  if (f.path === 'providers') delete cfg.provider;
  if (f.path === 'activeProviderId') {
    cfg.providers = [{ id: 'p', apiTokens: ['sk-a'] }];
    delete cfg.provider;
  }
  if (f.object === 'notify') {
    (cfg.provider as Json).failover = { enabled: true, healthCheckModel: 'm' };
    cfg.notify = { cluster: 'llm', authority: 'hooks', path: '/hook', ...(cfg.notify as Json) };
  }
  if (f.object === 'redis') {
    (cfg.provider as Json).failover = { enabled: true, healthCheckModel: 'm' };
    if (f.key !== 'serviceName') (cfg.redis as Json).serviceName = 'redis.dns';
  }
  return cfg;
}

/** A value of the wrong kind for `f`. */
function wrongKind(f: Field): unknown {
  return f.kind === 'string' ? 7 : f.kind === 'boolean' ? 'yes' : f.kind === 'integer' ? 'x' : f.kind === 'object' || f.kind === 'groups' ? 'x' : 7;
}

function configure(cfg: Json): { ok: boolean; logs: string[] } {
  const host = new Host();
  const vm = host.createVm();
  const [ok] = vm.configure(cfg);
  return { ok, logs: host.logs.map((l) => l.msg) };
}

test('the plugin reads every listed field: a value of the wrong kind is refused, naming the field', () => {
  for (const f of FIELDS) {
    const { ok, logs } = configure(configWith(f, wrongKind(f)));
    const line = logs.find((l) => l.includes('invalid config'));
    assert.equal(ok, false, `${f.path}: a wrong kind was accepted (${logs.join(' | ')})`);
    const named = f.path.replace('provider.apiTokens[]', 'provider.apiTokens[2]').replace('failureConditions[]', 'failureConditions[0]');
    assert.ok(line?.includes(`invalid config: ${named === 'providers' ? 'providers' : named}`), `${f.path}: ${line}`);
  }
});

test('the plugin enforces every listed integer limit, naming the field, and accepts the limits themselves', () => {
  for (const f of FIELDS.filter((g) => g.kind === 'integer')) {
    for (const outside of [f.min - 1, f.max + 1]) {
      const { ok, logs } = configure(configWith(f, outside));
      assert.equal(ok, false, `${f.path} = ${outside} was accepted`);
      assert.ok(logs.some((l) => l.includes(`must be an integer from ${f.min} to ${f.max}`)), `${f.path}: ${logs.join(' | ')}`);
    }
    for (const inside of [f.min, f.max]) {
      const cfg = configWith(f, inside);
      if (f.path === 'provider.apiTokens[].burst') (cfg.provider as { apiTokens: Json[] }).apiTokens[2].rpm = 60;
      if (f.path === 'provider.failover.maxProbeInterval') (cfg.provider as { failover: Json }).failover.healthCheckInterval = 1;
      if (f.path === 'provider.failover.healthCheckInterval') delete (cfg.provider as { failover: Json }).failover.maxProbeInterval;
      const { ok, logs } = configure(cfg);
      // The standard build refuses redis itself (it has no Redis functions), after the fields.
      if (f.object === 'redis') assert.ok(logs.some((l) => l.includes('redis needs the Higress build')), `${f.path} = ${inside}: ${logs.join(' | ')}`);
      else assert.equal(ok, true, `${f.path} = ${inside} was refused: ${logs.join(' | ')}`);
    }
  }
});

/** Objects with one part per priority, each described by one row with their defaults as a JSON object. */
const PER_PRIORITY = ['queue.maxWaitMs', 'queue.share'];

test('the reference table (docs/configuration.md) names every listed field once, no other, each with the listed default', () => {
  const rows = referenceRows(REFERENCE);
  const named = rows.flatMap((r) => r.paths);
  const listed = FIELDS.map((f) => f.path);
  for (const p of named) assert.ok(listed.includes(p), `the reference names ${p}, which the plugin does not read`);
  for (const f of FIELDS) {
    // An object is described by its parts' rows; the per-priority objects' parts by their row.
    const covered = named.includes(f.path) || (PER_PRIORITY.includes(f.object) && named.includes(f.object)) ||
      (CONTAINERS.has(f.kind) && named.some((p) => p.startsWith(`${f.path}.`) || p.startsWith(`${f.path}[].`)));
    assert.ok(covered, `the reference does not describe ${f.path}`);
  }
  assert.equal(new Set(named).size, named.length, 'a field has two rows');
  for (const row of rows) {
    for (const p of row.paths) {
      const f = FIELDS.find((g) => g.path === p)!;
      if (CONTAINERS.has(f.kind)) {
        // An object row may give its parts' defaults as one JSON object (queue.maxWaitMs).
        const json = row.dflt.match(/^`(\{.*\})`/);
        if (!json) continue;
        const parts = JSON.parse(json[1]) as Record<string, unknown>;
        for (const g of FIELDS.filter((h) => h.object === p)) assert.deepEqual(parts[g.key], JSON.parse(g.dflt), `${g.path}: the reference says ${row.dflt}`);
        continue;
      }
      if (f.dflt.length === 0) {
        assert.match(row.dflt, /^(—|required|none)/, `${p} has no default, the reference says ${row.dflt}`);
        continue;
      }
      const shown = [...row.dflt.matchAll(/`([^`]*)`/g)].map((m) => m[1].replace(/\s/g, ''));
      const want = f.dflt.replace(/\s/g, '');
      const unquoted = f.kind === 'string' ? JSON.parse(f.dflt) : null;
      assert.ok(shown.includes(want) || (unquoted !== null && unquoted !== '' && shown.includes(unquoted)),
        `${p}: the reference's default is ${row.dflt}, the plugin's ${f.dflt}`);
    }
  }
});

test('deploy/higress/spec.yaml is the schema rendered from the list (npm run spec rewrites it)', () => {
  assert.equal(fs.readFileSync(SPEC_FILE, 'utf8'), renderSpec(REFERENCE, VERSION), 'spec.yaml differs from the list of fields: run npm run spec');
});
