// Deployment shapes in a real Envoy (two workers): Higress's providers/activeProviderId shape, one
// warning line per process, and this plugin behind a filter that plays ai-proxy's part.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chat, setTokens, startGateway, waitFor, withGateway } from './harness.js';

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

test('behind a filter that rewrites host and path and sets its own Authorization (ai-proxy\'s part), the provider receives pool keys, retries and probes included', async () => {
  const tokens = ['sk-ap-a', 'sk-ap-b', 'sk-ap-c'];
  const lua = {
    name: 'envoy.filters.http.lua',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
      default_source_code: { inline_string: `
function envoy_on_request(h)
  local hd = h:headers()
  hd:replace(":path", "/compatible-mode/v1/chat/completions")
  hd:replace(":authority", "provider.internal")
  hd:replace("authorization", "Bearer ai-proxy-own-key")
end
function envoy_on_response(h)
  h:headers():add("x-translated-by", "lua")
end` },
    },
  };
  const pluginConfig = { provider: { apiTokens: tokens, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 500, healthCheckModel: 'm' }, retryOnFailure: { enabled: true } } };
  const gw = await startGateway(pluginConfig, { filtersBefore: [lua] });
  try {
    setTokens(gw, { 'sk-ap-b': '401' });
    let retriedAnswers = 0;
    for (let i = 0; i < 40; i++) {
      const before = gw.mock.requests.length;
      const r = await chat(gw);
      assert.equal(r.status, 200);
      // The route's answers pass back through the filter before the plugin; a retried answer is the
      // plugin's own reply, which Envoy does not pass back through it (README: beside ai-proxy).
      if (gw.mock.requests.length - before > 1) retriedAnswers++;
      else assert.equal(r.headers['x-translated-by'], 'lua');
    }
    assert.ok(retriedAnswers >= 1, 'no request was retried');
    await waitFor(() => gw.mock.requests.some((r) => r.headers['user-agent'] === 'ai-token-failover-probe'), 3000);
    const sent = gw.mock.requests;
    assert.ok(sent.some((r) => r.headers['user-agent'] === 'ai-token-failover-probe'), 'no probe');
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
