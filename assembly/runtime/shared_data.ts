// Process-wide shared data with compare-and-swap. Keys are passed UTF-8 encoded (encode them once).
import { proxy_get_shared_data, proxy_set_shared_data } from "../abi/imports";
import { Status } from "../abi/enums";
import { SLOT_EXTRA, SLOT_PTR, SLOT_SIZE, clearSlots, ptrOf, takeHostBuffer } from "./memory";

/** CAS stamp of the value the last successful getShared returned. */
export let lastCas: u32 = 0;

/** Reads a key; null when it does not exist (then lastCas is 0). */
export function getShared(key: ArrayBuffer): ArrayBuffer | null {
  clearSlots();
  lastCas = 0;
  if (proxy_get_shared_data(ptrOf(key), key.byteLength, SLOT_PTR, SLOT_SIZE, SLOT_EXTRA) != Status.Ok) return null;
  lastCas = load<u32>(SLOT_EXTRA);
  return takeHostBuffer();
}

/** Writes a key if its CAS still equals `cas` (0 writes unconditionally); returns the host status. */
export function setShared(key: ArrayBuffer, value: ArrayBuffer, cas: u32): Status {
  return <Status>proxy_set_shared_data(ptrOf(key), key.byteLength, ptrOf(value), value.byteLength, cas);
}
