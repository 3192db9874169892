// The key a request goes out with: chosen when the request's model and size are known, put in
// place of the client's credentials; when no key can serve it now and the queue is on, the request
// waits in the queue (this object is its ticket) until one can, or its wait runs out.
import { MapType, StreamType } from "../../abi/enums";
import { replaceHeaderBytes } from "../../runtime/headers";
import { continueStream, nowMs } from "../../runtime/host";
import { HeaderList } from "../../util/header_list";
import { AnswerLedger } from "./answer_ledger";
import { RequestMark } from "../judge/request_mark";
import { ProviderHealth } from "../pool/provider_health";
import { applyCredential } from "../keys/credentials";
import { Pick, PickKind } from "../keys/key_selector";
import { Plugin } from "../plugin";
import { QueueConfig, WhenExpired } from "../config/queue_config";
import { Admission, WaitTicket } from "../queue/waiter";
import { Outcome } from "../queue/queue_metrics";
import { answerAmbiguousModel, answerNoBudget, answerNoKey, answerProviderDown } from "./local_replies";
import { PluginConfig } from "../config/config";
import { hash64 } from "../../util/fingerprint";

const ACCEPT_ENCODING = String.UTF8.encode("accept-encoding");
const IDENTITY = String.UTF8.encode("identity");

export enum Chosen {
  /** The request goes out with a key now. */
  Sent,
  /** The plugin answered it (no key serves the model, or none has budget and it cannot wait). */
  Answered,
  /** It waits in the queue; the queue sends or answers it later. */
  Waiting,
}

/** The hash of the consumer's identity a request carries in `affinity.header` (0: none, or no such header). */
export function affinityOf(cfg: PluginConfig, rawHeaders: ArrayBuffer): u64 {
  if (cfg.affinityHeader.length == 0) return 0;
  const who = HeaderList.rawText(rawHeaders, cfg.affinityHeader);
  return who.length > 0 ? hash64(who) | 1 : 0;
}

export class KeyAssignment extends WaitTicket {
  /** The request's `model` (null: none, or not needed to choose). */
  model: string | null = null;
  /** The body names its model in ways providers' parsers would read differently: it is refused. */
  modelAmbiguous: bool = false;
  /** The request's expected prompt and completion tokens (0 without token budgets); each key caps them. */
  prompt: i64 = 0;
  completion: i64 = 0;
  /** Every upstream attempt of this request and their answers (null until a key is chosen). */
  ledger: AnswerLedger | null = null;
  /** The request waits in the queue. */
  waiting: bool = false;
  /** The hash of the consumer's identity (affinity.header), 0: none. */
  affinity: u64 = 0;
  /** Keys earlier attempts of this request used (upstream placement), none: the first attempt. */
  tried: i32[] | null = null;
  private nextTry: i64 = 0;
  private requestMark: RequestMark | null = null;

  /** Who sent the request, shared by its attempts (made with the first). */
  get mark(): RequestMark {
    let m = this.requestMark;
    if (m == null) {
      m = new RequestMark(whoOf(this.affinity), <u32>this.plugin.random.next());
      this.requestMark = m;
    }
    return m;
  }

  constructor(private plugin: Plugin, private streamId: u32, private clientHeaders: ArrayBuffer) { super(); }

  /** The consumer named in the body (affinity.bodyField): the mark, made before the body was read, names it too. */
  nameConsumer(affinity: u64): void {
    this.affinity = affinity;
    const m = this.requestMark;
    if (m != null) m.who = whoOf(affinity);
  }

  /** Chooses the key now, or (queue on, no key with room) puts the request in the queue. */
  choose(): Chosen {
    if (this.modelAmbiguous) {
      answerAmbiguousModel();
      return Chosen.Answered;
    }
    // Chosen.Sent here: the request chooses its key now.
    const turn = this.waitsItsTurn();
    if (turn != Chosen.Sent) return turn;
    const pick = this.pickKey();
    if (pick.kind == PickKind.Key) {
      this.send(pick);
      return Chosen.Sent;
    }
    if (pick.kind == PickKind.NoKey) {
      answerNoKey(this.model);
      return Chosen.Answered;
    }
    if (pick.kind == PickKind.ProviderDown) {
      this.plugin.metrics.providerAnswered();
      const failover = this.plugin.failover!;
      answerProviderDown(failover.store.provider.health == ProviderHealth.Failing, pick.until);
      return Chosen.Answered;
    }
    const queue = this.plugin.queue;
    if (queue == null) {
      answerNoBudget(pick.until);
      return Chosen.Answered;
    }
    const now = nowMs();
    const cfg = queue.cfg;
    const rank = this.rank(cfg);
    this.nextTry = pick.until;
    // No key has room before this wait would end: it ends at once, as an expired one would.
    if (pick.until > queue.deadlineFor(rank, now)) {
      const passThrough = cfg.whenExpired == WhenExpired.Passthrough;
      queue.record(passThrough ? Outcome.PassedThrough : Outcome.Expired);
      return passThrough && this.sendDueFirst() ? Chosen.Sent : this.refuse(pick.until);
    }
    const admitted = queue.admit(this.streamId, rank, now, pick.until, this);
    if (admitted == Admission.Waiting) {
      this.waiting = true;
      this.plugin.ticks.update(this.streamId);
      return Chosen.Waiting;
    }
    const passThrough = admitted == Admission.PassThrough;
    queue.record(passThrough ? Outcome.PassedThrough : Outcome.Full);
    return passThrough && this.sendDueFirst() ? Chosen.Sent : this.refuse(pick.until);
  }

