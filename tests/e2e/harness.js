// Runs real Envoy processes (several worker threads, so several plugin VMs) in front of the mock
// provider, on free loopback ports, and stops everything afterwards.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, resolveEnvoy } from '../../scripts/envoy_bin.js';
import { bootstrap, wasmFilter } from '../../envoy/config.js';
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

/** Starts Envoy with a bootstrap object or file; resolves once /ready answers, or rejects with its log. */
export async function startEnvoy({ config, configFile, adminPort, concurrency = 2, extraArgs = [], expectFailure = false }) {
  const dir = tempDir();
  const file = configFile ?? path.join(dir, 'envoy.json');
  if (config) fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const proc = spawn(ENVOY, ['-c', file, '--concurrency', String(concurrency), '--disable-hot-restart',
    '-l', 'warning', '--component-log-level', 'wasm:info', ...extraArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Mock provider + Envoy with the plugin configured by `pluginConfig`. */
export async function startGateway(pluginConfig, { concurrency = 2, routeTimeoutMs } = {}) {
  const mock = await startMockProvider(0);
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const config = bootstrap({ listenPort, adminPort, upstreamPort: mock.port, filters: [wasmFilter({ wasmPath: WASM, pluginConfig })] });
  if (routeTimeoutMs) config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.timeout = `${routeTimeoutMs / 1000}s`;
  let envoy;
  try {
    envoy = await startEnvoy({ config, adminPort, concurrency });
  } catch (e) {
    await mock.close();
    throw e;
  }
  const base = `http://127.0.0.1:${listenPort}`;
  return {
    mock, envoy, base, adminPort,
    url: (p = '/v1/chat/completions') => `${base}${p}`,
    stats: async () => (await fetch(`http://127.0.0.1:${adminPort}/stats/prometheus`)).text(),
    stop: async () => { await envoy.stop(); await mock.close(); },
  };
}

/** POSTs a chat completion through the gateway; resolves { status, headers, body }. */
export async function chat(gw, { token = 'client-key', headers = {}, body, timeoutMs = 15_000 } = {}) {
  const payload = body ?? { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  const r = await fetch(gw.url(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

/** Sets mock behaviours by token. */
export function setTokens(gw, behaviours) {
  for (const [t, b] of Object.entries(behaviours)) gw.mock.behaviours.set(t, b);
}
