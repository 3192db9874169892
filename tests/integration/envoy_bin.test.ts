// Finding Envoy: without a usable one the commands stop with one line that says what to do.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';

function run(script: string, envoyBin: string): { code: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, script)], { cwd: ROOT, env: { ...process.env, ENVOY_BIN: envoyBin }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, lines: r.stderr.trim().split('\n').filter(Boolean) };
}

function fakeEnvoy(dir: string, versionLine: string, validates: boolean): string {
  const file = path.join(dir, 'envoy');
  fs.writeFileSync(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "envoy  version: ${versionLine}"; exit 0; fi\nexit ${validates ? 0 : 1}\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

test('a missing ENVOY_BIN stops npm start\'s demo and the check with one line and a non-zero exit', () => {
  for (const script of ['scripts/demo.ts', 'scripts/envoy_bin.ts']) {
    const r = run(script, '/nonexistent/envoy');
    assert.equal(r.code, 1);
    assert.equal(r.lines.length, 1, r.lines.join('\n'));
    assert.match(r.lines[0], /^ai-token-failover: ENVOY_BIN=\/nonexistent\/envoy does not exist: set ENVOY_BIN to an Envoy >= 1\.35/);
  }
});

test('an Envoy older than 1.35, or one that cannot load a Wasm filter, is refused naming the version found', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atf-fake-envoy-'));
  try {
    const old = run('scripts/envoy_bin.ts', fakeEnvoy(dir, 'abc123/1.30.2/Clean/RELEASE/BoringSSL', true));
    assert.equal(old.code, 1);
    assert.match(old.lines[0], /is Envoy 1\.30\.2, older than 1\.35/);
    const noWasm = run('scripts/envoy_bin.ts', fakeEnvoy(dir, 'abc123/1.40.0/Clean/RELEASE/BoringSSL', false));
    assert.equal(noWasm.code, 1);
    assert.match(noWasm.lines[0], /is Envoy 1\.40\.0 but cannot load a V8 Wasm filter/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
