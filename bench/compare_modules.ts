// Compares two builds of the plugin module only: `node --import tsx bench/compare_modules.ts
// BEFORE.wasm AFTER.wasm`. Both run every module-only scenario with its configuration, in the same
// emulator, interleaved (A B, then B A); printed per scenario: the median ns per request of each
// and the median of the paired ratios (AFTER ÷ BEFORE within each repetition, so drift of the
// machine cancels out). Used to check that a change of structure costs nothing per request.
import { SCENARIOS, interleaved, measure, vmFor } from './module_cost.js';
import { median } from './stats.js';

const [before, after] = process.argv.slice(2);
if (!before || !after) {
  console.error('usage: node --import tsx bench/compare_modules.ts BEFORE.wasm AFTER.wasm');
  process.exit(2);
}
const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 31);
const REQUESTS = 2000;

console.log('| scenario | before ns/request | after ns/request | after ÷ before (paired median) |');
console.log('|---|---:|---:|---:|');
for (const sc of SCENARIOS) {
  const was = vmFor(before, sc.config);
  const now = vmFor(after, sc.config);
  measure(was, sc.send, REQUESTS);
  measure(now, sc.send, REQUESTS);
  const [a, b] = interleaved(was, now, sc.send, REQUESTS, REPETITIONS);
  const ratios = b.map((v, i) => v / a[i]);
  console.log(`| ${sc.name} | ${Math.round(median(a))} | ${Math.round(median(b))} | ${median(ratios).toFixed(3)} |`);
}
