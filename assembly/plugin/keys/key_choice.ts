// Which key a request uses among the candidates (the keys in the pool, or all keys without
// failover): only keys that serve the request's model, from the lowest tier that has one with
// room, weighted by `weight`; a consumer with an affinity keeps its key while that key is a
// candidate of that tier (weighted rendezvous hashing, so a key leaving moves only its own
// consumers). Pure.
import { PluginConfig } from "../config/config";
import { globMatch } from "../../util/glob";
import { hash64, mix64 } from "../../util/fingerprint";
import { Random } from "../../util/random";

/** A choice among keys of every tier. */
const ANY_TIER: i32 = -1;
/** No tier has a key to choose. */
const NO_TIER: i32 = i32.MAX_VALUE;

export class KeyChooser {
  private weights: i32[] = [];
  private models: (string[] | null)[] = [];
  private ids: u64[] = [];
  private tiers: i32[] = [];
  /** Every weight is 1, every tier 0 and no key has a model list: a uniform pick, O(1). */
  readonly uniform: bool;
  /** Some key has a model list: the model must be known before a key is chosen. */
  readonly byModel: bool;
  /** Some key has a tier above 0: each choice looks at the lowest tier with room first. */
  readonly tiered: bool;

  constructor(cfg: PluginConfig) {
    let uniform = true, byModel = false, tiered = false;
    for (let i = 0; i < cfg.keys.length; i++) {
      const k = cfg.keys[i];
      this.weights.push(k.weight);
      this.models.push(k.models);
      this.ids.push(hash64(cfg.apiTokens[i]));
      this.tiers.push(k.tier);
      if (k.weight != 1) uniform = false;
      if (k.models != null) byModel = true;
      if (k.tier != 0) tiered = true;
    }
    this.uniform = uniform && !byModel && !tiered;
    this.byModel = byModel;
    this.tiered = tiered;
  }

  /** Key i's tier. */
  tierOf(i: i32): i32 { return unchecked(this.tiers[i]); }

  /** Whether key `i` serves `model` (null: the request names none, which only keys without a list serve). */
  serves(i: i32, model: string | null): bool {
    const list = this.models[i];
    if (list == null) return true;
    if (model == null) return false;
    for (let k = 0; k < list.length; k++) if (globMatch(list[k], model)) return true;
    return false;
  }

  /** Whether any configured key serves `model`. */
  anyServes(model: string | null): bool {
    for (let i = 0; i < this.models.length; i++) if (this.serves(i, model)) return true;
    return false;
  }

  /**
   * A key among `candidates` that serves `model` and is not in `excluded`, chosen with probability
   * proportional to its weight times its AIMD share (`factors`) times its headroom (`headroom`),
   * both in thousandths by configured index and null when every key has all of it; -1 when there
   * is none. A consumer (`affinity`: the hash of its identity, 0: none) gets its own key among them.
   */
  choose(random: Random, candidates: i32[], model: string | null, excluded: i32[] | null, factors: i32[] | null, headroom: i32[] | null,
         affinity: u64 = 0): i32 {
    const n = candidates.length;
    if (n == 0) return -1;
    if (this.uniform && affinity == 0 && excluded == null && factors == null && headroom == null) return unchecked(candidates[n == 1 ? 0 : random.below(n)]);
    // A higher tier serves only when no lower one has an eligible key with room.
    const tier = this.tiered ? this.lowestTier(candidates, model, excluded, factors, headroom) : ANY_TIER;
    if (tier == NO_TIER) return -1;
    if (affinity != 0) return this.rendezvous(affinity, candidates, model, excluded, tier);
    let total: i64 = 0;
    for (let k = 0; k < n; k++) {
      const i = unchecked(candidates[k]);
      if (this.eligible(i, model, excluded, tier)) total += this.weightOf(i, factors, headroom);
    }
    if (total == 0) return -1;
    let r = <i64>(random.next() % <u64>total);
    for (let k = 0; k < n; k++) {
      const i = unchecked(candidates[k]);
      if (!this.eligible(i, model, excluded, tier)) continue;
      r -= this.weightOf(i, factors, headroom);
      if (r < 0) return i;
    }
    return -1;
  }

  // The lowest tier among `candidates` with a key that serves `model`, is not excluded and has
  // room (a weight above 0 once its share and headroom are applied); NO_TIER when none has.
  private lowestTier(candidates: i32[], model: string | null, excluded: i32[] | null, factors: i32[] | null, headroom: i32[] | null): i32 {
    let best = NO_TIER;
    for (let k = 0; k < candidates.length; k++) {
      const i = unchecked(candidates[k]);
      const tier = unchecked(this.tiers[i]);
      if (tier < best && this.eligible(i, model, excluded, ANY_TIER) && this.weightOf(i, factors, headroom) > 0) best = tier;
    }
    return best;
  }

  // The candidate with the highest weighted rendezvous score for this consumer, ln(u) / weight with
  // u uniform in (0, 1] from the consumer's and the key's hashes: each key wins its weight's share
  // of consumers, and removing a key moves only the consumers it won. Shares and headroom do not
  // move consumers; only a key leaving the candidates does.
  private rendezvous(consumer: u64, candidates: i32[], model: string | null, excluded: i32[] | null, tier: i32): i32 {
    let best = -1;
    let bestScore = -Infinity;
    for (let k = 0; k < candidates.length; k++) {
      const i = unchecked(candidates[k]);
      if (!this.eligible(i, model, excluded, tier)) continue;
      const u = <f64>((mix64(consumer ^ unchecked(this.ids[i])) >> 11) + 1) / 9007199254740992.0;
      const score = Math.log(u) / <f64>unchecked(this.weights[i]);
      if (score > bestScore) { bestScore = score; best = i; }
    }
    return best;
  }

  private weightOf(i: i32, factors: i32[] | null, headroom: i32[] | null): i64 {
    const w = <i64>unchecked(this.weights[i]) * (factors == null ? 1000 : <i64>unchecked(factors[i]));
    return headroom == null ? w * 1000 : w * <i64>unchecked(headroom[i]);
  }

  // `tier`: only keys of that tier (ANY_TIER: every key).
  private eligible(i: i32, model: string | null, excluded: i32[] | null, tier: i32): bool {
    return (tier == ANY_TIER || unchecked(this.tiers[i]) == tier) &&
      (excluded == null || !excluded.includes(i)) && (!this.byModel || this.serves(i, model));
  }
}
