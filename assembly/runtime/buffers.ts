// Body and configuration buffers.
import { proxy_get_buffer_bytes, proxy_set_buffer_bytes } from "../abi/imports";
import { BufferType, Status } from "../abi/enums";
import { SLOT_PTR, SLOT_SIZE, clearSlots, ptrOf, takeHostBuffer } from "./memory";

/** Up to `maxSize` bytes of a buffer from `start`, or null when the host has none. */
export function getBufferBytes(buffer: BufferType, start: usize, maxSize: usize): ArrayBuffer | null {
  clearSlots();
  if (proxy_get_buffer_bytes(buffer, start, maxSize, SLOT_PTR, SLOT_SIZE) != Status.Ok) return null;
  return takeHostBuffer();
}

/** Replaces the buffer's first `length` bytes (all of it, given its size) with `data`. */
export function replaceBufferBytes(buffer: BufferType, length: usize, data: ArrayBuffer): bool {
  return proxy_set_buffer_bytes(buffer, 0, length, ptrOf(data), data.byteLength) == Status.Ok;
}
