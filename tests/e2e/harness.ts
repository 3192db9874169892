// Runs real Envoy processes (several worker threads, so several plugin VMs) in front of the mock
// provider, on free loopback ports, and stops everything afterwards.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, resolveEnvoy } from '../../scripts/envoy_bin.js';
import { bootstrap, configuredTokens, listener, wasmFilter, type EnvoyConfig, type PluginConfig } from '../../envoy/config.js';
import { startMockProvider, type BehaviourSpec, type MockProvider, type RecordedRequest } from '../../envoy/mock_provider.js';

export { configuredTokens };

export const WASM = path.join(ROOT, 'build/plugin.wasm');
export const ENVOY = resolveEnvoy({ quiet: true });

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address() as net.AddressInfo; srv.close(() => resolve(port)); });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'atf-e2e-'));
}

/** `envoy --mode validate` on a config file; returns { ok, output }. */
export function validateConfig(file: string): { ok: boolean; output: string } {
  const r = spawnSync(ENVOY, ['--mode', 'validate', '-c', file, '--disable-hot-restart', '-l', 'error'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export interface EnvoyOptions {
  config?: EnvoyConfig;
  configFile?: string;
  adminPort: number;
  concurrency?: number;
  extraArgs?: string[];
  /** Resolve once Envoy exits (with its code, or 'timeout') instead of waiting for /ready. */
  expectFailure?: boolean;
  cpu?: number;
}

/** A running (or exited) Envoy process and its log. */
export interface EnvoyProcess {
  proc: ChildProcess;
  dir: string;
  file: string;
  adminPort: number;
  log: string;
  exited: number | null;
  stop: () => Promise<void>;
  /** With expectFailure: the exit code, or 'timeout'. */
  code?: number | null | 'timeout';
}

/**
 * Starts Envoy with a bootstrap object or file; resolves once /ready answers, or rejects with its
 * log. `cpu` pins it to that core with taskset (the benchmark).
 */
export async function startEnvoy({ config, configFile, adminPort, concurrency = 2, extraArgs = [], expectFailure = false, cpu }: EnvoyOptions): Promise<EnvoyProcess> {
  const dir = tempDir();
  const file = configFile ?? path.join(dir, 'envoy.json');
  if (config) fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const args = ['-c', file, '--concurrency', String(concurrency), '--disable-hot-restart',
    '-l', 'warning', '--component-log-level', process.env.WASM_LOG_LEVEL ? `wasm:${process.env.WASM_LOG_LEVEL}` : 'wasm:info', ...extraArgs];
  // taskset execs Envoy, so the pid stays Envoy's.
  const proc = cpu === undefined
    ? spawn(ENVOY, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('taskset', ['-c', String(cpu), ENVOY, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const envoy: EnvoyProcess = { proc, dir, file, adminPort, log: '', exited: null, stop: async () => {} };
  proc.stdout.on('data', (d: Buffer) => { envoy.log += d; });
  proc.stderr.on('data', (d: Buffer) => { envoy.log += d; });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => { envoy.exited = code ?? -1; r(code); }));
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
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
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

export interface GatewayOptions {
  concurrency?: number;
  routeTimeoutMs?: number;
  lds?: boolean;
  filtersBefore?: EnvoyConfig[];
  /** The Wasm filter option (every shipped config sets it). */
  allowOnHeadersStopIteration?: boolean;
  /** The plugin's filter as a recipe builds it, instead of the default one. */
  pluginFilter?: (pluginConfig: PluginConfig) => EnvoyConfig;
}

/**
 * Mock provider + Envoy with the plugin configured by `pluginConfig` (after `filtersBefore`). With `lds: true` the listener
 * comes from a watched file, and `reload(pluginConfig)` replaces it without restarting Envoy.
 */
export async function startGateway(pluginConfig: PluginConfig, { concurrency = 2, routeTimeoutMs = 30000, lds = false, filtersBefore = [], allowOnHeadersStopIteration = true, pluginFilter }: GatewayOptions = {}): Promise<ReloadableGateway> {
  const mock = await startMockProvider(0);
  const [listenPort, adminPort] = [await freePort(), await freePort()];
  const plugin = pluginFilter ?? ((cfg: PluginConfig) => wasmFilter({ wasmPath: WASM, pluginConfig: cfg, allowOnHeadersStopIteration }));
  const makeListener = (cfg: PluginConfig) => listener({ port: listenPort, routeTimeoutMs, filters: [...filtersBefore, plugin(cfg)] });
  const config = bootstrap({ listenPort, adminPort, upstreamPort: mock.port, filters: [], listeners: lds ? [] : [makeListener(pluginConfig)] });
  const ldsDir = lds ? tempDir() : null;
  const ldsFile = ldsDir ? path.join(ldsDir, 'lds.json') : '';
  let version = 0;
  const writeLds = (cfg: PluginConfig) => {
    version++;
    const doc = { version_info: String(version), resources: [{ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...makeListener(cfg) }] };
    // Envoy watches for a file moved into place.
    fs.writeFileSync(`${ldsFile}.tmp`, JSON.stringify(doc));
    fs.renameSync(`${ldsFile}.tmp`, ldsFile);
  };
  // A node name: Envoy's file-based discovery (listeners, a recipe's ECDS filter) needs one.
  config.node = { id: 'ai-token-failover-test', cluster: 'ai-token-failover-test' };
  if (lds) {
    writeLds(pluginConfig);
    config.dynamic_resources = { lds_config: { path_config_source: { path: ldsFile }, resource_api_version: 'V3' } };
  }
  let envoy: EnvoyProcess | undefined;
  try {
    envoy = await startEnvoy({ config, adminPort, concurrency, extraArgs: ['--drain-time-s', '1'] });
    if (lds) await waitFor(async () => (await statValue(adminPort, 'listener_manager.lds.update_success')) >= 1, 20_000);
  } catch (e) {
    await envoy?.stop();
    await mock.close();
    throw e;
  }
  const gw = gatewayHandle({ mock, envoy, listenPort, adminPort, pluginConfig, clientPath: '/v1/chat/completions', tempDirs: ldsDir ? [ldsDir] : [] });
  const reload = async (cfg: PluginConfig) => {
    if (!lds) throw new Error('reload needs a gateway started with lds: true');
    for (const t of configuredTokens(cfg)) gw.secrets.add(t);
    const before = await statValue(adminPort, 'listener_manager.lds.update_success');
    writeLds(cfg);
    await waitFor(async () => (await statValue(adminPort, 'listener_manager.lds.update_success')) > before, 20_000);
  };
  return { ...gw, reload };
}

/**
 * What a test holds of a running gateway: its URLs, stats, and a stop() that ends Envoy and the
 * mock and checks that no configured token appears in Envoy's log or metrics, whatever the test did.
 */
export interface Gateway {
  mock: MockProvider;
  envoy: EnvoyProcess;
  base: string;
  adminPort: number;
  listenPort: number;
  /** Every configured token: none may appear in a response, Envoy's log or its metrics. */
  secrets: Set<string>;
  stats: () => Promise<string>;
  url: (path?: string) => string;
  stop: () => Promise<void>;
}

/** A gateway from startGateway: with lds, `reload` replaces the plugin configuration without restarting Envoy. */
export interface ReloadableGateway extends Gateway {
  reload: (cfg: PluginConfig) => Promise<void>;
}

export interface GatewayParts {
  mock: MockProvider;
  envoy: EnvoyProcess;
  listenPort: number;
  adminPort: number;
  pluginConfig: PluginConfig;
  clientPath: string;
  tempDirs?: string[];
}

/** The handle of a started mock and Envoy (startGateway's, and the provider-shaped gateway's). */
export function gatewayHandle({ mock, envoy, listenPort, adminPort, pluginConfig, clientPath, tempDirs = [] }: GatewayParts): Gateway {
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
export function assertNoSecret(secrets: Iterable<string>, text: string, where: string): void {
  for (const t of secrets) if (text.includes(t)) throw new Error(`a configured token appears in ${where}`);
}

/** One counter or gauge from Envoy's admin /stats. */
export async function statValue(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/stats?filter=^${name.replaceAll('.', '\\.')}$`)).text();
  const m = text.match(/: (\d+)/);
  return m ? Number(m[1]) : 0;
}

/** Polls `check` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return false;
}

export interface ChatOptions { token?: string; headers?: Record<string, string>; body?: unknown; timeoutMs?: number; method?: string; path?: string }
export interface ChatAnswer { status: number; headers: http.IncomingHttpHeaders; body: string }

/**
 * POSTs a chat completion through the gateway on a fresh connection (so a reloaded listener is
 * used at once); resolves { status, headers, body }.
 */
export function chat(gw: Pick<Gateway, 'url' | 'secrets'>, { token = 'client-key', headers = {}, body, timeoutMs = 15_000, method = 'POST', path }: ChatOptions = {}): Promise<ChatAnswer> {
  const payload = body ?? (method === 'GET' ? '' : { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(gw.url(path), {
      method, agent: false, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() };
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

/** Whether the mock received this request from the plugin's health check. */
export const isProbe = (r: RecordedRequest): boolean => r.headers['user-agent'] === 'ai-token-failover-probe';

/** An Envoy Lua filter running `source`: placed before the plugin, it plays ai-proxy's part. */
export function luaFilter(source: string): EnvoyConfig {
  return {
    name: 'envoy.filters.http.lua',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: source } },
  };
}
/** Lua that marks every answer passing back through it. */
export const MARKS_ANSWERS = 'function envoy_on_response(h) h:headers():add("x-translated-by", "lua") end';

/** What Envoy's log shows when the plugin's VM failed. */
export const TRAP = /panic|trap|unreachable|out of bounds|wasm log.*(critical|fatal)|Function: .* failed/i;

/**
 * One client that leaves while its retry is in flight: every key of `tokens` fails the route's
 * attempt at once, the retry (the next request the mock sees) is answered only after 1.5 s, and
 * the client gives up after 400 ms. Asserts the request was retried and the client got nothing.
 */
export async function leaveDuringRetry(gw: Gateway, tokens: string[], body?: unknown): Promise<void> {
  setTokens(gw, Object.fromEntries(tokens.map((t) => [t, '500'])));
  let seen = 0;
  const slowRetry = () => { if (++seen === 2) setTokens(gw, Object.fromEntries(tokens.map((t) => [t, { status: 200, delayMs: 1500 }]))); };
  gw.mock.server.prependListener('request', slowRetry);
  try {
    const left = await chat(gw, { body, timeoutMs: 400 }).then(() => false, () => true);
    assert.ok(left, 'the client got an answer before its retry did');
    assert.equal(seen, 2, 'the failed request was not retried');
  } finally {
    gw.mock.server.removeListener('request', slowRetry);
  }
}

/** Sets mock behaviours by token. */
export function setTokens(gw: Pick<Gateway, 'mock'>, behaviours: Record<string, BehaviourSpec>): void {
  for (const [t, b] of Object.entries(behaviours)) gw.mock.behaviours.set(t, b);
}

/** Runs `fn` with a gateway started from `cfg`, and stops it whatever happens. */
export async function withGateway(cfg: PluginConfig, fn: (gw: ReloadableGateway) => Promise<void>, options?: GatewayOptions): Promise<void> {
  const gw = await startGateway(cfg, options);
  try { await fn(gw); } finally { await gw.stop(); }
}

/** Sends `total` chat requests, `parallel` at a time; resolves every answer. */
export async function burst(gw: Pick<Gateway, 'url' | 'secrets'>, total: number, parallel = 10): Promise<ChatAnswer[]> {
  const out: ChatAnswer[] = [];
  for (let i = 0; i < total; i += parallel) out.push(...await Promise.all(Array.from({ length: Math.min(parallel, total - i) }, () => chat(gw))));
  return out;
}
