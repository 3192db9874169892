// The status endpoint's JSON document as tests read it (rendered by assembly/plugin/http/status_page.ts).
import type { Vm } from './emulator.js';
export type KeyState = 'in' | 'limited' | 'suspect' | 'waiting' | 'probing' | 'dead';

export interface KeyStatus {
  fingerprint: string;
  inPool: boolean;
  /** Absent while failover has no state for the key. */
  state?: KeyState;
  consecutiveFailures?: number;
  lastStatus?: number;
  /** ms since the key last failed, counted against it or not (null: never). */
  lastFailureAgoMs?: number | null;
  outForMs?: number;
  returnsInMs?: number;
  probeSuccesses?: number;
  /** A dead key: ms until its next probe. */
  nextProbeInMs?: number;
  tier: number;
  weight: number;
  models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  rateShare: number;
  limitedForMs: number;
  burst: number | null;
  rpd: number | null;
  tpd: number | null;
  /** What is left of the minute's buckets and of today (null: no such budget). */
  budgetLeft?: { requests: number | null; tokens: number | null; requestsToday: number | null; tokensToday: number | null };
  /** Requests sent with the key and failures counted against it, by every worker, over `trafficWindowMs`. */
  requestsLastMinute: number;
  failuresLastMinute: number;
}

export interface StatusDocument {
  provider: {
    type: string; id: string;
    /** ok, or limited / failing when every key fails the same way for different requests. */
    state: 'ok' | 'limited' | 'failing';
    /** ms since the epoch when the state began (null: always ok). */
    since: number | null;
    lastStatus: number;
    reason: string;
    nextRequestInMs: number;
  };
  tokensConfigured: number;
  tokensInPool: number;
  failover: { enabled: boolean; failureThreshold: number; successThreshold: number; healthCheckInterval: number; cooldownDuration: number };
  retryOnFailure: { enabled: boolean; maxRetries: number };
  lease: { holder: string; heldByThisVm: boolean; expiresInMs: number } | null;
  /** null while the queue is off. */
  queue: { waiting: Record<'urgent' | 'high' | 'normal' | 'low', number>; oldestWaitMs: number; maxWaiting: number } | null;
  /** null without redis (the Higress build's replica sharing). */
  replicas: { link: 'up' | 'down' | 'unknown'; liveReplicas?: number; proberHere?: boolean; syncedMsAgo?: number; downForMs?: number } | null;
  /** What the last-minute counts span (ms): about a minute once the process has run that long. */
  trafficWindowMs: number;
  /** Every pool of the filter's configuration (the global one, each rule's). */
  pools: Array<{ pool: string; rule: number | null; tokensConfigured: number; tokensInPool: number; providerState: string; thisDocument: boolean }>;
  tokens: KeyStatus[];
}

/** The status document `vm` answers on `path` to `token` (a GET through its last configuration). */
export function statusOf(vm: Vm, path = '/status', token = 'st'): StatusDocument {
  const s = vm.newStream();
  s.onRequestHeaders({ ':method': 'GET', ':path': path, ':authority': 'gw', authorization: `Bearer ${token}` }, true);
  const body = s.localResponse?.body.toString();
  s.finish();
  if (body === undefined) throw new Error(`no status answer on ${path}`);
  return parseStatus(body);
}

/** Parses a status answer's body. */
export function parseStatus(text: string): StatusDocument {
  return JSON.parse(text) as StatusDocument;
}

/** The entry of the key with this fingerprint; throws when the document has none. */
export function keyStatus(doc: StatusDocument, fingerprint: string): KeyStatus {
  const k = doc.tokens.find((t) => t.fingerprint === fingerprint);
  if (!k) throw new Error(`no key ${fingerprint} in the status document`);
  return k;
}
