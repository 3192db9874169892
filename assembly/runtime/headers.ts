// HTTP header maps: typed access to one header, and whole maps in the ABI's serialized form.
import {
  proxy_get_header_map_pairs, proxy_get_header_map_value, proxy_remove_header_map_value,
  proxy_replace_header_map_value, proxy_set_header_map_pairs,
} from "../abi/imports";
import { MapType, Status } from "../abi/enums";
import { HeaderList } from "../util/header_list";
import { SLOT_PTR, SLOT_SIZE, clearSlots, ptrOf, takeHostBuffer, takeHostDecimal, takeHostString, utf8 } from "./memory";


/** One header value of a map, or null when absent. */
export function getHeader(map: MapType, name: string): string | null {
  const key = utf8(name);
  clearSlots();
  if (proxy_get_header_map_value(map, ptrOf(key), key.byteLength, SLOT_PTR, SLOT_SIZE) != Status.Ok) return null;
  if (load<usize>(SLOT_PTR) == 0) return null;
  return takeHostString();
}

/** A header's value as a decimal number (such as `:status`), -1 when absent or not a number. */
export function getHeaderDecimal(map: MapType, name: ArrayBuffer): i32 {
  clearSlots();
  if (proxy_get_header_map_value(map, ptrOf(name), name.byteLength, SLOT_PTR, SLOT_SIZE) != Status.Ok) return -1;
  return takeHostDecimal();
}

/** Sets a header from pre-encoded UTF-8 name and value (no per-call encoding). */
export function replaceHeaderBytes(map: MapType, name: ArrayBuffer, value: ArrayBuffer): bool {
  return proxy_replace_header_map_value(map, ptrOf(name), name.byteLength, ptrOf(value), value.byteLength) == Status.Ok;
}

/** Removes every value of a header given as UTF-8 bytes. */
export function removeHeaderBytes(map: MapType, name: ArrayBuffer): void {
  proxy_remove_header_map_value(map, ptrOf(name), name.byteLength);
}

/** The whole map in serialized form (cheap to keep; parse with HeaderList.parse when needed). */
export function getHeaderPairsRaw(map: MapType): ArrayBuffer {
  clearSlots();
  if (proxy_get_header_map_pairs(map, SLOT_PTR, SLOT_SIZE) != Status.Ok) return new ArrayBuffer(0);
  return takeHostBuffer();
}

/** The whole map as a list. */
export function getHeaderPairs(map: MapType): HeaderList {
  return HeaderList.parse(getHeaderPairsRaw(map));
}

/** Replaces a whole map with `headers`. */
export function setHeaderPairs(map: MapType, headers: HeaderList): bool {
  const h = headers.serialize();
  return proxy_set_header_map_pairs(map, ptrOf(h), h.byteLength) == Status.Ok;
}
