// One key choice for every attempt of a request, the route's and each retry: a candidate that
// serves the model (from the pool, or out-of-pool keys when none is left), whose budget is then
// taken; a key whose budget runs out as it is taken is left out and another chosen. The answer
// is a typed Pick, never a sentinel index.
import { nowMs } from "../../runtime/host";
import { Budgets } from "../budget/budget";
import { Failover } from "../pool/failover";
import { PluginConfig } from "../config/config";
import { Headroom } from "../budget/rate_limit";
import { KeyChooser } from "./key_choice";
import { Random } from "../../util/random";
import { FULL_RATE } from "../base/rates";
import { is2xx } from "../../util/status";

export enum PickKind {
  /** `key` serves the request; `reserved` tokens of its budget are taken. */
  Key,
  /** No configured key serves the request's model (or nothing untried is left, for a retry). */
  NoKey,
  /** Keys serve it but none has budget before `until` (ms; 0: unknown). */
  NoBudget,
  /** The provider is limited or failing and paced: nothing goes to it before `until` (ms). */
  ProviderDown,
}

export class Pick {
  constructor(readonly kind: PickKind, readonly key: i32, readonly reserved: i64, readonly until: i64) {}
  static withKey(key: i32, reserved: i64): Pick { return new Pick(PickKind.Key, key, reserved, 0); }
  static none(): Pick { return new Pick(PickKind.NoKey, -1, 0, 0); }
  static noBudget(until: i64): Pick { return new Pick(PickKind.NoBudget, -1, 0, until); }
  static providerDown(until: i64): Pick { return new Pick(PickKind.ProviderDown, -1, 0, until); }
}

/** A key whose budget runs out as it is taken is left out; after this many, the request is refused. */
const MAX_TAKES = 4;

/** One per configuration: it keeps nothing of a request. */
export class KeySelector {
  constructor(private config: PluginConfig, private chooser: KeyChooser, private random: Random, private allKeys: i32[],
              private headroom: Headroom, private failover: Failover | null, private budgets: Budgets | null) {}

  /**
   * The key of the route's attempt for a request naming `model` (null: none, or not read), whose
   * token estimate has `prompt` and `completion` (0 without token budgets).
   */
  first(model: string | null, prompt: i64, completion: i64, affinity: u64 = 0): Pick {
    const budgets = this.budgets;
    const now = budgets != null ? nowMs() : 0;
    return this.pick(model, prompt, completion, budgets != null ? budgets.emptyKeys(now) : null, false, now, affinity);
  }

  /**
   * The key of a retry: one not in `tried` (a consumer's next key, with `affinity`), preferring
   * keys whose last answer was not a counted failure: before a dead key has failed often enough to
   * leave the pool, the retries of other requests do not keep landing on it.
   */
  untried(model: string | null, prompt: i64, completion: i64, tried: i32[], affinity: u64 = 0): Pick {
    const now = this.budgets != null ? nowMs() : 0;
    const failing = this.failingBesides(tried);
    if (failing != null) {
      const clean = this.pick(model, prompt, completion, failing, true, now, affinity);
      if (clean.kind == PickKind.Key) return clean;
    }
    return this.pick(model, prompt, completion, tried, true, now, affinity);
  }

  /** Whether some key serves `model` and the provider is not paced: a request may wait its turn for a key. */
  mayServe(model: string | null): bool { return this.chooser.anyServes(model) && (this.failover == null || this.failover!.store.provider.ok); }

  // `tried` plus the keys of the pool with consecutive failures; null when there are none.
  private failingBesides(tried: i32[]): i32[] | null {
    const failover = this.failover;
    if (failover == null) return null;
    failover.store.refresh();
    let out: i32[] | null = null;
    for (let i = 0; i < failover.store.ids.length; i++) {
      const t = failover.store.token(i);
      if (t == null || t.failures == 0 || tried.includes(i)) continue;
      if (out == null) out = tried.slice(0);
      out.push(i);
    }
    return out;
  }

