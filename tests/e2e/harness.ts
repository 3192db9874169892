// Runs real Envoy processes (several worker threads, so several plugin VMs) in front of the mock
// provider, on free loopback ports, and stops everything afterwards.
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, resolveEnvoy } from '../../scripts/envoy_bin.js';
import { bootstrap, configuredTokens, listener, wasmFilter } from '../../envoy/config.js';

export { configuredTokens };
import { startMockProvider } from '../../envoy/mock_provider.js';

export const WASM = path.join(ROOT, 'build/plugin.wasm');
export const ENVOY = resolveEnvoy({ quiet: true });

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'atf-e2e-'));
}

/** `envoy --mode validate` on a config file; returns { ok, output }. */
export function validateConfig(file) {
  const r = spawnSync(ENVOY, ['--mode', 'validate', '-c', file, '--disable-hot-restart', '-l', 'error'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/**
 * Starts Envoy with a bootstrap object or file; resolves once /ready answers, or rejects with its
 * log. `cpu` pins it to that core with taskset (the benchmark).
 */
export async function startEnvoy({ config, configFile, adminPort, concurrency = 2, extraArgs = [], expectFailure = false, cpu }) {
  const dir = tempDir();
  const file = configFile ?? path.join(dir, 'envoy.json');
  if (config) fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const args = ['-c', file, '--concurrency', String(concurrency), '--disable-hot-restart',
    '-l', 'warning', '--component-log-level', process.env.WASM_LOG_LEVEL ? `wasm:${process.env.WASM_LOG_LEVEL}` : 'wasm:info', ...extraArgs];
  // taskset execs Envoy, so the pid stays Envoy's.
  const proc = cpu === undefined
    ? spawn(ENVOY, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('taskset', ['-c', String(cpu), ENVOY, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const envoy = { proc, dir, file, adminPort, log: '', exited: null };
  proc.stdout.on('data', (d) => { envoy.log += d; });
  proc.stderr.on('data', (d) => { envoy.log += d; });
  const exited = new Promise((r) => proc.on('exit', (code) => { envoy.exited = code ?? -1; r(code); }));
  envoy.stop = async () => {
    if (envoy.exited === null) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  if (expectFailure) {
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout')]);
    return { ...envoy, code };
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (envoy.exited !== null) throw new Error(`envoy exited with ${envoy.exited}:\n${envoy.log}`);
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/ready`);
      if (r.status === 200) return envoy;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  await envoy.stop();
  throw new Error(`envoy did not become ready:\n${envoy.log}`);
}

/**
 * Mock provider + Envoy with the plugin configured by `pluginConfig` (after `filtersBefore`). With `lds: true` the listener
 * comes from a watched file, and `reload(pluginConfig)` replaces it without restarting Envoy.
 */
export async function startGateway(pluginConfig, { concurrency = 2, routeTimeoutMs = 30000, lds = false, filtersBefore = [] } = {}) {
  const mock = await startMockProvider(0);
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const makeListener = (cfg) => listener({ port: listenPort, routeTimeoutMs, filters: [...filtersBefore, wasmFilter({ wasmPath: WASM, pluginConfig: cfg })] });
  const config = bootstrap({ listenPort, adminPort, upstreamPort: mock.port, listeners: lds ? [] : [makeListener(pluginConfig)] });
  const ldsDir = lds ? tempDir() : null;
  const ldsFile = lds ? path.join(ldsDir, 'lds.json') : null;
  let version = 0;
  const writeLds = (cfg) => {
    version++;
    const doc = { version_info: String(version), resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...makeListener(cfg) }] };
    // Envoy watches for a file moved into place.
    fs.writeFileSync(`${ldsFile}.tmp`, JSON.stringify(doc));
    fs.renameSync(`${ldsFile}.tmp`, ldsFile);
  };
  if (lds) {
    writeLds(pluginConfig);
    config.node = { id: 'ai-token-failover-test', cluster: 'ai-token-failover-test' };
    config.dynamic_resources = { lds_config: { path_config_source: { path: ldsFile }, resource_api_version: 'V3' } };
  }
  let envoy;
  try {
    envoy = await startEnvoy({ config, adminPort, concurrency, extraArgs: ['--drain-time-s', '1'] });
    if (lds) await waitFor(async () => (await statValue(adminPort, 'listener_manager.lds.update_success')) >= 1, 20_000);
  } catch (e) {
    await envoy?.stop();
    await mock.close();
    throw e;
  }
  const gw = gatewayHandle({ mock, envoy, listenPort, adminPort, pluginConfig, clientPath: '/v1/chat/completions', tempDirs: ldsDir ? [ldsDir] : [] });
  gw.reload = async (cfg) => {
    for (const t of configuredTokens(cfg)) gw.secrets.add(t);
    const before = await statValue(adminPort, 'listener_manager.lds.update_success');
    writeLds(cfg);
    await waitFor(async () => (await statValue(adminPort, 'listener_manager.lds.update_success')) > before, 20_000);
  };
  return gw;
}

/**
 * What a test holds of a running gateway: its URLs, stats, and a stop() that ends Envoy and the
 * mock and checks that no configured token appears in Envoy's log or metrics, whatever the test did.
 */
export function gatewayHandle({ mock, envoy, listenPort, adminPort, pluginConfig, clientPath, tempDirs = [] }) {
  const base = `http://127.0.0.1:${listenPort}`;
  const secrets = new Set(configuredTokens(pluginConfig));
  const stats = async () => (await fetch(`http://127.0.0.1:${adminPort}/stats/prometheus`)).text();
  return {
    mock, envoy, base, adminPort, listenPort, secrets, stats,
    url: (p = clientPath) => `${base}${p}`,
    stop: async () => {
      const metrics = envoy.exited === null ? await stats().catch(() => '') : '';
      await envoy.stop();
      await mock.close();
      for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
      assertNoSecret(secrets, envoy.log, 'Envoy log');
      assertNoSecret(secrets, metrics, '/stats/prometheus');
    },
  };
}

/** Throws when any configured token appears in `text`. */
export function assertNoSecret(secrets, text, where) {
  for (const t of secrets) if (text.includes(t)) throw new Error(`a configured token appears in ${where}`);
}

/** One counter or gauge from Envoy's admin /stats. */
export async function statValue(adminPort, name) {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/stats?filter=^${name.replaceAll('.', '\\.')}$`)).text();
  const m = text.match(/: (\d+)/);
  return m ? Number(m[1]) : 0;
}

/** Polls `check` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}

/**
 * POSTs a chat completion through the gateway on a fresh connection (so a reloaded listener is
 * used at once); resolves { status, headers, body }.
 */
export function chat(gw, { token = 'client-key', headers = {}, body, timeoutMs = 15_000 } = {}) {
  const payload = body ?? { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(gw.url(), {
      method: 'POST', agent: false, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const answer = { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() };
        try { assertNoSecret(gw.secrets ?? [], answer.body + JSON.stringify(answer.headers), 'a response'); } catch (e) { reject(e); return; }
        resolve(answer);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Sets mock behaviours by token. */
export function setTokens(gw, behaviours) {
  for (const [t, b] of Object.entries(behaviours)) gw.mock.behaviours.set(t, b);
}

/** Runs `fn` with a gateway started from `cfg`, and stops it whatever happens. */
export async function withGateway(cfg, fn, options) {
  const gw = await startGateway(cfg, options);
  try { await fn(gw); } finally { await gw.stop(); }
}

/** Sends `total` chat requests, `parallel` at a time; resolves every answer. */
export async function burst(gw, total, parallel = 10) {
  const out = [];
  for (let i = 0; i < total; i += parallel) out.push(...await Promise.all(Array.from({ length: Math.min(parallel, total - i) }, () => chat(gw))));
  return out;
}
