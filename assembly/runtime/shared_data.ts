// Process-wide shared data with compare-and-swap. Keys are passed UTF-8 encoded (encode them once).
// A read returns the value with the CAS stamp it was read at; a read-modify-write goes through one
// bounded compare-and-swap loop with a typed outcome.
import { proxy_get_shared_data, proxy_set_shared_data } from "../abi/imports";
import { Status } from "../abi/enums";
import { SLOT_EXTRA, SLOT_PTR, SLOT_SIZE, clearSlots, ptrOf, takeHostBuffer } from "./memory";

/**
 * CAS given when creating a key. The host ignores the CAS of a set on a missing key, and refuses
 * one that differs from an existing key's: with a value no stored key has (the host's counter
 * reaches it only after 2^32 - 1 writes), a VM that raced another to create the key loses
 * instead of overwriting it, which cas 0 would do.
 */
export const CREATE_ONLY_CAS: u32 = 0xffffffff;

/** How many times a read-modify-write is tried before it gives up (other VMs kept writing). */
export const MAX_CAS_ATTEMPTS = 16;

/** A stored value and the CAS stamp it was read at. */
export class SharedValue {
  constructor(readonly bytes: ArrayBuffer, readonly cas: u32) {}
}

/** Reads a key; null when it does not exist. */
export function readShared(key: ArrayBuffer): SharedValue | null {
  clearSlots();
  if (proxy_get_shared_data(ptrOf(key), key.byteLength, SLOT_PTR, SLOT_SIZE, SLOT_EXTRA) != Status.Ok) return null;
  const cas = load<u32>(SLOT_EXTRA);
  return new SharedValue(takeHostBuffer(), cas);
}

/**
 * The 8-byte value of a key as a number (0 when it is missing or of another size), without
 * building a value: for a counter read on every request, such as a record's generation.
 */
export function readSharedWord(key: ArrayBuffer): u64 {
  clearSlots();
  if (proxy_get_shared_data(ptrOf(key), key.byteLength, SLOT_PTR, SLOT_SIZE, SLOT_EXTRA) != Status.Ok) return 0;
  const ptr = load<usize>(SLOT_PTR);
  if (ptr == 0) return 0;
  const word = load<usize>(SLOT_SIZE) == 8 ? load<u64>(ptr) : 0;
  __unpin(ptr);
  return word;
}

/** Writes a key if its CAS still equals `cas` (0 writes unconditionally); returns the host status. */
export function writeShared(key: ArrayBuffer, value: ArrayBuffer, cas: u32): Status {
  return <Status>proxy_set_shared_data(ptrOf(key), key.byteLength, ptrOf(value), value.byteLength, cas);
}

/** Creates a key unless it exists; returns whether this call created it. */
export function createShared(key: ArrayBuffer, value: ArrayBuffer): bool {
  return writeShared(key, value, CREATE_ONLY_CAS) == Status.Ok;
}

export enum CasOutcome {
  /** The new value is stored. */
  Stored,
  /** The change changed nothing: no write. */
  Unchanged,
  /** Not stored: other VMs kept writing, or the host refused the write. */
  Lost,
}

/** One read-modify-write of a shared key. */
export abstract class SharedUpdate {
  /** The value to store in place of `current` (null: the key is missing), or null when nothing changes. */
  abstract next(current: SharedValue | null): ArrayBuffer | null;
}

/** Applies `update` to `key`, reading again after each CAS mismatch, at most MAX_CAS_ATTEMPTS times. */
export function compareAndSwap(key: ArrayBuffer, update: SharedUpdate): CasOutcome {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const current = readShared(key);
    const next = update.next(current);
    if (next == null) return CasOutcome.Unchanged;
    const status = writeShared(key, next, current != null ? current.cas : CREATE_ONLY_CAS);
    if (status == Status.Ok) return CasOutcome.Stored;
    if (status != Status.CasMismatch) return CasOutcome.Lost;
  }
  return CasOutcome.Lost;
}

/** The value the first VM of the process stored under `key`: `value` when this VM is the first. */
export function sharedOnce(key: string, value: string): string {
  const k = String.UTF8.encode(key);
  if (readShared(k) == null) createShared(k, String.UTF8.encode(value));
  const v = readShared(k);
  return v != null ? String.UTF8.decode(v.bytes) : value;
}
