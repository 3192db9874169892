// Memory helpers at the ABI boundary: out-parameter slots, host-owned buffers, UTF-8.

/** Scratch slots the host writes out-parameters into; valid until the next host call. */
export const SLOT_PTR: usize = memory.data(8);
export const SLOT_SIZE: usize = memory.data(8);
export const SLOT_EXTRA: usize = memory.data(8);

/** Adopts the host-written block described by the pointer/size slots (an ArrayBuffer from proxy_on_memory_allocate). */
export function takeHostBuffer(): ArrayBuffer {
  const ptr = load<usize>(SLOT_PTR);
  if (ptr == 0) return new ArrayBuffer(0);
  __unpin(ptr);
  const buf = changetype<ArrayBuffer>(ptr);
  const size = <i32>load<usize>(SLOT_SIZE);
  return size == buf.byteLength ? buf : buf.slice(0, size);
}

/** Takes the host-written block as a UTF-8 decoded string. */
export function takeHostString(): string {
  const ptr = load<usize>(SLOT_PTR);
  if (ptr == 0) return "";
  const s = String.UTF8.decodeUnsafe(ptr, load<usize>(SLOT_SIZE), false);
  __unpin(ptr);
  return s;
}

/** Takes the host-written block as a decimal number (e.g. a `:status` value), -1 if it is not one; no string is built. */
export function takeHostDecimal(): i32 {
  const ptr = load<usize>(SLOT_PTR);
  if (ptr == 0) return -1;
  const size = load<usize>(SLOT_SIZE);
  let v = 0;
  for (let i: usize = 0; i < size; i++) {
    const d = <i32>load<u8>(ptr + i) - 0x30;
    if (d < 0 || d > 9 || i >= 9) { v = -1; break; }
    v = v * 10 + d;
  }
  __unpin(ptr);
  return size == 0 ? -1 : v;
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
