// The one reader of plain decimal numbers (header values, codec fields, JSON integers): digits
// only, no sign, at most `maxDigits` of them (so the value fits); -1 otherwise. Pure.

/** The number in `s` from `from` to `to` (exclusive). */
export function decimalOf(s: string, from: i32 = 0, to: i32 = -1, maxDigits: i32 = 18): i64 {
  const end = to < 0 ? s.length : to;
  if (end <= from || end > s.length || end - from > maxDigits) return -1;
  let v: i64 = 0;
  for (let i = from; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/** The number in `len` bytes of memory at `ptr`. */
export function decimalAt(ptr: usize, len: usize, maxDigits: i32 = 18): i64 {
  if (len == 0 || len > <usize>maxDigits) return -1;
  let v: i64 = 0;
  for (let i: usize = 0; i < len; i++) {
    const c = <i32>load<u8>(ptr + i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}
