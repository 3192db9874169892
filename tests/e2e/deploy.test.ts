// Deployment shapes in a real Envoy (two workers): Higress's providers/activeProviderId shape, one
// warning line per process, and this plugin behind a filter that plays ai-proxy's part.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MARKS_ANSWERS, chat, isProbe, luaFilter, setTokens, startGateway, waitFor, withGateway } from './harness.js';


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
