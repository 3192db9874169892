// Where the plugin's Envoy CPU goes, by profile rather than by whole-process time: `perf record
// -e cpu-clock -F 999 -g` on the Envoy under test while the load runs, each sample put in a bucket
// by its stack:
// - Wasm code: the sample is in V8's generated code (the module, its wrappers, and the nested
//   proxy_on_memory_allocate a host call makes), told by the anonymous executable mappings of
//   /proc/<pid>/maps, so it works on the stripped release binary;
// - host calls from Wasm: the sample is in Envoy's own code with a generated-code frame on the
//   stack (the C-API glue and Envoy's work for proxy_get_header_map_pairs and the like);
// - the rest of Envoy, including entering the callbacks (not attributed here).
// Sampling stays at 999 Hz: faster sampling with call graphs costs enough per sample to inflate
// every bucket. Run alone: `node --import tsx bench/profile.ts` (PROFILE_ROUNDS 5, PROFILE_SECONDS 4;
// BENCH_QUICK=1: 2 rounds of 1 s).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { wasmFilter } from '../envoy/config.js';
import { sleep } from '../tests/e2e/harness.js';
import { EMPTY, PLUGIN, buildEmptyFilter, pluginConfig, setupEnvoy, startUpstream, upstreamConfig, type Setup } from './bench_envoy.js';
import { diffLine, spread } from './stats.js';

const HZ = 999;
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? (QUICK ? 2 : 5));
const SECONDS = Number(process.env.PROFILE_SECONDS ?? (QUICK ? 1 : 4));

const SETUPS: Setup[] = [
  { name: 'empty filter', filters: [wasmFilter({ wasmPath: EMPTY, pluginConfig: '{}', vmId: 'empty' })] },
  { name: 'plugin, retry on', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig() })] },
  { name: 'plugin, retry off', filters: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: pluginConfig({ retry: false }) })] },
  { name: 'empty filter, upstream', filters: [], upstream: [wasmFilter({ wasmPath: EMPTY, pluginConfig: '{}', vmId: 'empty' })] },
  { name: 'plugin, upstream', filters: [], upstream: [wasmFilter({ wasmPath: PLUGIN, pluginConfig: upstreamConfig() })] },
];
const DIFFERENCES: Array<[string, string, string]> = [
  ['plugin retry on − empty filter', 'plugin, retry on', 'empty filter'],
  ['plugin retry off − empty filter', 'plugin, retry off', 'empty filter'],
  ['plugin upstream − empty filter upstream', 'plugin, upstream', 'empty filter, upstream'],
];

/** µs of CPU per request in each bucket, for one round of one setup. */
interface Profile { wasm: number; host: number }

/** Why the profile cannot run here (null: it can). */
export function perfMissing(): string | null {
  const r = spawnSync('perf', ['record', '-e', 'cpu-clock', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
  return r.error ? 'perf is not installed (Debian linux-perf)' : r.status !== 0 ? 'perf record is not permitted here' : null;
}

// The anonymous executable mappings of `pid`: where V8 puts the code it generates.
function generatedCode(pid: number): Array<[bigint, bigint]> {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')
    .filter((l) => /^\S+ ..x. /.test(l) && l.trim().split(/\s+/).length === 5)
    .map((l) => l.split(' ')[0].split('-').map((h) => BigInt(`0x${h}`)) as [bigint, bigint]);
}

function bucket(script: string, ranges: Array<[bigint, bigint]>, requests: number): Profile {
  const generated = (a: bigint) => ranges.some(([lo, hi]) => a >= lo && a < hi);
  let wasm = 0, host = 0;
  for (const sample of script.split('\n\n')) {
    const ips = sample.split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]+$/.test(l)).map((l) => BigInt(`0x${l}`));
    if (ips.length === 0) continue;
    if (generated(ips[0])) wasm++;
    else if (ips.some(generated)) host++;
  }
  const us = (n: number) => (n / HZ) * 1e6 / Math.max(1, requests);
  return { wasm: us(wasm), host: us(host) };
}

async function profileOnce(setup: Setup, upstreamPort: number): Promise<Profile> {
  const { envoy, load } = await setupEnvoy(setup, upstreamPort);
  const data = `/tmp/ai-token-failover-profile-${process.pid}.data`;
  try {
    await load(1); // warm-up, discarded
    const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', String(HZ), '-g', '-p', String(envoy.proc.pid), '-o', data], { stdio: 'ignore' });
    await sleep(300);
    const r = await load(SECONDS);
    const ranges = generatedCode(envoy.proc.pid!);
    perf.kill('SIGINT');
    await new Promise((res) => perf.once('exit', res));
    const script = execFileSync('perf', ['script', '-i', data, '-F', 'ip'], { maxBuffer: 1 << 30, encoding: 'utf8' });
    return bucket(script, ranges, r.requests.total);
  } finally {
    await envoy.stop();
    fs.rmSync(data, { force: true });
  }
}

/** The table: per setup the buckets' medians (min–max), and plugin − empty with 95% bootstrap intervals. */
export async function profileTable(): Promise<string> {
  const missing = perfMissing();
  if (missing) return `(profile skipped: ${missing})`;
  const upstream = await startUpstream();
  const results: Record<string, Profile[]> = Object.fromEntries(SETUPS.map((s) => [s.name, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of round % 2 ? SETUPS : [...SETUPS].reverse()) {
        const p = await profileOnce(setup, upstream.port);
        results[setup.name].push(p);
        console.error(`  profile round ${round} ${setup.name}: Wasm code ${p.wasm.toFixed(1)} µs, host calls ${p.host.toFixed(1)} µs per request`);
      }
    }
  } finally {
    await upstream.envoy.stop();
  }
  const total = (name: string) => results[name].map((p) => p.wasm + p.host);
  const out = ['| setup | Wasm code µs/request | host calls from Wasm µs/request | Wasm-attributable µs/request |', '|---|---:|---:|---:|'];
  for (const s of SETUPS) {
    const ps = results[s.name];
    out.push(`| ${s.name} | ${spread(ps.map((p) => p.wasm))} | ${spread(ps.map((p) => p.host))} | ${spread(total(s.name))} |`);
  }
  out.push('', '| difference: Wasm-attributable CPU per request | median | 95% interval | |', '|---|---:|---|---|');
  for (const [label, a, b] of DIFFERENCES) out.push(diffLine(label, total(a), total(b), 'µs'));
  out.push('', `(${ROUNDS} interleaved rounds × ${SECONDS} s per setup after a 1 s warm-up; perf at ${HZ} Hz with call graphs; medians (min–max))`);
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildEmptyFilter();
  execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(await profileTable());
}
