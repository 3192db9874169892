// Gateway replicas sharing one pool through Redis (the Higress build): two emulated gateway
// processes (separate shared data, two VMs each) and Debian's redis-server on a free port.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import path from 'node:path';
import { Host, type Vm, DEFAULT_WASM } from '../host/emulator.js';
import { roundTrip, type Upstream } from '../host/gateway.js';
import { RedisServer } from '../host/redis_server.js';
import type { PluginConfig } from '../../envoy/config.js';

const HIGRESS_WASM = path.join(path.dirname(DEFAULT_WASM), 'plugin.higress.wasm');
const CLUSTER = 'outbound|6379||redis.dns';
const KEYS = ['sk-r1', 'sk-r2', 'sk-r3', 'sk-r4'];
let redis: RedisServer;
let prefixes = 0;

before(async () => { redis = await RedisServer.start(); });
after(async () => { await redis.stop(); });

interface Gateway { host: Host; vms: Vm[] }

function config(extra: Record<string, unknown> = {}, provider: Record<string, unknown> = {}): PluginConfig {
  return {
    provider: {
      type: 'openai', apiTokens: KEYS,
      failover: { enabled: true, failureThreshold: 2, healthCheckInterval: 1000, healthCheckModel: 'm' },
      retryOnFailure: { enabled: true, maxRetries: 2 },
      ...provider,
    },
    redis: { serviceName: 'redis.dns', syncInterval: 1000, timeout: 300, keyPrefix: `t${prefixes}:` },
    ...extra,
  };
}

/** Two gateway processes on one clock, both configured with `cfg`. */
function twoGateways(cfg: PluginConfig): [Gateway, Gateway] {
  prefixes++;
  const make = (name: string): Gateway => {
    const host = new Host({ wasmPath: HIGRESS_WASM });
    host.redis.services.set(CLUSTER, { port: redis.port });
    const vms = [host.createVm(`${name}0`), host.createVm(`${name}1`)];
    for (const vm of vms) assert.equal(vm.configure(cfg)[0], true, JSON.stringify(host.logs));
    return { host, vms };
  };
  return [make('a'), make('b')];
}

/** Moves both processes' clocks together, letting Redis answer at every step. */
async function elapse(gateways: Gateway[], ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    for (const g of gateways) await g.host.settleRedis();
    for (const g of gateways) g.host.advance(Math.min(step, ms - t));
  }
  for (const g of gateways) await g.host.settleRedis();
}

const logged = (g: Gateway, part: string) => g.host.logs.filter((l) => l.msg.includes(part));
const ok: Upstream = () => ({ status: 200, body: '{"choices":[]}' });

test('the standard build refuses redis with one line; the Higress build refuses an unknown cluster', () => {
  const standard = new Host();
  const vm = standard.createVm();
  assert.equal(vm.configure(config())[0], false);
  const lines = standard.logs.filter((l) => l.level >= 4);
  assert.equal(lines.length, 1);
  assert.match(lines[0].msg, /redis needs the Higress build \(plugin\.higress\.wasm\)/);

  const higress = new Host({ wasmPath: HIGRESS_WASM });
  const hvm = higress.createVm();
  assert.equal(hvm.configure(config())[0], false);
  assert.match(higress.logs.map((l) => l.msg).join('\n'), /redis\.serviceName: the gateway has no cluster outbound\|6379\|\|redis\.dns/);
  // Without redis the Higress build behaves as the standard one.
  assert.equal(higress.createVm().configure({ provider: { apiTokens: KEYS } })[0], true);
});

test('a key taken out in one process is out in the other within one sync interval', async () => {
  const [a, b] = twoGateways(config());
  await elapse([a, b], 3000);
  const dead: Upstream = (r) => (r.token === 'sk-r1' ? { status: 401, body: '{}' } : { status: 200, body: '{"choices":[]}' });
  for (let i = 0; i < 40 && logged(a, 'taken out of the pool').length == 0; i++) {
    assert.equal(roundTrip(a.vms[i % 2], dead).client.status, 200);
  }
  assert.equal(logged(a, 'taken out of the pool').length, 1);
  let waited = 0;
  while (logged(b, 'another replica took it out').length == 0 && waited <= 1000) { await elapse([a, b], 50); waited += 50; }
  assert.ok(waited <= 1000, `seen in the other process after ${waited} ms`);
  for (let i = 0; i < 40; i++) assert.notEqual(roundTrip(b.vms[i % 2], ok).token, 'sk-r1');
});
