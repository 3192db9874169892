// Once a request's attempts are over, whose fault each failure was: the key's, the request's, or
// the provider's. One place decides it for both placements and every retry.
import { nowMs } from "../../runtime/host";
import { Failover } from "../pool/failover";
import { ProviderHealth } from "../pool/provider_health";
import { Attempt, AttemptState } from "./attempt";

/**
 * Decides, once a request has its outcome, which of its attempts' held failures are the keys':
 * a failure another key repeated with the same status is the request's or the provider's
 * (neither key's); a failure on a request that another key then served counts; any other counts
 * by the key's own evidence rule (Failover.countFailureOfKey). A request every attempt of which
 * failed the provider's way is evidence about the provider for every key it tried.
 */
export function settleAttempts(failover: Failover, attempts: Attempt[]): void {
  let served = false;
  // An attempt sent on a guessed route that failed says nothing of what its key would have
  // answered, so it can neither clear nor confirm the others: unless the request was served,
  // their held failures are undecided and not counted. (A client can make every route a guess,
  // a new host header each time; that must not let its requests count against the keys.)
  let guessed = false;
  for (let k = 0; k < attempts.length; k++) {
    const a = attempts[k];
    if (a.succeeded) served = true;
    else if (a.unconfirmed) guessed = true;
  }
  for (let k = 0; k < attempts.length; k++) {
    const a = attempts[k];
    if (a.state != AttemptState.Held) {
      a.defer = false;
      continue;
    }
    let repeated = false;
    for (let j = 0; j < attempts.length && !repeated; j++) {
      repeated = j != k && attempts[j].key != a.key && attempts[j].failedWith == a.failedWith;
    }
    a.release(failover, served || (!repeated && !guessed), served);
  }
  if (!served && !guessed) reportToProvider(failover, attempts);
}

// Every attempt failed the provider's way: the keys they tried carry it as evidence (worst kind,
// status and rule of the last).
function reportToProvider(failover: Failover, attempts: Attempt[]): void {
  if (attempts.length == 0) return;
  let kind = ProviderHealth.Ok;
  const keys: i32[] = [];
  for (let k = 0; k < attempts.length; k++) {
    const a = attempts[k];
    if (a.providerKind == ProviderHealth.Ok) return;
    if (a.providerKind > kind) kind = a.providerKind;
    keys.push(a.key);
  }
  const last = attempts[attempts.length - 1];
  const mark = last.mark;
  failover.provider.signal(keys, kind, last.status, last.failRule, mark.body, mark.who, nowMs());
}