  // An absent header reads as "", which is normal.
  private rank(cfg: QueueConfig): i32 { return cfg.rankOf(HeaderList.rawText(this.clientHeaders, cfg.priorityHeader)); }

  // While this VM has waiters: a newcomer whose priority took more than its share of the releases
  // waits behind the lower ones like a waiter would (a request no key serves, or one the paced
  // provider would not take, gets its answer instead). Without a place it is refused as by a
  // full queue, or passes through with `whenFull: passthrough`.
  private waitsItsTurn(): Chosen {
    const queue = this.plugin.queue;
    if (queue == null || queue.count == 0) return Chosen.Sent;
    const now = nowMs();
    const rank = this.rank(queue.cfg);
    if (!queue.yields(rank, now) || !this.plugin.selector.mayServe(this.model)) return Chosen.Sent;
    const admitted = queue.admit(this.streamId, rank, now, now, this, true);
    if (admitted == Admission.PassThrough) return Chosen.Sent;
    this.nextTry = now;
    if (admitted == Admission.Refused) {
      queue.record(Outcome.Full);
      return this.refuse(now + 1000);
    }
    this.waiting = true;
    this.plugin.ticks.update(this.streamId);
    return Chosen.Waiting;
  }

  private refuse(until: i64): Chosen {
    answerNoBudget(until);
    return Chosen.Answered;
  }

  // A key no earlier attempt of the request used while one is left, else any.
  private pickKey(): Pick {
    const selector = this.plugin.selector;
    const tried = this.tried;
    if (tried != null && tried.length > 0) {
      const pick = selector.untried(this.model, this.prompt, this.completion, tried, this.affinity);
      if (pick.kind == PickKind.Key) return pick;
    }
    return selector.first(this.model, this.prompt, this.completion, this.affinity);
  }

  tryNow(now: i64): bool {
    const pick = this.pickKey();
    if (pick.kind != PickKind.Key) {
      this.nextTry = pick.until;
      return false;
    }
    this.waiting = false;
    this.send(pick);
    continueStream(StreamType.Request);
    return true;
  }

  get retryAt(): i64 { return this.nextTry; }

  expire(passThrough: bool): void {
    this.waiting = false;
    if (passThrough && this.sendDueFirst()) {
      continueStream(StreamType.Request);
      return;
    }
    answerNoBudget(this.nextTry);
  }

  drop(): void {
    this.waiting = false;
    answerNoBudget(this.nextTry);
  }

  // Sends with the key due back first, budgets aside; false when no key serves the model.
  private sendDueFirst(): bool {
    const pick = this.plugin.selector.dueFirst(this.model);
    if (pick.kind != PickKind.Key) return false;
    this.send(pick);
    return true;
  }

  // Starts the route's attempt with the key `pick` chose, in place of the client's credentials.
  private send(pick: Pick): void {
    const plugin = this.plugin;
    const ledger = new AnswerLedger(plugin, this.mark);
    ledger.openRoute(pick.key, pick.reserved);
    this.ledger = ledger;
    applyCredential(plugin.config, plugin.credentials, pick.key, this.clientHeaders);
    // A body rule must read the answer: ask for it uncompressed.
    if (plugin.failureRulesNeedBody) replaceHeaderBytes(MapType.RequestHeaders, ACCEPT_ENCODING, IDENTITY);
    plugin.metrics.request(pick.key);
  }
}

// A consumer's hash as the request's mark keeps it (0: none).
function whoOf(affinity: u64): u32 { return affinity != 0 ? <u32>(affinity ^ (affinity >> 32)) | 1 : 0; }
