// A host with its VMs, each given one plugin configuration, which it must accept.
import assert from 'node:assert/strict';
import type { PluginConfig } from '../../envoy/config.js';
import { Host, type Vm } from './emulator.js';

export function configuredVms(config: PluginConfig, count = 2): { host: Host; vms: Vm[] } {
  const host = new Host();
  const vms = Array.from({ length: count }, () => host.createVm());
  for (const vm of vms) assert.equal(vm.configure(config)[0], true, host.logs.map((l) => l.msg).join('\n'));
  return { host, vms };
}
