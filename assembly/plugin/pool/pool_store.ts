// The pool record in shared data: read once per request (decoded only when its CAS changed),
// changed by bounded compare-and-swap loops, created through a deterministic initial value.
import { nowMs, randomU64 } from "../../runtime/host";
import { CasOutcome, SharedUpdate, SharedValue, compareAndSwap, createShared, readShared, readSharedWord, writeShared } from "../../runtime/shared_data";
import { decodePool, encodePool } from "./pool_codec";
import { PoolChange, PoolState, TokenState } from "./pool_state";
import { FULL_RATE } from "../base/rates";
import { POOL_RECORD } from "../base/shared_record";
import { ProviderState } from "./provider_health";

/** This VM's view of one pool record, for the tokens of one configuration. */
export class PoolStore {
  /** Hash of each configured token, by index in apiTokens. */
  ids: u64[];
  private cas: u32 = 0;
  private state: PoolState = new PoolState();
  /** Index into state.tokens of each configured token (refreshed on decode). */
  private slot: i32[];
  /** Configured indices in the pool and not rate-limited: the candidates of a request (refreshed on decode). */
  inPool: i32[] = [];
  /** Suspects held while their probe runs, left out of `inPool` because other keys are in it. */
  heldOut: i32[] = [];
  /** Configured tokens in the pool, rate-limited or not (refreshed on decode). */
  private pooled: i32 = 0;
  /** AIMD share of each configured token (thousandths), or null when every one has its full share. */
  factors: i32[] | null = null;
  /** Earliest future return time among tokens out (I64.MAX_VALUE: none); the view is recomputed then. */
  private nextReturn: i64 = i64.MAX_VALUE;

  private key: ArrayBuffer;
  /**
   * A small key rewritten with a new unique value after every write of the record. A request
   * reads only this key (8 bytes, whatever the number of tokens) and reads the record only when
   * it changed, so the per-request cost does not grow with the pool.
   */
  private genKey: ArrayBuffer;
  /** Generation this view was read at (0: unknown, read the record). */
  private gen: u64 = 0;
  /** Source of this store's generation values: unique per VM with overwhelming probability. */
  private nextGen: u64 = randomU64() | 1;

  constructor(key: string, ids: u64[]) {
    this.key = String.UTF8.encode(key);
    this.genKey = String.UTF8.encode(key + ":gen");
    this.ids = ids;
    this.slot = new Array<i32>(ids.length).fill(-1);
  }

  private initialState(): PoolState {
    const p = new PoolState();
    p.addMissing(this.ids);
    return p;
  }

  private adopt(state: PoolState, cas: u32): void {
    this.state = state;
    this.cas = cas;
    // Slots by id in one pass, so a decode stays linear in the number of tokens.
    const byId = new Map<u64, i32>();
    for (let k = 0; k < state.tokens.length; k++) byId.set(state.tokens[k].id, k);
    for (let i = 0; i < this.ids.length; i++) this.slot[i] = byId.has(this.ids[i]) ? byId.get(this.ids[i]) : -1;
    // The clock is read only when some token waits for a time.
    this.recompute(anyTimed(state) ? nowMs() : 0);
  }

  // A token whose cooldown or Retry-After has passed serves requests at once, before the lease
  // holder writes it back. A held suspect serves only when no other key in the pool can.
  private recompute(now: i64): void {
    const state = this.state;
    this.inPool.length = 0;
    this.heldOut.length = 0;
    this.pooled = 0;
    this.nextReturn = i64.MAX_VALUE;
    let factors: i32[] | null = null;
    let held: i32[] | null = null;
    for (let i = 0; i < this.ids.length; i++) {
      const s = this.slot[i];
      if (s < 0) continue;
      const t = state.tokens[s];
      if (t.rateFactor != FULL_RATE) {
        if (factors == null) factors = new Array<i32>(this.ids.length).fill(FULL_RATE);
        factors[i] = t.rateFactor;
      }
      if (!t.isIn(now)) {
        if (t.returnsAt > 0 && t.returnsAt < this.nextReturn) this.nextReturn = t.returnsAt;
        continue;
      }
      this.pooled++;
      if (t.isLimited(now)) {
        if (t.limitedUntil < this.nextReturn) this.nextReturn = t.limitedUntil;
      } else if (t.held) {
        if (held == null) held = [];
        held.push(i);
      } else {
        this.inPool.push(i);
      }
    }
    if (held != null) {
      const into = this.inPool.length == 0 ? this.inPool : this.heldOut;
      for (let k = 0; k < held.length; k++) into.push(held[k]);
    }
    this.factors = factors;
  }

