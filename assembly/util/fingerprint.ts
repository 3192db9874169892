// Token identities that never reveal the token: a 64-bit hash for shared state, a short
// fingerprint (#index:hash) for logs, metrics and the status endpoint.

/** 64-bit hash of `s`: FNV-1a over its UTF-16 code units, then a finalizer so every bit depends on every character. */
export function hash64(s: string): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < s.length; i++) {
    h ^= <u64>s.charCodeAt(i);
    h *= 0x100000001b3;
  }
  // FNV's high bits barely change when only the last characters differ.
  return mix64(h);
}

/** MurmurHash3's fmix64 finalizer: every output bit depends on every input bit. */
export function mix64(x: u64): u64 {
  let h = x;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

/** `#<index>:<6 hex digits>` for the token with this hash at this index of apiTokens. */
export function fingerprint(index: i32, hash: u64): string {
  let hex = (hash >> 40).toString(16);
  while (hex.length < 6) hex = "0" + hex;
  return "#" + index.toString() + ":" + hex;
}

/** 32-bit hash of the bytes of `buf` (FNV-1a, then mixed), never 0. Linear. */
export function hashBytes(buf: ArrayBuffer): u32 {
  const p = changetype<usize>(buf);
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < buf.byteLength; i++) {
    h ^= <u64>load<u8>(p + i);
    h *= 0x100000001b3;
  }
  return <u32>mix64(h) | 1;
}