  private pick(model: string | null, prompt: i64, completion: i64, skip: i32[] | null, retry: bool, now: i64, affinity: u64): Pick {
    const budgets = this.budgets;
    let excluded = skip;
    for (let takes = 0; takes < MAX_TAKES; takes++) {
      const candidate = this.candidate(model, excluded, retry, now, affinity);
      // Every key left out had no room: that is a wait (429 with Retry-After, or the queue), not "no key".
      if (candidate.kind == PickKind.NoKey && takes > 0 && !retry) return Pick.noBudget(this.earliestBudget(budgets!, model));
      if (candidate.kind != PickKind.Key || budgets == null) return candidate;
      const key = candidate.key;
      const reserved = this.reserve(budgets, key, prompt, completion, now);
      if (reserved >= 0) return Pick.withKey(key, reserved);
      if (excluded == null) excluded = [];
      excluded.push(key);
    }
    return retry ? Pick.none() : Pick.noBudget(this.earliestBudget(budgets!, model));
  }

  // A candidate (see choice) that may go now: while the provider is limited or failing, only the
  // request that takes its pace slot goes.
  private candidate(model: string | null, excluded: i32[] | null, retry: bool, now: i64, affinity: u64): Pick {
    const pick = this.choice(model, excluded, retry, now, affinity);
    const failover = this.failover;
    if (failover == null || pick.kind != PickKind.Key || failover.store.provider.ok) return pick;
    return failover.provider.claim(nowMs()) ? pick : Pick.providerDown(failover.store.provider.nextSendAt);
  }

  // A key serving `model` outside `excluded`: weighted among the pool, else (failover on) the
  // out-of-pool key expected back first; a route's attempt instead waits when keys of the pool
  // serve it but are rate-limited.
  private choice(model: string | null, excluded: i32[] | null, retry: bool, now: i64, affinity: u64): Pick {
    const chooser = this.chooser;
    const failover = this.failover;
    if (failover == null) {
      const i = chooser.choose(this.random, this.allKeys, model, excluded, null, null, affinity);
      if (i >= 0) return Pick.withKey(i, 0);
      const budgets = this.budgets;
      const until = !retry && budgets != null ? this.earliestBudget(budgets, model) : 0;
      return until > 0 ? Pick.noBudget(until) : Pick.none();
    }
    const store = failover.store;
    store.refresh();
    let i = chooser.choose(this.random, store.inPool, model, excluded, store.factors, this.headroom.table, affinity);
    // A suspect whose probe runs serves when no other key of the pool can: for a retry, none untried.
    if (i < 0 && retry && store.heldOut.length > 0) i = chooser.choose(this.random, store.heldOut, model, excluded, store.factors, this.headroom.table, affinity);
    if (i >= 0) return Pick.withKey(i, 0);
    if (!retry) {
      const until = this.limitedUntil(failover, model, now > 0 ? now : nowMs());
      if (until > 0) return Pick.noBudget(until);
    }
    const back = this.firstBack(failover, model, excluded);
    if (back < 0) return Pick.none();
    // With a queue, a request waits for a key benched until a known time (Retry-After) rather
    // than going to it early; the caller sends it anyway if that time is past its wait.
    const t = failover.store.token(back);
    if (!retry && this.config.queue.enabled && t != null && t.out && t.returnsAt > 0) return Pick.noBudget(t.returnsAt);
    return Pick.withKey(back, 0);
  }

  /**
   * The key serving `model` expected to have room first, budgets and limits aside: what a request
   * that has waited as long as it may (or finds the queue full) is sent with. None when no key
   * serves the model.
   */
  dueFirst(model: string | null): Pick {
    const now = nowMs();
    const failover = this.failover;
    const budgets = this.budgets;
    let best = -1;
    let bestAt: i64 = i64.MAX_VALUE;
    for (let i = 0; i < this.allKeys.length; i++) {
      if (!this.chooser.serves(i, model)) continue;
      let at: i64 = budgets != null ? budgets.emptyUntilOf(i) : 0;
      const t = failover != null ? failover.store.token(i) : null;
      if (t != null && t.out) at = max(at, t.returnsAt > 0 ? t.returnsAt : max(t.nextProbeAt, now + <i64>this.config.failover.healthCheckInterval));
      else if (t != null && t.isLimited(now)) at = max(at, t.limitedUntil);
      if (at < bestAt) { bestAt = at; best = i; }
    }
    return best >= 0 ? Pick.withKey(best, 0) : Pick.none();
  }

