// The VM's environment variables (WASI environ_get). Envoy gives a VM only those its
// vm_config.environment_variables names: host_env_keys (copied from Envoy's own environment) and
// key_values.
import { wasi_environ_get, wasi_environ_sizes_get } from "../abi/imports";
import { SLOT_PTR, SLOT_SIZE } from "./memory";

/** The value of variable `name`, or null when the VM's environment does not have it. */
export function environmentVariable(name: string): string | null {
  store<u32>(SLOT_PTR, 0);
  store<u32>(SLOT_SIZE, 0);
  if (wasi_environ_sizes_get(SLOT_PTR, SLOT_SIZE) != 0) return null;
  const count = load<u32>(SLOT_PTR);
  const size = load<u32>(SLOT_SIZE);
  if (count == 0 || size == 0) return null;
  const pointers = new ArrayBuffer(<i32>count * 4);
  const bytes = new ArrayBuffer(<i32>size);
  if (wasi_environ_get(changetype<usize>(pointers), changetype<usize>(bytes)) != 0) return null;
  const wanted = name + "=";
  const end = changetype<usize>(bytes) + <usize>size;
  for (let i: u32 = 0; i < count; i++) {
    // Each entry is NAME=VALUE, NUL-terminated, inside `bytes`.
    const at = <usize>load<u32>(changetype<usize>(pointers) + <usize>i * 4);
    if (at < changetype<usize>(bytes) || at >= end) continue;
    let stop = at;
    while (stop < end && load<u8>(stop) != 0) stop++;
    const entry = String.UTF8.decodeUnsafe(at, stop - at, false);
    if (entry.startsWith(wanted)) return entry.substring(wanted.length);
  }
  return null;
}
