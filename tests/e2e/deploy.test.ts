// Deployment shapes in a real Envoy (two workers): Higress's providers/activeProviderId shape, one
// warning line per process, and this plugin behind a filter that plays ai-proxy's part.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import type { EnvoyConfig, PluginConfig } from '../../envoy/config.js';
import { ROOT } from '../../scripts/envoy_bin.js';
import { MARKS_ANSWERS, WASM, chat, isProbe, luaFilter, setTokens, startGateway, tempDir, waitFor, withGateway } from './harness.js';


test('providers + activeProviderId configures the active provider\'s pool; an unknown field is one warning line, not one per VM', async () => {
  const config = {
    activeProviderId: 'b',
    providers: [
      { id: 'a', type: 'openai', apiTokens: ['sk-prov-a1'] },
      { id: 'b', type: 'azure', apiTokens: ['sk-prov-b1', 'sk-prov-b2'], modelMapping: { '*': 'gpt-4o' } },
    ],
  };
  await withGateway(config, async (gw) => {
    for (let i = 0; i < 20; i++) assert.equal((await chat(gw)).status, 200);
    const used = new Set(gw.mock.requests.map((r) => r.credentials['api-key']));
    assert.deepEqual([...used].sort(), ['sk-prov-b1', 'sk-prov-b2']);
    const warnings = gw.envoy.log.split('\n').filter((l) => l.includes('unknown field providers[1].modelMapping ignored'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(!/wasm log \S+ \S+/.test(warnings[0]), `a name is repeated: ${warnings[0]}`);
  });
});

test('behind a filter that rewrites host and path, sets its own Authorization and translates answers (ai-proxy\'s part): the provider receives pool keys, retries and probes included, and retried answers are translated too', async () => {
  const tokens = ['sk-ap-a', 'sk-ap-b', 'sk-ap-c'];
  const lua = luaFilter(`
function envoy_on_request(h)
  local hd = h:headers()
  hd:replace(":path", "/compatible-mode/v1/chat/completions")
  hd:replace(":authority", "provider.internal")
  hd:replace("authorization", "Bearer ai-proxy-own-key")
end
function envoy_on_response(h)
  h:headers():add("x-translated-by", "lua")
  local body = h:body()
  if body ~= nil then
    local text = body:getBytes(0, body:length())
    body:setBytes((string.gsub(text, "Hello from the mock provider", "Translated by lua")))
  end
end`);
  const pluginConfig = { provider: { apiTokens: tokens, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 500, healthCheckModel: 'm' }, retryOnFailure: { enabled: true } } };
  const gw = await startGateway(pluginConfig, { filtersBefore: [lua] });
  try {
    setTokens(gw, { 'sk-ap-b': '401' });
    let retriedAnswers = 0;
    for (let i = 0; i < 40; i++) {
      const before = gw.mock.requests.length;
      const r = await chat(gw);
      assert.equal(r.status, 200);
      // Every answer, the retried ones included, passes back through the filter before the plugin.
      assert.equal(r.headers['x-translated-by'], 'lua');
      assert.match(r.body, /Translated by lua/);
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
      if (gw.mock.requests.length - before > 1) retriedAnswers++;
    }
    assert.ok(retriedAnswers >= 1, 'no request was retried');
    await waitFor(() => gw.mock.requests.some(isProbe), 3000);
    const sent = gw.mock.requests;
    assert.ok(sent.some(isProbe), 'no probe');
    assert.ok(sent.filter((r) => r.token === 'sk-ap-b').length >= 1);
    for (const r of sent) {
      assert.ok(tokens.includes(r.token ?? ''), `the provider received ${r.token === 'ai-proxy-own-key' ? "ai-proxy's key" : 'another key'}`);
      assert.equal(r.path, '/compatible-mode/v1/chat/completions');
      assert.equal(r.host, 'provider.internal');
    }
  } finally {
    await gw.stop();
  }
});

test('a retry answer that comes before the failed answer\'s body waits for it, then replaces it and is translated too', async () => {
  const tokens = ['sk-late-a', 'sk-late-b'];
  const lua = luaFilter(MARKS_ANSWERS);
  // No failover: the failing key keeps failing, so requests keep being retried.
  await withGateway({ provider: { apiTokens: tokens, retryOnFailure: { enabled: true, maxRetries: 1 } } }, async (gw) => {
    const run = async (n: number) => {
      let retried = 0;
      for (let i = 0; i < n; i++) {
        const before = gw.mock.requests.length;
        const r = await chat(gw);
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-translated-by'], 'lua');
        assert.match(r.body, /Hello from the mock provider/);
        if (gw.mock.requests.length - before > 1) retried++;
      }
      return retried;
    };
    // Failures with their body at once: each worker sees Envoy pass body data while it holds the headers.
    setTokens(gw, { 'sk-late-b': '401' });
    assert.ok(await run(30) >= 3, 'too few requests were retried');
    // Now the failure's body comes 300 ms after its headers, long after the retry has answered.
    setTokens(gw, { 'sk-late-b': { status: 401, bodyDelayMs: 300 } });
    assert.ok(await run(30) >= 3, 'too few requests were retried');
  }, { filtersBefore: [lua] });
});

test('without allow_on_headers_stop_iteration a retried answer is the plugin\'s own reply: the client still gets it, untranslated', async () => {
  const lua = luaFilter(MARKS_ANSWERS);
  await withGateway({ provider: { apiTokens: ['sk-off-a', 'sk-off-b'], retryOnFailure: { enabled: true, maxRetries: 1 } } }, async (gw) => {
    setTokens(gw, { 'sk-off-b': '503' });
    let retried = 0;
    for (let i = 0; i < 30; i++) {
      const before = gw.mock.requests.length;
      const r = await chat(gw);
      assert.equal(r.status, 200);
      assert.match(r.body, /Hello from the mock provider/);
      if (gw.mock.requests.length - before > 1) {
        retried++;
        assert.equal(r.headers['x-translated-by'], undefined);
      } else {
        assert.equal(r.headers['x-translated-by'], 'lua');
      }
    }
    assert.ok(retried >= 3, 'too few requests were retried');
  }, { filtersBefore: [lua], allowOnHeadersStopIteration: false });
});

test('Istio EnvoyFilter recipe: its filter, served over ECDS as shipped (only the module and the keys swapped), shows the plugin request bodies, so model lists apply', async () => {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/istio/envoyfilter.yaml'), 'utf8')).map((d) => d.toJS());
  const patches = docs[0].spec.configPatches;
  const extension = patches.find((p: { applyTo: string }) => p.applyTo === 'EXTENSION_CONFIG').patch.value;
  const filter = patches.find((p: { applyTo: string }) => p.applyTo === 'HTTP_FILTER').patch.value;
  const dir = tempDir();
  const ecds = path.join(dir, 'ecds.json');
  const asServed = (cfg: PluginConfig): EnvoyConfig => {
    const typed = structuredClone(extension.typed_config);
    typed.config.vm_config.code = { local: { filename: WASM } };
    typed.config.configuration.value = JSON.stringify(cfg);
    fs.writeFileSync(ecds, JSON.stringify({ resources: [{ '@type': 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig', name: extension.name, typed_config: typed }] }));
    return { ...filter, config_discovery: { ...filter.config_discovery, config_source: { path_config_source: { path: ecds }, resource_api_version: 'V3' } } };
  };
  const config = { provider: { apiTokens: [{ token: 'sk-if-gpt', models: ['gpt-*'] }, { token: 'sk-if-claude', models: ['claude-*'] }] } };
  await withGateway(config, async (gw) => {
    for (let i = 0; i < 10; i++) {
      assert.equal((await chat(gw, { body: { model: 'claude-3-haiku', messages: [{ role: 'user', content: 'hi' }] } })).status, 200);
      assert.equal((await chat(gw, { body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] } })).status, 200);
    }
    const byModel = gw.mock.requests.map((r) => `${(r.body as { model?: string }).model}:${r.token}`);
    assert.equal(byModel.filter((m) => m === 'claude-3-haiku:sk-if-claude').length, 10, byModel.join(' '));
    assert.equal(byModel.filter((m) => m === 'gpt-4o:sk-if-gpt').length, 10, byModel.join(' '));
    assert.ok(!gw.envoy.log.includes('allow_on_headers_stop_iteration'), 'the plugin concluded that bodies are hidden');
  }, { pluginFilter: asServed });
  fs.rmSync(dir, { recursive: true, force: true });
});
