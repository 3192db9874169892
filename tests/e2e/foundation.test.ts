// The plugin inside a real Envoy (two workers, three plugin VMs) in front of the mock provider.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { bootstrap, wasmFilter } from '../../envoy/config.js';
import { ROOT } from '../../scripts/envoy_bin.js';
import { WASM, chat, freePort, startEnvoy, startGateway, tempDir, validateConfig, type ChatAnswer, type Gateway } from './harness.js';

const TOKENS = ['sk-e2e-a', 'sk-e2e-b', 'sk-e2e-c', 'sk-e2e-d'];
let gw: Gateway;

before(async () => { gw = await startGateway({ provider: { apiTokens: TOKENS } }); });
after(async () => { await gw?.stop(); });

test('the Envoy binary runs a Wasm filter (the plugin rewrote the credential)', async () => {
  const r = await chat(gw);
  assert.equal(r.status, 200);
  const last = gw.mock.requests.at(-1);
  assert.ok(last && TOKENS.includes(last.token ?? ''), 'request did not pass through the plugin');
});

test('400 requests spread over 4 tokens (15%..35% each); the client key never reaches the provider', async () => {
  gw.mock.requests.length = 0;
  const results: ChatAnswer[] = [];
  for (let batch = 0; batch < 20; batch++) {
    results.push(...await Promise.all(Array.from({ length: 20 }, () => chat(gw, {
      token: 'client-own-key', headers: { 'api-key': 'client-own-key', 'x-api-key': 'client-own-key' },
    }))));
  }
  assert.ok(results.every((r) => r.status === 200));
  assert.equal(gw.mock.requests.length, 400);
  const counts: Record<string, number> = Object.fromEntries(TOKENS.map((t) => [t, 0]));
  for (const req of gw.mock.requests) {
    assert.deepEqual(Object.keys(req.credentials), ['authorization']);
    assert.ok(!JSON.stringify(req.headers).includes('client-own-key'), 'client credential reached the provider');
    counts[String(req.token)]++;
  }
  for (const t of TOKENS) assert.ok(counts[t] >= 60 && counts[t] <= 140, `share of a token outside 15%..35%: ${JSON.stringify(Object.values(counts))}`);
});

test('an invalid configuration keeps Envoy from starting and the log names the field', async () => {
  const adminPort = await freePort();
  const config = bootstrap({ listenPort: await freePort(), adminPort, upstreamPort: 1, filters: [wasmFilter({ wasmPath: WASM, pluginConfig: { provider: { apiTokens: [] } } })] });
  const envoy = await startEnvoy({ config, adminPort, expectFailure: true });
  try {
    assert.notEqual(envoy.code, 0);
    assert.notEqual(envoy.code, 'timeout');
    assert.match(envoy.log, /ai-token-failover: invalid config: provider\.apiTokens must be a non-empty array of strings/);
  } finally {
    await envoy.stop();
  }
});

test('envoy --mode validate accepts every shipped Envoy config as it is in the repository (from its root, after the build)', () => {
  const dir = path.join(ROOT, 'envoy');
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  assert.deepEqual(files.sort(), ['envoy.compose.yaml', 'envoy.provider.yaml', 'envoy.upstream.yaml', 'envoy.yaml']);
  for (const f of files) {
    const r = validateConfig(path.join(dir, f));
    assert.ok(r.ok, `${f}: ${r.output}`);
  }
});

test('the provider recipes mark every placeholder a user must replace, and each marked value is still the placeholder', () => {
  for (const f of ['envoy.provider.yaml', 'envoy.upstream.yaml']) {
    const text = fs.readFileSync(path.join(ROOT, 'envoy', f), 'utf8');
    const listed = [...text.matchAll(/^#\s+(\d)\. /gm)].map((m) => m[1]);
    assert.deepEqual(listed, ['1', '2', '3', '4', '5'], `${f} lists its placeholders`);
    for (const n of listed) assert.match(text, new RegExp(`REPLACE[^\n]*\(${n}\)`), `${f}: placeholder ${n} is not marked`);
    for (const placeholder of ['sk-replace-with-key-1', 'change-me-client-key', 'change-me-status-token']) assert.ok(text.includes(placeholder), `${f}: ${placeholder}`);
  }
});

test('envoy --mode validate accepts the generated test config', () => {
  const dir = tempDir();
  const file = path.join(dir, 'envoy.json');
  fs.writeFileSync(file, JSON.stringify(bootstrap({ listenPort: 1, adminPort: 2, upstreamPort: 3, filters: [wasmFilter({ wasmPath: WASM, pluginConfig: { provider: { apiTokens: ['a'] } } })] })));
  const r = validateConfig(file);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.ok(r.ok, r.output);
});
