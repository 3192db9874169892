// The official OpenAI Python SDK (PyPI `openai`, pinned in tests/e2e/clients/requirements.txt) as
// a real client behind the provider-shaped route, with the shipped defaults: model lists, a chat
// and a stream work unchanged.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';
import { isProbe, setTokens, type Gateway } from './harness.js';
import { PROVIDER_HOST, startProviderGateway } from './provider_gateway.js';

const TOKENS = ['sk-sdk-a', 'sk-sdk-b', 'sk-sdk-c', 'sk-sdk-d'];
const CLIENTS = path.join(ROOT, 'tests/e2e/clients');
const VENV = path.join(ROOT, '.venv-clients');
let gw: Gateway;

// The SDK's own virtualenv, made from requirements.txt when missing or out of date.
function sdkPython(): string {
  const python = path.join(VENV, 'bin/python');
  const wanted = fs.readFileSync(path.join(CLIENTS, 'requirements.txt'), 'utf8');
  const stamp = path.join(VENV, 'requirements.txt');
  if (fs.existsSync(python) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return python;
  fs.rmSync(VENV, { recursive: true, force: true });
  const made = spawnSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  assert.equal(made.status, 0, 'python3 -m venv failed');
  const pip = spawnSync(path.join(VENV, 'bin/pip'), ['install', '--quiet', '-r', path.join(CLIENTS, 'requirements.txt')], { stdio: 'inherit', timeout: 300_000 });
  assert.equal(pip.status, 0, 'could not install the OpenAI SDK from PyPI');
  fs.writeFileSync(stamp, wanted);
  return python;
}

before(async () => {
  sdkPython();
  gw = await startProviderGateway({ provider: { apiTokens: TOKENS } });
});
after(async () => { await gw?.stop(); });

test('OpenAI SDK: models.list(), models.retrieve(), a chat and a stream, each with a key of the pool', async () => {
  const run = await promisify(execFile)(sdkPython(), [path.join(CLIENTS, 'openai_sdk_client.py'), gw.url('/openai/v1'), 'client-key'], { timeout: 60_000 });
  const got = JSON.parse(run.stdout.trim());
  assert.deepEqual(got.models, ['gpt-4o-mini', 'gpt-4o']);
  assert.equal(got.model, 'gpt-4o');
  assert.equal(got.chat, 'Hello from the mock provider.');
  assert.ok(got.stream.length > 0, 'the stream carried no text');
  const sent = gw.mock.requests.filter((q) => !isProbe(q));
  assert.deepEqual(sent.map((q) => `${q.method} ${q.path}`), ['GET /v1/models', 'GET /v1/models/gpt-4o', 'POST /v1/chat/completions', 'POST /v1/chat/completions']);
  for (const q of sent) {
    assert.equal(q.host, PROVIDER_HOST);
    assert.ok(TOKENS.includes(q.token ?? ''), `${q.method} ${q.path} went with ${q.token}`);
  }
});

test('OpenAI SDK: with one of two keys dead and retries on, 24 streams one after another are all complete', async () => {
  const keys = ['sk-sdk-live', 'sk-sdk-dead'];
  const retrying = await startProviderGateway({ provider: { apiTokens: keys, failover: { enabled: true, healthCheckModel: 'gpt-4o-mini', healthCheckInterval: 60_000 }, retryOnFailure: { enabled: true } } });
  try {
    // One request teaches the plugin the route, so that its retries go where the route sends.
    await promisify(execFile)(sdkPython(), [path.join(CLIENTS, 'openai_sdk_client.py'), retrying.url('/openai/v1'), 'client-key', '1'], { timeout: 60_000 });
    setTokens(retrying, { 'sk-sdk-dead': '401' });
    const run = await promisify(execFile)(sdkPython(), [path.join(CLIENTS, 'openai_sdk_client.py'), retrying.url('/openai/v1'), 'client-key', '24'], { timeout: 120_000 });
    const got = JSON.parse(run.stdout.trim()) as { streams: string[] };
    assert.equal(got.streams.length, 24);
    for (const text of got.streams) assert.equal(text, 'Hello from the mock provider.');
    const dead = retrying.mock.requests.filter((q) => !isProbe(q) && q.token === 'sk-sdk-dead').length;
    assert.ok(dead >= 1, 'no stream met the dead key');
  } finally {
    await retrying.stop();
  }
});
