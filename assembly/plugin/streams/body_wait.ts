// Whether Envoy shows a request's body to the filter while the filter holds the request headers.
// It does only with the Wasm filter option allow_on_headers_stop_iteration (Higress does natively);
// without it a held request would wait for a body that never comes. The first held request whose
// body does not arrive within BODY_WAIT_MS teaches the process that bodies are hidden; from then
// on no request is held (model lists and tpm apply without the body, see docs/envoy.md), but one
// request per RETEST_MS in each VM is held again: a client that merely sent its body late cannot
// keep the gateway from reading bodies. Once Envoy has shown a held body, nothing is concluded.
import { createShared, readShared, writeShared } from "../../runtime/shared_data";

/** How long a held request waits for its first body bytes before the process concludes Envoy hides them. */
export const BODY_WAIT_MS: i64 = 300;
/** Tick period while some request waits for its body. */
export const BODY_WAIT_TICK_MS: u32 = 50;
/** While bodies are believed hidden, a VM holds one request this often to test it again. */
export const RETEST_MS: i64 = 30_000;

const ONE = String.UTF8.encode("1");

export class BodyWait {
  /** This VM saw Envoy show a held request's body (or another VM of the process did). */
  shown: bool = false;
  /** The process learned that Envoy hides held bodies. */
  hidden: bool = false;
  private shownKey: ArrayBuffer;
  private hiddenKey: ArrayBuffer;
  private ids: u32[] = [];
  private deadlines: i64[] = [];
  /** While hidden: when this VM holds a request again to test it (ms). */
  private retestAt: i64 = 0;

  constructor(prefix: string) {
    this.shownKey = String.UTF8.encode(prefix + ":bodies-shown");
    this.hiddenKey = String.UTF8.encode(prefix + ":bodies-hidden");
  }

  /** Whether some held request waits for its body (the root then ticks fast). */
  get waiting(): bool { return this.ids.length > 0; }

  /**
   * A request wants to hold its headers until the body: false when the process knows Envoy hides
   * held bodies (then it must not hold); otherwise it is watched until its body arrives.
   */
  hold(id: u32, now: i64): bool {
    if (this.shown) return true;
    if (!this.hidden && readShared(this.hiddenKey) != null) {
      this.hidden = true;
      this.retestAt = now + RETEST_MS;
    }
    if (this.hidden) {
      if (now < this.retestAt) return false;
      this.retestAt = now + RETEST_MS;
    }
    this.ids.push(id);
    this.deadlines.push(now + BODY_WAIT_MS);
    return true;
  }

  /** Envoy showed a held request's body: no timer is needed any more, in any VM. */
  arrived(id: u32): void {
    this.forget(id);
    if (this.shown) return;
    this.shown = true;
    this.hidden = false;
    this.ids.length = 0;
    this.deadlines.length = 0;
    writeShared(this.shownKey, ONE, 0);
  }

  /** The stream `id` is gone (or released). */
  forget(id: u32): void {
    const k = this.ids.indexOf(id);
    if (k < 0) return;
    this.ids.splice(k, 1);
    this.deadlines.splice(k, 1);
  }

  /**
   * The held requests whose body did not come by `now`: they must go on without it. Empty when
   * some VM of the process has seen a held body meanwhile (a slow client, not a hidden body).
   */
  expired(now: i64): u32[] {
    const out: u32[] = [];
    let due = false;
    for (let k = 0; k < this.deadlines.length; k++) if (this.deadlines[k] <= now) due = true;
    if (!due) return out;
    if (readShared(this.shownKey) != null) {
      this.shown = true;
      this.ids.length = 0;
      this.deadlines.length = 0;
      return out;
    }
    if (!this.hidden) this.retestAt = now + RETEST_MS;
    this.hidden = true;
    const ids = this.ids;
    this.ids = [];
    this.deadlines = [];
    return ids;
  }

  /** Records for the process that bodies are hidden; true for the one VM that should say so in the log. */
  claimHidden(): bool {
    return createShared(this.hiddenKey, ONE);
  }
}
