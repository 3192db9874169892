// Memory helpers at the ABI boundary: out-parameter slots, host-owned buffers, UTF-8.

/** Scratch slots the host writes out-parameters into; valid until the next host call. */
export const SLOT_PTR: usize = memory.data(8);
export const SLOT_SIZE: usize = memory.data(8);
export const SLOT_EXTRA: usize = memory.data(8);

/** Takes the host-allocated block described by the pointer/size slots as a managed ArrayBuffer and frees it. */
export function takeHostBuffer(): ArrayBuffer {
  const ptr = load<usize>(SLOT_PTR);
  const size = load<usize>(SLOT_SIZE);
  const out = new ArrayBuffer(<i32>size);
  if (ptr != 0) {
    if (size > 0) memory.copy(changetype<usize>(out), ptr, size);
    heap.free(ptr);
  }
  return out;
}

/** Takes the host-allocated block as a UTF-8 decoded string and frees it. */
export function takeHostString(): string {
  const ptr = load<usize>(SLOT_PTR);
  const size = load<usize>(SLOT_SIZE);
  if (ptr == 0) return "";
  const s = String.UTF8.decodeUnsafe(ptr, size, false);
  heap.free(ptr);
  return s;
}

/** Clears the out-parameter slots before a host call that may leave them untouched. */
export function clearSlots(): void {
  store<usize>(SLOT_PTR, 0);
  store<usize>(SLOT_SIZE, 0);
  store<u64>(SLOT_EXTRA, 0);
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s, false);
}

/** Address of an ArrayBuffer's bytes. */
// @ts-ignore: decorator
@inline export function ptrOf(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}
