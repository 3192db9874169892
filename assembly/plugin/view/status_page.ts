// The status endpoint's JSON document: per token its fingerprint and state, the lease holder and
// a summary of the configuration. Never a raw token.
import { FULL_RATE, NO_BUDGET_LEVEL } from "../base/rates";
import { KeyOptions, PluginConfig } from "../config/config";
import { jsonField as field, jsonString } from "../../util/json";
import { Lease } from "../pool/lease";
import { TokenState } from "../pool/pool_state";
import { ProviderState, healthName } from "../pool/provider_health";
import { providerReason } from "../pool/provider_watch";
import { PRIORITIES } from "../config/queue_config";
import { QueueTotals } from "../queue/queue_record";
import { TrafficCounts } from "../base/traffic_window";


function stringList(xs: string[] | null): string {
  if (xs == null) return "null";
  const parts = new Array<string>(xs.length);
  for (let i = 0; i < xs.length; i++) parts[i] = jsonString(xs[i]);
  return "[" + parts.join(",") + "]";
}

// The key's options and what limits it now: tier, group, weight, models, budgets, AIMD share, rate-limit reset.
function keyFields(cfg: PluginConfig, k: KeyOptions, t: TokenState | null, budget: i64[] | null, now: i64): string {
  const share = t != null ? t.rateFactor : FULL_RATE;
  const fields: string[] = [
    field("tier", k.tier.toString()),
    field("group", k.group >= 0 ? jsonString(cfg.groupNames[k.group]) : "null"),
    field("weight", k.weight.toString()),
    field("models", stringList(k.models)),
    field("rpm", k.rpm > 0 ? k.rpm.toString() : "null"),
    field("tpm", k.tpm > 0 ? k.tpm.toString() : "null"),
    field("burst", k.burst > 0 ? k.burst.toString() : "null"),
    field("rpd", k.rpd > 0 ? k.rpd.toString() : "null"),
    field("tpd", k.tpd > 0 ? k.tpd.toString() : "null"),
    field("rateShare", (<f64>share / 1000).toString()),
    field("limitedForMs", (t != null && t.isLimited(now) ? t.limitedUntil - now : 0).toString()),
  ];
  if (budget != null) fields.push(budgetLeft(budget));
  return fields.join(",");
}

function budgetLeft(budget: i64[]): string {
  return field("budgetLeft", "{" + field("requests", levelJson(budget[0])) + "," + field("tokens", levelJson(budget[1])) + "," +
    field("requestsToday", levelJson(budget[2])) + "," + field("tokensToday", levelJson(budget[3])) + "}");
}

// The account groups: each one's name, shared limits and what its budgets hold now.
function groupsJson(cfg: PluginConfig, budgets: i64[][] | null): string {
  const n = cfg.keys.length;
  const parts = new Array<string>(cfg.groups.length);
  for (let g = 0; g < cfg.groups.length; g++) {
    const k = cfg.groups[g];
    const limits = [field("name", jsonString(cfg.groupNames[g])), field("rpm", optional(k.rpm)), field("tpm", optional(k.tpm)),
      field("rpd", optional(k.rpd)), field("tpd", optional(k.tpd))];
    if (budgets != null) limits.push(budgetLeft(budgets[n + g]));
    parts[g] = "{" + limits.join(",") + "}";
  }
  return "[" + parts.join(",") + "]";
}

function optional(limit: i64): string { return limit > 0 ? limit.toString() : "null"; }

function levelJson(level: i64): string { return level != NO_BUDGET_LEVEL ? level.toString() : "null"; }

function tokenEntry(fp: string, t: TokenState | null, now: i64, keyInfo: string): string {
  if (t == null) return "{" + field("fingerprint", jsonString(fp)) + "," + field("inPool", "true") + "," + keyInfo + "}";
  // A token whose return time has passed already serves requests, before the holder writes it back.
  const isIn = t.isIn(now);
  const state = isIn ? (t.suspect ? "suspect" : t.isLimited(now) ? "limited" : "in") : t.dead ? "dead" : t.returnsAt > 0 ? "waiting" : "probing";
  const outFor = isIn ? 0 : now - t.outSince;
  const untilBack = !isIn && t.returnsAt > now ? t.returnsAt - now : 0;
  return "{" + [
    field("fingerprint", jsonString(fp)),
    field("inPool", isIn ? "true" : "false"),
    field("state", jsonString(state)),
    field("consecutiveFailures", t.failures.toString()),
    field("lastStatus", t.lastStatus.toString()),
    field("lastFailureAgoMs", t.failedAt > 0 ? max<i64>(0, now - t.failedAt).toString() : "null"),
    field("outForMs", outFor.toString()),
    field("returnsInMs", untilBack.toString()),
    field("probeSuccesses", t.probeSuccesses.toString()),
    field("nextProbeInMs", (!isIn && t.dead && t.nextProbeAt > now ? t.nextProbeAt - now : 0).toString()),
    keyInfo,
  ].join(",") + "}";
}