  // The earliest reset among the keys in the pool that serve `model` but are rate-limited or out
  // of budget (0: none is): a request then waits for it rather than going to a key out of the pool.
  private limitedUntil(failover: Failover, model: string | null, now: i64): i64 {
    const budgets = this.budgets;
    let limited: i64 = i64.MAX_VALUE;
    for (let i = 0; i < failover.store.ids.length; i++) {
      if (!this.chooser.serves(i, model)) continue;
      const t = failover.store.token(i);
      if (t == null || !t.isIn(now)) continue;
      if (t.isLimited(now) && t.limitedUntil < limited) limited = t.limitedUntil;
      else if (budgets != null && budgets.isEmpty(i, now) && budgets.emptyUntilOf(i) < limited) limited = budgets.emptyUntilOf(i);
    }
    return limited != i64.MAX_VALUE ? limited : 0;
  }

  // Among the keys out of the pool that serve `model` and are not in `excluded`, the one expected
  // back first: a timed one at its time, a probed one at the next probe, and among equals the one
  // out the longest (a request always carries a real credential). A key the record lacks counts as
  // in. -1 when none.
  private firstBack(failover: Failover, model: string | null, excluded: i32[] | null): i32 {
    const now = nowMs();
    const probeEveryMs = <i64>this.config.failover.healthCheckInterval;
    let best = -1;
    let bestAt: i64 = i64.MAX_VALUE;
    let bestSince: i64 = i64.MAX_VALUE;
    for (let i = 0; i < failover.store.ids.length; i++) {
      if (!this.chooser.serves(i, model) || (excluded != null && excluded.includes(i))) continue;
      const t = failover.store.token(i);
      if (t == null) return i;
      if (t.isIn(now)) continue;
      // A dead key comes back at its next probe at the soonest, which may be minutes away.
      const at = t.returnsAt > 0 ? t.returnsAt : max(t.nextProbeAt, now + probeEveryMs);
      if (at < bestAt || (at == bestAt && t.outSince < bestSince)) { bestAt = at; bestSince = t.outSince; best = i; }
    }
    return best;
  }

  // The earliest time a key serving `model` may have budget again (0: none is known to be empty).
  private earliestBudget(budgets: Budgets, model: string | null): i64 {
    let best: i64 = 0;
    for (let i = 0; i < this.allKeys.length; i++) {
      const at = budgets.emptyUntilOf(i);
      if (at > 0 && this.chooser.serves(i, model) && (best == 0 || at < best)) best = at;
    }
    return best;
  }

  /** Takes key i's budget for one attempt: the tokens reserved, or -1 when the key has none left. */
  private reserve(budgets: Budgets, i: i32, prompt: i64, completion: i64, now: i64): i64 {
    const factor = this.factorOf(i);
    const reserved = budgets.estimateFor(i, prompt, completion, factor);
    return budgets.take(i, reserved, factor, now) ? reserved : -1;
  }

  /**
   * Corrects the token reservation (`reserved`) of an attempt with key `key` whose answer had
   * `status` with what it used (`total`, -1: not said): a refused request used nothing, a success
   * without usage keeps the estimate.
   */
  settleUsage(key: i32, reserved: i64, status: i32, total: i64): void {
    const budgets = this.budgets;
    if (budgets == null) return;
    const actual = total >= 0 ? total : status > 0 && !is2xx(status) ? 0 : -1;
    if (actual < 0) return;
    budgets.settleTokens(key, reserved, actual, this.factorOf(key), nowMs());
  }

  /** Key i's AIMD share (thousandths), which scales its budgets. */
  private factorOf(i: i32): i32 {
    const failover = this.failover;
    return failover != null ? failover.factorOf(i) : FULL_RATE;
  }
}
