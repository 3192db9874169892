// Whether Envoy shows a request's body to the filter while the filter holds the request headers.
// It does only with the Wasm filter option allow_on_headers_stop_iteration (Higress does natively);
// without it a held request would wait for a body that never comes. A held request whose body has
// not come within BODY_WAIT_MS is asked how many body bytes Envoy has received for it (the
// request.total_size property, counted from when it was held): none means its client is slow,
// which proves nothing, and it waits on; some means Envoy withholds them, and that teaches the
// process that bodies are hidden. From then on no request is held (model lists and tpm apply
// without the body, see docs/envoy.md), but one request per RETEST_MS in each VM is held again.
// Once Envoy has shown a held body, nothing is concluded. Where the host cannot say (no such
// property), a wait that runs out teaches it as before.
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
  /** request.total_size of each held request when it was held (-1: the host cannot say). */
  private received: i64[] = [];
  /** While hidden: when this VM holds a request again to test it (ms). */
  private retestAt: i64 = 0;

  constructor(prefix: string) {
    this.shownKey = String.UTF8.encode(prefix + ":bodies-shown");
    this.hiddenKey = String.UTF8.encode(prefix + ":bodies-hidden");
  }

  /** Whether some held request waits for its body (the root then ticks fast). */
  get waiting(): bool { return this.ids.length > 0; }

  /**
   * A request wants to hold its headers until the body (`received`: its request.total_size now,
   * -1 when the host cannot say): false when the process knows Envoy hides held bodies (then it
   * must not hold); otherwise it is watched until its body arrives.
   */
  hold(id: u32, now: i64, received: i64): bool {
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
    this.received.push(received);
    return true;
  }

  /** Envoy showed a held request's body: no timer is needed any more, in any VM. */
  arrived(id: u32): void {
    this.forget(id);
    if (this.shown) return;
    this.shown = true;
    this.hidden = false;
    this.clear();
    writeShared(this.shownKey, ONE, 0);
  }

  /** The stream `id` is gone (or released). */
  forget(id: u32): void {
    const k = this.ids.indexOf(id);
    if (k < 0) return;
    this.ids.splice(k, 1);
    this.deadlines.splice(k, 1);
    this.received.splice(k, 1);
  }

  private clear(): void {
    this.ids.length = 0;
    this.deadlines.length = 0;
    this.received.length = 0;
  }

  /**
   * The held requests whose wait ran out by `now`, each to be asked (withheld) whether Envoy holds
   * body bytes back from it. Empty when some VM of the process has seen a held body meanwhile.
   */
  due(now: i64): u32[] {
    const out: u32[] = [];
    for (let k = 0; k < this.deadlines.length; k++) if (this.deadlines[k] <= now) out.push(this.ids[k]);
    if (out.length == 0 || readShared(this.shownKey) == null) return out;
    this.shown = true;
    this.clear();
    return [];
  }

  /**
   * Held request `id`, whose wait ran out, has `received` as its request.total_size now: true when
   * Envoy has received body bytes it did not show (the process learns bodies are hidden, and the
   * request must go on without its body), or the host cannot say; false when its client has sent
   * nothing yet, which proves nothing: it waits another BODY_WAIT_MS.
   */
  withheld(id: u32, received: i64, now: i64): bool {
    const k = this.ids.indexOf(id);
    if (k < 0) return false;
    const before = this.received[k];
    if (before >= 0 && received >= 0 && received <= before) {
      this.deadlines[k] = now + BODY_WAIT_MS;
      return false;
    }
    this.forget(id);
    if (!this.hidden) this.retestAt = now + RETEST_MS;
    this.hidden = true;
    return true;
  }

  /** Records for the process that bodies are hidden; true for the one VM that should say so in the log. */
  claimHidden(): bool {
    return createShared(this.hiddenKey, ONE);
  }
}