/**
 * Renders the status document. `states[i]` is configured token i's state (null: failover off or
 * unknown); `lease` the current lease, `me` this root context's lease identity.
 */
export function renderStatus(cfg: PluginConfig, fingerprints: string[], states: (TokenState | null)[],
                             budgets: i64[][] | null, lease: Lease | null, me: string, now: i64, queue: QueueTotals | null,
                             replicas: string, traffic: TrafficCounts, provider: ProviderState | null, pools: string): string {
  const tokens = new Array<string>(fingerprints.length);
  let inPool = 0;
  for (let i = 0; i < fingerprints.length; i++) {
    const t = states[i];
    if (t == null || t.isIn(now)) inPool++;
    const counts = field("requestsLastMinute", traffic.requests[i].toString()) + "," + field("failuresLastMinute", traffic.failures[i].toString());
    tokens[i] = tokenEntry(fingerprints[i], t, now, keyFields(cfg, cfg.keys[i], t, budgets != null ? budgets[i] : null, now) + "," + counts);
  }
  const f = cfg.failover;
  const r = cfg.retry;
  const leaseJson = lease == null ? "null" : "{" + [
    field("holder", jsonString(lease.holder)),
    field("heldByThisVm", lease.holder == me ? "true" : "false"),
    field("expiresInMs", (lease.expiresAt - now).toString()),
  ].join(",") + "}";
  return "{" + [
    field("provider", "{" + field("type", jsonString(cfg.providerType)) + "," + field("id", jsonString(cfg.providerId)) + "," +
      providerFields(provider, now) + "}"),
    field("tokensConfigured", fingerprints.length.toString()),
    field("tokensInPool", inPool.toString()),
    field("failover", "{" + [
      field("enabled", f.enabled ? "true" : "false"),
      field("failureThreshold", f.failureThreshold.toString()),
      field("successThreshold", f.successThreshold.toString()),
      field("healthCheckInterval", f.healthCheckInterval.toString()),
      field("cooldownDuration", f.cooldownDuration.toString()),
    ].join(",") + "}"),
    field("retryOnFailure", "{" + field("enabled", r.enabled ? "true" : "false") + "," + field("maxRetries", r.maxRetries.toString()) + "}"),
    field("lease", leaseJson),
    field("queue", queue != null ? queueJson(queue, cfg.queue.maxWaiting, now) : "null"),
    field("replicas", replicas),
    field("trafficWindowMs", traffic.windowMs.toString()),
    field("pools", pools),
    field("groups", groupsJson(cfg, budgets)),
    field("tokens", "[" + tokens.join(",") + "]"),
  ].join(",") + "}\n";
}

// Whether the provider is the problem: its state, since when (ms since the epoch, null: always
// ok), the status that decided it, why, and when the next request goes to it.
function providerFields(p: ProviderState | null, now: i64): string {
  if (p == null) p = new ProviderState();
  return [
    field("state", jsonString(healthName(p.health))),
    field("since", p.since > 0 ? p.since.toString() : "null"),
    field("lastStatus", p.lastStatus.toString()),
    field("reason", jsonString(providerReason(p.health, p.lastStatus, p.rule))),
    field("nextRequestInMs", (!p.ok && p.nextSendAt > now ? p.nextSendAt - now : 0).toString()),
  ].join(",");
}

/**
 * One pool of the root context in the status document: its metric label, the Higress rule it
 * serves (null: the global configuration), its keys, its provider state, and whether this
 * document is its own.
 */
export function poolSummary(pool: string, rule: i32, configured: i32, inPool: i32, provider: ProviderState | null, now: i64, self: bool): string {
  const p = provider != null ? provider : new ProviderState();
  return "{" + [
    field("pool", jsonString(pool)),
    field("rule", rule >= 0 ? rule.toString() : "null"),
    field("tokensConfigured", configured.toString()),
    field("tokensInPool", inPool.toString()),
    field("providerState", jsonString(healthName(p.health))),
    field("thisDocument", self ? "true" : "false"),
  ].join(",") + "}";
}

/** The process's waiters by priority, how long the oldest has waited, and the limit. */
function queueJson(q: QueueTotals, maxWaiting: i32, now: i64): string {
  const waiting = new Array<string>(PRIORITIES.length);
  for (let r = 0; r < PRIORITIES.length; r++) waiting[r] = field(PRIORITIES[r], q.counts[r].toString());
  return "{" + [
    field("waiting", "{" + waiting.join(",") + "}"),
    field("oldestWaitMs", (q.oldestSince > 0 ? max<i64>(0, now - q.oldestSince) : 0).toString()),
    field("maxWaiting", maxWaiting.toString()),
  ].join(",") + "}";
}

/** Compares two strings in time that depends only on their lengths (for the status token). */
export function sameSecret(a: string, b: string): bool {
  if (a.length != b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff == 0;
}
