// The Prometheus names of the metrics an emulated Envoy has defined, as the shipped stats_tags
// rules name them (the token and pool parts become labels).
import type { Host } from './emulator.js';

export function series(host: Host): Set<string> {
  const out = new Set<string>();
  for (const name of host.metrics.keys()) {
    const m = name.match(/^ai_token_failover\.(?:token\.#\d+:[0-9a-f]+|pool\.[^.]+)\.(.+)$/);
    if (!m) throw new Error(`unexpected metric name ${name}`);
    out.add(`ai_token_failover_${name.includes('.token.') ? 'token_' : ''}${m[1].replaceAll('.', '_')}`);
  }
  return out;
}