  /** Refreshes the view with one shared-data read (the generation); creates the record when missing. */
  refresh(): bool {
    const gen = readSharedWord(this.genKey);
    if (gen == 0 || gen != this.gen) {
      // The record changed since this view was read (or was never read): read it now. It is read
      // after the generation, so it is at least as new as that generation.
      if (!this.readRecord()) return false;
      this.gen = gen;
    }
    if (this.nextReturn != i64.MAX_VALUE) {
      const now = nowMs();
      if (now >= this.nextReturn) this.recompute(now);
    }
    return true;
  }

  private readRecord(): bool {
    let v = readShared(this.key);
    if (v == null) {
      // Created only if still missing: a VM that lost the race to create the record does not
      // overwrite it (and a failure counted meanwhile), it reads the winner's record.
      if (createShared(this.key, POOL_RECORD.encode(encodePool(this.initialState())))) this.bumpGeneration();
      v = readShared(this.key);
      if (v == null) return false;
    }
    if (v.cas == this.cas) return true;
    const state = this.decode(v);
    if (state == null) return false;
    this.adopt(state, v.cas);
    return true;
  }

  // After a write of the record: a new generation tells every VM to read it again. This view
  // reads it again too (another VM's write may have landed between its two writes).
  private bumpGeneration(): void {
    const g = new ArrayBuffer(8);
    store<u64>(changetype<usize>(g), this.nextGen);
    this.nextGen += 2;
    writeShared(this.genKey, g, 0);
    this.gen = 0;
  }

  private decode(v: SharedValue): PoolState | null {
    const payload = POOL_RECORD.decode(v);
    return payload != null ? decodePool(payload) : null;
  }

  /** Applies `change` with compare-and-swap: Stored, Unchanged (nothing to write) or Lost. */
  update(change: PoolChange): CasOutcome {
    const write = new PoolWrite(this, change);
    const outcome = compareAndSwap(this.key, write);
    if (outcome == CasOutcome.Stored) {
      // Our own write's CAS is unknown without another read; force a decode next time.
      this.adopt(write.state!, 0);
      this.bumpGeneration();
    } else if (outcome == CasOutcome.Unchanged && write.readCas != this.cas && write.state != null) {
      this.adopt(write.state!, write.readCas);
    }
    return outcome;
  }

  /** The state to change for a record read at `v`: this view's own when it is that record, else decoded. */
  stateFor(v: SharedValue | null): PoolState {
    let state: PoolState | null = null;
    if (v != null) state = v.cas == this.cas ? clonePool(this.state) : this.decode(v);
    // A missing or unreadable record is rebuilt from the configured tokens.
    return state != null ? state : this.initialState();
  }

  /** State of configured token `i` as of the last read, or null if the record lacks it. */
  token(i: i32): TokenState | null {
    const s = this.slot[i];
    return s < 0 ? null : this.state.tokens[s];
  }

  /** The provider's state as of the last read. */
  get provider(): ProviderState { return this.state.provider; }

  /** How many configured tokens are in the pool as of the last read. */
  get inPoolCount(): i32 { return this.pooled; }
}

function anyTimed(state: PoolState): bool {
  for (let i = 0; i < state.tokens.length; i++) {
    const t = state.tokens[i];
    if ((t.out && t.returnsAt > 0) || t.limitedUntil > 0) return true;
  }
  return false;
}

function clonePool(p: PoolState): PoolState {
  const c = new PoolState();
  for (let i = 0; i < p.tokens.length; i++) c.tokens.push(p.tokens[i].copy());
  c.provider = p.provider.copy();
  return c;
}

/** One PoolChange applied to the record as read: what it wrote (or would have), and the read's CAS. */
class PoolWrite extends SharedUpdate {
  state: PoolState | null = null;
  readCas: u32 = 0;

  constructor(private pool: PoolStore, private change: PoolChange) { super(); }

  next(current: SharedValue | null): ArrayBuffer | null {
    const state = this.pool.stateFor(current);
    this.state = state;
    this.readCas = current != null ? current.cas : 0;
    return this.change.apply(state) ? POOL_RECORD.encode(encodePool(state)) : null;
  }
}
