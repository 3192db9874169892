// Checks the module layout of assembly/ (run by `npm test`; exits 1 naming each breach):
// - no import circle;
// - abi/ (the raw ABI) imports only abi/, util/ only util/, and runtime/ only abi/, runtime/ and util/;
// - plugin/pool/ (the pool's state and storage) imports nothing from plugin/keys/ or plugin/http/;
// - the folders of plugin/ (and plugin.ts itself, as "plugin") import each other without a loop;
// - a module whose opening comment says "Pure" imports nothing from runtime/, directly or through
//   the modules it imports;
// - no file over 300 lines, no class over 200.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './envoy_bin.js';

// LAYOUT_SOURCE checks another copy of the tree (the layout test plants breaches in one).
const SOURCE = process.env.LAYOUT_SOURCE ?? path.join(ROOT, 'assembly');
const MAX_FILE_LINES = 300;
const MAX_CLASS_LINES = 200;

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? modules(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The modules of assembly/ that `text` (the source of `file`) imports (relative imports only). */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)) out.push(path.resolve(path.dirname(file), `${m[1]}.ts`));
  return out;
}

/** An import circle as a list of files (first = last), or null. */
export function findCircle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    if (state.get(f) === 'done') return null;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      const circle = visit(g);
      if (circle) return circle;
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    const circle = visit(f);
    if (circle) return circle;
  }
  return null;
}

/** Whether the module's opening comment (the lines before its first import or declaration) says it is pure. */
function declaresPure(text: string): boolean {
  const head: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('//')) break;
    head.push(line);
  }
  return /\bPure\b/.test(head.join(' '));
}

/** Each class's name and length in lines (from `class` to the closing brace at column 0). */
function classLengths(text: string): Array<[string, number]> {
  const lines = text.split('\n');
  const out: Array<[string, number]> = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(?:export\s+)?(?:abstract\s+)?class\s+(\w+)/.exec(lines[i]);
    if (!m) continue;
    let end = i;
    while (end < lines.length && lines[end] !== '}') end++;
    out.push([m[1], end - i + 1]);
  }
  return out;
}

const rel = (f: string): string => path.relative(SOURCE, f);
const under = (f: string, dir: string): boolean => rel(f).startsWith(dir + '/');
const files = modules(SOURCE);
const texts = new Map(files.map((f) => [f, fs.readFileSync(f, 'utf8')]));
const graph = new Map(files.map((f) => [f, importsOf(f, texts.get(f) ?? '')]));
const breaches: string[] = [];

const circle = findCircle(graph);
if (circle) breaches.push(`import circle: ${circle.map(rel).join(' -> ')}`);

for (const [f, imports] of graph) {
  for (const g of imports) {
    if (under(f, 'util') && !under(g, 'util')) breaches.push(`${rel(f)} (util) imports ${rel(g)}`);
    if (under(f, 'abi') && !under(g, 'abi')) breaches.push(`${rel(f)} (abi) imports ${rel(g)}`);
    if (under(f, 'runtime') && !['abi', 'runtime', 'util'].some((d) => under(g, d))) breaches.push(`${rel(f)} (runtime) imports ${rel(g)}`);
    if (under(f, 'plugin/pool') && (under(g, 'plugin/keys') || under(g, 'plugin/http'))) breaches.push(`${rel(f)} (pool) imports ${rel(g)}`);
  }
}

// The folders of plugin/ form layers: no folder reaches itself through the others.
const PLUGIN = path.join(SOURCE, 'plugin');
const folderOf = (f: string): string | null => {
  const r = path.relative(PLUGIN, f);
  if (r.startsWith('..')) return null;
  return r.includes(path.sep) ? r.split(path.sep)[0] : 'plugin';
};
const folders = new Map<string, string[]>();
const why = new Map<string, string>();
for (const [f, imports] of graph) {
  const from = folderOf(f);
  if (from === null) continue;
  for (const g of imports) {
    const to = folderOf(g);
    if (to === null || to === from) continue;
    const edges = folders.get(from) ?? [];
    if (!edges.includes(to)) edges.push(to);
    folders.set(from, edges);
    if (!why.has(`${from}>${to}`)) why.set(`${from}>${to}`, `${rel(f)} imports ${rel(g)}`);
  }
}
const folderLoop = findCircle(folders);
if (folderLoop) {
  const steps = folderLoop.slice(1).map((to, k) => why.get(`${folderLoop[k]}>${to}`));
  breaches.push(`folder loop: ${folderLoop.join(' -> ')} (${steps.join('; ')})`);
}

// A pure module reaches runtime/ through none of its imports.
const reachesRuntime = (f: string, seen = new Set<string>()): string | null => {
  for (const g of graph.get(f) ?? []) {
    if (under(g, 'runtime')) return g;
    if (seen.has(g)) continue;
    seen.add(g);
    const via = reachesRuntime(g, seen);
    if (via) return via;
  }
  return null;
};
for (const f of files) {
  if (!declaresPure(texts.get(f) ?? '')) continue;
  const via = reachesRuntime(f);
  if (via) breaches.push(`${rel(f)} says it is pure but reaches ${rel(via)}`);
}

for (const [f, text] of texts) {
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_FILE_LINES) breaches.push(`${rel(f)}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  for (const [name, length] of classLengths(text)) {
    if (length > MAX_CLASS_LINES) breaches.push(`${rel(f)}: class ${name} is ${length} lines (at most ${MAX_CLASS_LINES})`);
  }
}

if (breaches.length > 0) {
  for (const b of breaches) console.error(`layout: ${b}`);
  process.exit(1);
}
console.log(`assembly/: ${files.length} modules; no import circle, folder rules kept, no file over ${MAX_FILE_LINES} lines, no class over ${MAX_CLASS_LINES}`);
