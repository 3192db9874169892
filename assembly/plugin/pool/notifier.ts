// Tells the operator's endpoint (notify) what changed in the pool: a key out (dead or tired, and
// why), a key back, a key dead for longer than deadAfterMs, the provider's state. The lease holder
// alone sends, from its tick: it compares the pool record with what it saw at its last tick, so each
// change is told once per process, and never on a request's path. Keys by fingerprint only.
import { LogLevel } from "../../abi/enums";
import { CallAnswer, CallHandler, dispatchCall } from "../../runtime/calls";
import { log, logEnabled } from "../../runtime/log";
import { HeaderList } from "../../util/header_list";
import { jsonField as field, jsonString } from "../../util/json";
import { is2xx } from "../../util/status";
import { NotifyConfig } from "../config/config";
import { PluginMetrics } from "../base/metrics";
import { healthName } from "./provider_health";
import { PoolStore } from "./pool_store";

/** A notification is sent at most this many times (a failed POST is retried). */
const MAX_ATTEMPTS = 3;
/** Notifications in flight at once; more changes in one tick wait for the next. */
const MAX_IN_FLIGHT = 8;
const TIMEOUT_MS: u32 = 5000;

/** A key's place as the notifier last saw it. */
const enum Seen { Unknown = 0, In = 1, Out = 2 }

class NotifyCall extends CallHandler {
  constructor(private notifier: Notifier, private body: ArrayBuffer, private attempt: i32) { super(); }
  onAnswer(answer: CallAnswer | null): void { this.notifier.answered(this.body, this.attempt, answer != null && is2xx(answer.status)); }
}

export class Notifier {
  private seen: Seen[];
  private toldDead: bool[];
  private health: i32 = -1;
  private inFlight: i32 = 0;

  constructor(private cfg: NotifyConfig, private pool: string, private fingerprints: string[], private metrics: PluginMetrics) {
    this.seen = new Array<Seen>(fingerprints.length).fill(Seen.Unknown);
    this.toldDead = new Array<bool>(fingerprints.length).fill(false);
  }

  /** The lease holder's tick: one notification per change since its last tick (the first tick only looks). */
  onTick(store: PoolStore, now: i64): void {
    for (let i = 0; i < this.fingerprints.length; i++) {
      const t = store.token(i);
      // Without room for a notification the key's change waits for a later tick (seen is kept).
      if (t == null || this.inFlight >= MAX_IN_FLIGHT) continue;
      const out = !t.isIn(now);
      const was = this.seen[i];
      this.seen[i] = out ? Seen.Out : Seen.In;
      if (was == Seen.Unknown) {
        this.toldDead[i] = out && t.dead && now - t.outSince >= <i64>this.cfg.deadAfterMs;
        continue;
      }
      if (out && was == Seen.In) {
        this.toldDead[i] = false;
        this.send(this.event("key_out", i, now) + "," + field("class", jsonString(t.dead ? "dead" : "tired")) + "," +
          field("status", t.lastStatus.toString()) + "," + field("returnsInMs", (t.returnsAt > now ? t.returnsAt - now : 0).toString()) + "}");
      } else if (!out && was == Seen.Out) {
        this.send(this.event("key_back", i, now) + "}");
      } else if (out && t.dead && !this.toldDead[i] && now - t.outSince >= <i64>this.cfg.deadAfterMs) {
        this.toldDead[i] = true;
        this.send(this.event("key_dead", i, now) + "," + field("deadForMs", (now - t.outSince).toString()) + "," +
          field("status", t.lastStatus.toString()) + "}");
      }
    }
    const p = store.provider;
    const health = <i32>p.health;
    if (this.health < 0) this.health = health;
    // A change not sent for want of room is sent at a later tick.
    if (health != this.health && this.inFlight < MAX_IN_FLIGHT) {
      this.send("{" + field("event", "\"provider_state\"") + "," + field("pool", jsonString(this.pool)) + "," +
        field("state", jsonString(healthName(p.health))) + "," + field("lastStatus", p.lastStatus.toString()) + "," + field("at", now.toString()) + "}");
      this.health = health;
    }
  }

  /** This VM lost the lease: what it saw is stale; if it holds the lease again, its first tick only looks. */
  forget(): void {
    this.seen.fill(Seen.Unknown);
    this.health = -1;
  }

  // The start of a key's event: its kind, pool, fingerprint and time (the caller adds fields and closes it).
  private event(kind: string, i: i32, now: i64): string {
    return "{" + field("event", jsonString(kind)) + "," + field("pool", jsonString(this.pool)) + "," +
      field("key", jsonString(this.fingerprints[i])) + "," + field("at", now.toString());
  }

  private send(json: string): void { this.post(String.UTF8.encode(json), 1); }

  private post(body: ArrayBuffer, attempt: i32): void {
    const cfg = this.cfg;
    const headers = new HeaderList();
    headers.add(":method", "POST");
    headers.add(":path", cfg.path);
    headers.add(":authority", cfg.authority);
    headers.add("content-type", "application/json");
    for (let k = 0; k < cfg.headerNames.length; k++) headers.add(cfg.headerNames[k], cfg.headerValues[k]);
    if (!dispatchCall(cfg.cluster, headers, body, TIMEOUT_MS, new NotifyCall(this, body, attempt))) {
      this.metrics.notification(false);
      if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "a notification could not be sent to cluster " + cfg.cluster);
      return;
    }
    this.inFlight++;
  }

  /** A notification's answer: done, retried, or given up (counted). */
  answered(body: ArrayBuffer, attempt: i32, ok: bool): void {
    this.inFlight--;
    if (ok) {
      this.metrics.notification(true);
      return;
    }
    if (attempt < MAX_ATTEMPTS) {
      this.post(body, attempt + 1);
      return;
    }
    this.metrics.notification(false);
    if (logEnabled(LogLevel.Warn)) log(LogLevel.Warn, "a notification to " + this.cfg.authority + this.cfg.path + " failed " + MAX_ATTEMPTS.toString() + " times");
  }
}

