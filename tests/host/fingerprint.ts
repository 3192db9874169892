// The plugin's token fingerprint (#index:6 hex digits), computed in JS for test assertions.
const M = (1n << 64n) - 1n;

export function hash64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & M;
  }
  h ^= h >> 33n; h = (h * 0xff51afd7ed558ccdn) & M;
  h ^= h >> 33n; h = (h * 0xc4ceb9fe1a85ec53n) & M;
  h ^= h >> 33n;
  return h;
}

export function fingerprint(index: number, token: string): string {
  return `#${index}:${(hash64(token) >> 40n).toString(16).padStart(6, '0')}`;
}
