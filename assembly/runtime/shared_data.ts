// Process-wide shared data with compare-and-swap.
import { proxy_get_shared_data, proxy_set_shared_data } from "../abi/imports";
import { Status } from "../abi/enums";
import { SLOT_EXTRA, SLOT_PTR, SLOT_SIZE, clearSlots, ptrOf, takeHostBuffer, utf8 } from "./memory";

/** A value read from shared data with the CAS stamp to write it back against. */
export class SharedValue {
  constructor(public bytes: ArrayBuffer, public cas: u32) {}
}

/** Reads a key; null when it does not exist. */
export function getShared(key: string): SharedValue | null {
  const k = utf8(key);
  clearSlots();
  if (proxy_get_shared_data(ptrOf(k), k.byteLength, SLOT_PTR, SLOT_SIZE, SLOT_EXTRA) != Status.Ok) return null;
  const cas = load<u32>(SLOT_EXTRA);
  return new SharedValue(takeHostBuffer(), cas);
}

/** Writes a key if its CAS still equals `cas` (0 writes unconditionally); returns the host status. */
export function setShared(key: string, value: ArrayBuffer, cas: u32): Status {
  const k = utf8(key);
  return <Status>proxy_set_shared_data(ptrOf(k), k.byteLength, ptrOf(value), value.byteLength, cas);
}
