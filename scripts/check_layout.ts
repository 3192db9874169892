// Checks the module layout of assembly/: no import circle (a module can be read after the ones it
// imports). Run by `npm test`; exits 1 naming the circle.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './envoy_bin.js';

const SOURCE = path.join(ROOT, 'assembly');

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? modules(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The modules of assembly/ that `file` imports (relative imports only). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
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

const graph = new Map(modules(SOURCE).map((f) => [f, importsOf(f)]));
const circle = findCircle(graph);
if (circle) {
  console.error(`import circle in assembly/: ${circle.map((f) => path.relative(SOURCE, f)).join(' -> ')}`);
  process.exit(1);
}
console.log(`assembly/: ${graph.size} modules, no import circle`);
