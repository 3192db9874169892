// The README and docs/ hold together: every relative link reaches a file of the repository, and
// every #anchor a heading of its page (GitHub's heading ids).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../scripts/envoy_bin.js';

const PAGES = ['README.md', 'BENCHMARKS.md', 'CHANGELOG.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The page's text outside fenced code blocks. */
function prose(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8').split(/^```.*$/m).filter((_, i) => i % 2 === 0).join('\n');
}

/** GitHub's id of a heading: lower case, punctuation other than - and _ dropped, spaces as -. */
const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replaceAll(' ', '-');
const anchors = (file: string): Set<string> => new Set([...prose(file).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));

test('every relative link of the README and docs/ reaches a file, and every anchor a heading', () => {
  let checked = 0;
  for (const page of PAGES) {
    for (const [, target] of prose(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split('#');
      const resolved = file ? path.normalize(path.join(path.dirname(page), file)) : page;
      assert.ok(fs.existsSync(path.join(ROOT, resolved)), `${page}: ${target} reaches no file`);
      if (anchor) assert.ok(anchors(resolved).has(anchor), `${page}: ${target} names no heading of ${resolved}`);
      checked++;
    }
  }
  assert.ok(checked > 40, `only ${checked} links checked`);
});

test('the README stays an entry point: the two commands first, under 150 lines', () => {
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  assert.ok(lines.length < 150, `${lines.length} lines`);
  const commands = lines.slice(0, 10).filter((l) => l.startsWith('npm '));
  assert.deepEqual(commands.map((l) => l.split('#')[0].trim()), ['npm ci && npm start', 'npm ci && npm test']);
});
