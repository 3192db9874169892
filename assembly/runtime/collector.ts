// Garbage collection between callbacks. The module runs AssemblyScript's two-colour mark & sweep
// (`--runtime minimal`): no write barrier on every reference store and no shadow stack of managed
// locals, which the incremental collector needs. Its price is that collection must run when no
// managed value lives only on the Wasm stack, i.e. when the host's outermost callback returns.
// Callbacks can nest (the host may call proxy_on_memory_allocate, or a callback, from inside a
// host function), so only the outermost one collects.

/**
 * Callbacks between two collections when little is allocated meanwhile. The test build sets
 * COLLECT_EVERY_CALLBACK (asc --use COLLECT_EVERY_CALLBACK=1): a collection after every callback
 * frees at once anything a callback left referenced only from the Wasm stack, so a use after free
 * shows in the emulator tier.
 */
// @ts-ignore: defined only by asc --use
const CALLBACKS_PER_COLLECTION: i32 = isDefined(COLLECT_EVERY_CALLBACK) ? 1 : 1024;
/** Bytes handed in by the host (bodies, header maps) between two collections, at most. */
const HOST_BYTES_PER_COLLECTION: usize = 512 << 10;

let depth: i32 = 0;
let callbacksSinceCollection: i32 = 0;
let pagesAtCollection: i32 = memory.size();
let hostBytesSinceCollection: usize = 0;

/** Counts a block the host asked for: what a request allocates grows with what the host hands in. */
// @ts-ignore: decorator
@inline export function noteHostBytes(size: usize): void {
  hostBytesSinceCollection += size;
}

/** Marks the start of a host callback. */
// @ts-ignore: decorator
@inline export function enterCallback(): void {
  depth++;
}

/**
 * Marks the end of a host callback; the outermost one collects when the heap grew since the last
 * collection (so the new pages are reused, not added to), when the host handed in 512 KiB since, or
 * after 1024 callbacks. The interval is long because a collection marks every live object (a pool
 * of 1000 keys makes several thousand).
 */
export function leaveCallback(): void {
  if (--depth > 0) return;
  callbacksSinceCollection++;
  if (memory.size() == pagesAtCollection && callbacksSinceCollection < CALLBACKS_PER_COLLECTION
    && hostBytesSinceCollection < HOST_BYTES_PER_COLLECTION) return;
  __collect();
  callbacksSinceCollection = 0;
  hostBytesSinceCollection = 0;
  pagesAtCollection = memory.size();
}
