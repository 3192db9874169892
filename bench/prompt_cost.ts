// The plugin's own cost per retried request as the prompt grows (16 KiB, 256 KiB, 1 MiB bodies
// full of escapes), measured in the emulator as time spent inside the module's callbacks. Linear
// parsing shows as a cost per KiB that stays flat across sizes.
import { Host } from '../tests/host/emulator.js';
import { roundTrip, type Upstream } from '../tests/host/gateway.js';
import { escapeHeavyBody } from '../tests/host/prompts.js';

/** One prompt size: µs of module time per retried request (median, min, max) and per KiB. */
export interface PromptCostRow { kib: number; us: number; min: number; max: number; perKiB: number }

const CONFIG = {
  provider: {
    apiTokens: ['sk-p-1', 'sk-p-2', 'sk-p-3', 'sk-p-4'],
    retryOnFailure: { enabled: true, maxRetries: 1 },
  },
};
/** Microseconds of module time per retried request for each body size (median of `rounds`). */
export function promptCost(sizesKiB = [16, 256, 1024], requests = 40, rounds = 5, wasmPath?: string): PromptCostRow[] {
  const rows: PromptCostRow[] = [];
  for (const kib of sizesKiB) {
    const body = escapeHeavyBody(kib * 1024);
    const samples: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const host = new Host(wasmPath ? { wasmPath } : {});
      const vm = host.createVm();
      vm.configure(CONFIG);
      // Every first attempt fails with 503 and is retried once with another key.
      const upstream: Upstream = ({ call }) => (call ? { status: 200, body: '{"choices":[]}' } : { status: 503, body: '{"error":"busy"}' });
      roundTrip(vm, upstream, { body });
      vm.busyNs = 0n;
      for (let i = 0; i < requests; i++) {
        const out = roundTrip(vm, upstream, { body });
        if (out.client.status !== 200 || out.retries === 0) throw new Error(`a ${kib} KiB request was not retried`);
      }
      samples.push(Number(vm.busyNs) / requests / 1000);
    }
    samples.sort((a, b) => a - b);
    const us = samples[Math.floor(samples.length / 2)];
    rows.push({ kib, us, min: samples[0], max: samples[samples.length - 1], perKiB: us / kib });
  }
  return rows;
}

/** Markdown table of promptCost(). */
export function promptCostTable(rows: PromptCostRow[] = promptCost()): string {
  const lines = ['| request body | module µs per retried request (median, min–max of 5) | µs per KiB |', '|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.kib} KiB | ${r.us.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)}) | ${r.perKiB.toFixed(2)} |`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(promptCostTable());
