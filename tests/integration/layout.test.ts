// `npm run check:layout` passes on the tree and fails on a copy with a planted folder loop.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';

function checkLayout(source?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/check_layout.ts')],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...(source ? { LAYOUT_SOURCE: source } : {}) } });
  return { status: r.status, output: r.stdout + r.stderr };
}

test('the tree keeps its layout; a folder loop planted in a copy is refused, naming the imports that close it', () => {
  assert.equal(checkLayout().status, 0, checkLayout().output);
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-'));
  try {
    fs.cpSync(path.join(ROOT, 'assembly'), copy, { recursive: true });
    // The queue reaching up to the dashboard, which sits above it: no file circle, but a folder loop.
    fs.appendFileSync(path.join(copy, 'plugin/queue/queue_metrics.ts'), 'export { wantsPage } from "../view/dashboard";\n');
    const planted = checkLayout(copy);
    assert.equal(planted.status, 1);
    assert.doesNotMatch(planted.output, /import circle/);
    assert.match(planted.output, /folder loop: (queue -> view -> queue|view -> queue -> view) \(.*plugin\/queue\/queue_metrics\.ts imports plugin\/view\/dashboard\.ts/);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});
