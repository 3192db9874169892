// What one host call of each kind the plugin makes on a successful request costs in Envoy: the
// empty filter beside variants making 20 calls of one kind per request (bench/call_filter.ts), in
// the benchmark's pinned Envoy, interleaved; (variant − empty) / 20 per call.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../scripts/envoy_bin.js';
import { median } from './stats.js';

/** The kinds, by the CALL_KIND the variant is built with. */
export const CALL_KINDS: Array<[number, string]> = [
  [1, 'proxy_get_header_map_pairs (request headers)'],
  [2, 'proxy_get_header_map_value (absent header)'],
  [3, 'proxy_replace_header_map_value'],
  [4, 'proxy_get_shared_data (absent key)'],
  [5, 'proxy_increment_metric'],
  [6, 'proxy_get_current_time_nanoseconds'],
];
export const CALLS_PER_REQUEST = 20;

export function buildCallFilters(): Map<number, string> {
  const out = new Map<number, string>();
  for (const [kind] of CALL_KINDS) {
    const file = path.join(ROOT, `build/call_filter_${kind}.wasm`);
    execFileSync('npx', ['--no-install', 'asc', 'bench/call_filter.ts', '--runtime', 'minimal', '--exportStart', '_initialize',
      '--use', 'abort=assembly/runtime/abort/abortHandler', '--use', `CALL_KIND=${kind}`, '-O3', '--shrinkLevel', '1', '--noAssert', '-o', file], { cwd: ROOT, stdio: 'inherit' });
    out.set(kind, file);
  }
  return out;
}

/** Markdown: µs per call of each kind from the Envoy CPU per request of each variant and of the empty filter. */
export function hostCallCostTable(cpu: (name: string) => number[], variantName: (kind: number) => string, emptyName: string): string {
  const empty = median(cpu(emptyName));
  const lines = ['| host call | Envoy CPU µs per call (median) |', '|---|---:|'];
  for (const [kind, label] of CALL_KINDS) lines.push(`| ${label} | ${((median(cpu(variantName(kind))) - empty) / CALLS_PER_REQUEST).toFixed(2)} |`);
  return lines.join('\n');
}
