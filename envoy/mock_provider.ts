// A mock OpenAI-compatible provider whose answer depends on the API token it receives.
// Behaviours are switched at run time through /__mock/* endpoints; every request is recorded.
//
//   node --import tsx envoy/mock_provider.ts [port]            (default 8081; MOCK_HOST sets the address)
//   POST /__mock/tokens {"sk-b":"401","sk-c":{"status":429,"retryAfter":2}}   set behaviours
//   POST /__mock/reset                           all tokens healthy, log cleared
//   GET  /__mock/requests                        recorded requests (token, path, body, ...)
//
// Behaviours: "ok" (default), a status such as "401" / "429" / "500", or an object with
// status, retryAfter (seconds), delayMs, body, headers, chunkDelayMs (SSE pacing), gzip (compress
// the answer when the request accepts gzip), bodyBytes (a 200 answer of that many bytes),
// rateLimit ({requests, windowMs}: a fixed window per key, started by its first request; every
// answer carries OpenAI's x-ratelimit-{limit,remaining,reset}-requests headers, and a request over
// the limit gets 429; with bucket: true a token bucket of `requests` refilled continuously over
// windowMs, starting full, as OpenAI and Anthropic describe theirs), noHeaders (with rateLimit:
// answer 429 without any rate-limit header), failFirstBy (a request header name: the first request
// carrying each value of it gets `status`, any later one 200, so a retry of it succeeds), when
// ([{path?, header?: "name=value", status, headers?, body?}]: the first rule whose path starts the
// request's path and whose header the request carries decides the answer, as an admin-only
// endpoint, a foreign organization header or a request too large for the key's limit would),
// GET …/models and …/models/{id} answer (when the behaviour is 200) with OpenAI's model list shapes.
// reset ("before-headers": close the connection without answering; "mid-body": send the headers
// and half the body, then close it; "mid-stream": a stream's first two chunks, then close it), bodyDelayMs (send the headers at once and the body that much later).
//
// Options for tests: `tls: { cert, key }` serves HTTPS and records the SNI each request came
// with; `provider: { host, pathPrefix }` answers like a real provider behind a fixed name:
// 421 for another Host, 404 for a path outside the prefix.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { constants as cryptoConstants } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';

/** What the mock does for one token: "ok", a status, or the fields below. */
export interface Behaviour {
  status?: number;
  retryAfter?: number | string;
  delayMs?: number;
  body?: string;
  headers?: Record<string, string>;
  chunkDelayMs?: number;
  gzip?: boolean;
  bodyBytes?: number;
  rateLimit?: { requests: number; windowMs: number; bucket?: boolean };
  failFirstBy?: string;
  when?: Array<{ path?: string; header?: string; status: number; headers?: Record<string, string>; body?: string }>;
  noHeaders?: boolean;
  reset?: 'before-headers' | 'mid-body' | 'mid-stream';
  bodyDelayMs?: number;
}
export type BehaviourSpec = Behaviour | string | number;
type Resolved = Behaviour & { status: number };

/** One request the mock received, as /__mock/requests lists it. */
export interface RecordedRequest {
  time: number;
  method: string | undefined;
  path: string | undefined;
  host: string | undefined;
  sni: string | null;
  token: string | null;
  credentials: Record<string, string | string[] | undefined>;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, or the body as text when it is not JSON. */
  body: unknown;
  status?: number;
}

export interface MockOptions { tls?: { cert: string | Buffer; key: string | Buffer }; provider?: { host: string; pathPrefix: string } }

export interface MockProvider {
  port: number;
  server: http.Server;
  behaviours: Map<string, BehaviourSpec>;
  requests: RecordedRequest[];
  /** POSTs to /__mock/hook (a webhook's notifications). */
  hooks: Array<{ time: number; headers: http.IncomingHttpHeaders; body: string }>;
  windows: Map<string, { start: number; used: number }>;
  close: () => Promise<void>;
}

const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'x-goog-api-key'];

function tokenOf(req: http.IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (auth && auth.startsWith('Bearer ')) return auth.slice(7);
  return headerText(req.headers['api-key']) ?? headerText(req.headers['x-api-key']);
}

function headerText(v: string | string[] | undefined): string | null {
  return v === undefined ? null : Array.isArray(v) ? v.join(',') : v;
}

function normalise(behaviour: BehaviourSpec | undefined): Resolved {
  if (behaviour === undefined || behaviour === 'ok') return { status: 200 };
  if (typeof behaviour === 'string' || typeof behaviour === 'number') return { status: Number(behaviour) };
  return { status: 200, ...behaviour };
}

function completion(model: string | undefined, text: string): string {
  return JSON.stringify({
    id: 'chatcmpl-mock', object: 'chat.completion', created: 1700000000, model: model ?? 'mock-model',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
  });
}

// GET …/models lists the mock's models, GET …/models/{id} describes one, as OpenAI answers them.
const MODEL_IDS = ['gpt-4o-mini', 'gpt-4o'];
function modelListing(pathname: string): string | null {
  const model = (id: string) => ({ id, object: 'model', created: 1700000000, owned_by: 'mock' });
  if (pathname.endsWith('/models')) return JSON.stringify({ object: 'list', data: MODEL_IDS.map(model) });
  const at = pathname.lastIndexOf('/models/');
  return at >= 0 ? JSON.stringify(model(decodeURIComponent(pathname.slice(at + 8)))) : null;
}

function errorBody(status: number): string {
  const kinds: Record<number, string> = { 400: 'invalid_request_error', 401: 'invalid_api_key', 403: 'permission_denied', 429: 'rate_limit_exceeded' };
  return JSON.stringify({ error: { message: `mock provider answered ${status}`, type: kinds[status] ?? 'server_error', code: status } });
}

export function startMockProvider(port = 0, host = '127.0.0.1', { tls, provider }: MockOptions = {}): Promise<MockProvider> {
  const behaviours = new Map<string, BehaviourSpec>();
  const requests: RecordedRequest[] = [];
  const hooks: MockProvider['hooks'] = [];
  const windows = new Map<string, { start: number; used: number }>();
  const buckets = new Map<string, { level: number; at: number }>();
  const seenIds = new Set<string>();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  };
  // No session resumption: Node reports the SNI of resumed sessions as false, and every request's
  // SNI is recorded.
  const server = tls ? https.createServer({ cert: tls.cert, key: tls.key, secureOptions: cryptoConstants.SSL_OP_NO_TICKET, maxVersion: 'TLSv1.2' }, onRequest) : http.createServer(onRequest);
  server.keepAliveTimeout = 60_000;

  function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
    const url = new URL(req.url ?? '/', 'http://mock');
    if (url.pathname === '/__mock/tokens' && req.method === 'POST') {
      for (const [t, b] of Object.entries(JSON.parse(body.toString() || '{}') as Record<string, BehaviourSpec>)) behaviours.set(t, b);
      return send(res, 200, { 'content-type': 'application/json' }, '{"ok":true}');
    }
    if (url.pathname === '/__mock/reset' && req.method === 'POST') {
      behaviours.clear();
      requests.length = 0;
      buckets.clear();
      seenIds.clear();
      return send(res, 200, { 'content-type': 'application/json' }, '{"ok":true}');
    }
    // The operator's webhook (the plugin's notify): recorded apart from the provider's requests.
    if (url.pathname === '/__mock/hook' && req.method === 'POST') {
      hooks.push({ time: Date.now(), headers: req.headers, body: body.toString() });
      return send(res, 200, { 'content-type': 'application/json' }, '{"ok":true}');
    }
    if (url.pathname === '/__mock/requests') {
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(requests));
    }
    let parsed: { model?: string; stream?: unknown } | null = null;
    try { parsed = JSON.parse(body.toString()); } catch { /* not JSON: answered as is */ }
    const token = tokenOf(req);
    const credentials = Object.fromEntries(CREDENTIAL_HEADERS.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]]));
    requests.push({ time: Date.now(), method: req.method, path: req.url, host: req.headers.host, sni: (req.socket as import('node:tls').TLSSocket).servername || null, token, credentials, headers: req.headers, body: parsed ?? body.toString() });
    if (provider && req.headers.host !== provider.host) return send(res, 421, { 'content-type': 'application/json' }, errorBody(421));
    if (provider && !url.pathname.startsWith(provider.pathPrefix)) return send(res, 404, { 'content-type': 'application/json' }, errorBody(404));
    let b: Resolved = token === null ? { status: 401 } : normalise(behaviours.get(token));
    const limitHeaders: Record<string, string> = {};
    const rule = b.when?.find((r) => (r.path === undefined || url.pathname.startsWith(r.path)) &&
      (r.header === undefined || headerText(req.headers[r.header.split('=')[0]]) === r.header.split('=').slice(1).join('=')));
    if (rule) b = { status: rule.status, headers: rule.headers, body: rule.body };
    if (b.failFirstBy) {
      const id = headerText(req.headers[b.failFirstBy]);
      if (id !== null && seenIds.has(id)) b = { status: 200, chunkDelayMs: b.chunkDelayMs };
      else if (id !== null) seenIds.add(id);
    }
    if (b.rateLimit?.bucket && token !== null) {
      const now = Date.now();
      const { requests: cap, windowMs } = b.rateLimit;
      let bucket = buckets.get(token);
      if (!bucket) { bucket = { level: cap, at: now }; buckets.set(token, bucket); }
      bucket.level = Math.min(cap, bucket.level + ((now - bucket.at) * cap) / windowMs);
      bucket.at = now;
      const over = bucket.level < 1;
      if (!over) bucket.level -= 1;
      if (!b.noHeaders) {
        limitHeaders['x-ratelimit-limit-requests'] = String(cap);
        limitHeaders['x-ratelimit-remaining-requests'] = String(Math.floor(bucket.level));
        limitHeaders['x-ratelimit-reset-requests'] = `${Math.ceil(((cap - bucket.level) * windowMs) / cap)}ms`;
      }
      if (over) b = { ...b, status: 429 };
      requests[requests.length - 1].status = b.status;
    } else if (b.rateLimit && token !== null) {
      const now = Date.now();
      let w = windows.get(token);
      if (!w || now >= w.start + b.rateLimit.windowMs) { w = { start: now, used: 0 }; windows.set(token, w); }
      const over = w.used >= b.rateLimit.requests;
      if (!over) w.used++;
      if (!b.noHeaders) {
        limitHeaders['x-ratelimit-limit-requests'] = String(b.rateLimit.requests);
        limitHeaders['x-ratelimit-remaining-requests'] = String(b.rateLimit.requests - w.used);
        limitHeaders['x-ratelimit-reset-requests'] = `${w.start + b.rateLimit.windowMs - now}ms`;
      }
      if (over) b = { ...b, status: 429 };
      requests[requests.length - 1].status = b.status;
    }
    const reply = () => {
      if (b.reset === 'before-headers') return void req.socket.destroy();
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-mock-token-seen': token === null ? 'none' : 'yes', ...limitHeaders, ...(b.headers ?? {}) };
      if (b.retryAfter !== undefined) headers['retry-after'] = String(b.retryAfter);
      let text = b.status !== 200 ? b.body ?? errorBody(b.status) : null;
      if (text === null && parsed && parsed.stream === true) return streamCompletion(res, parsed.model, b.chunkDelayMs ?? 0, b.reset === 'mid-stream' ? 2 : -1);
      if (text === null && req.method === 'GET') text = modelListing(url.pathname);
      if (text === null) text = b.bodyBytes ? bigCompletion(b.bodyBytes) : b.body ?? completion(parsed?.model, 'Hello from the mock provider.');
      if (b.gzip && /gzip/.test(headerText(req.headers['accept-encoding']) ?? '')) {
        headers['content-encoding'] = 'gzip';
        return send(res, b.status, headers, zlib.gzipSync(text));
      }
      if (b.reset === 'mid-body') return resetMidBody(res, b.status, headers, text);
      if (b.bodyDelayMs) return sendBodyLater(res, b.status, headers, text, b.bodyDelayMs);
      send(res, b.status, headers, text);
    };
    if (b.delayMs) setTimeout(reply, b.delayMs); else reply();
  }

  return new Promise((resolve, reject) => {
    // A busy port rejects (EADDRINUSE) instead of throwing from the server's 'error' event.
    server.once('error', reject);
    server.listen(port, host, () => resolve({
      port: (server.address() as AddressInfo).port,
      server,
      behaviours,
      requests,
      hooks,
      windows,
      close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    }));
  });
}

function bigCompletion(bytes: number): string {
  const head = completion('mock-model', '');
  return head.replace('"content":""', `"content":"${'x'.repeat(Math.max(0, bytes - head.length))}"`);
}

function send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendBodyLater(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string, delayMs: number): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.flushHeaders();
  setTimeout(() => res.end(body), delayMs);
}

function resetMidBody(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, { ...headers, 'content-length': bytes.length });
  res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy());
}

// `cutAfter` >= 0: the connection is closed after that many chunks, mid-stream.
function streamCompletion(res: http.ServerResponse, model: string | undefined, chunkDelayMs: number, cutAfter: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const words = ['Hello', ' from', ' the', ' mock', ' provider.'];
  let i = 0;
  const next = () => {
    if (i === cutAfter) {
      res.socket?.destroy();
    } else if (i < words.length) {
      const delta = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', model: model ?? 'mock-model', choices: [{ index: 0, delta: { content: words[i] } }] };
      res.write(`data: ${JSON.stringify(delta)}\n\n`);
      i++;
      setTimeout(next, chunkDelayMs);
    } else {
      res.end('data: [DONE]\n\n');
    }
  };
  next();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[2] ?? 8081);
  const host = process.env.MOCK_HOST ?? '127.0.0.1';
  startMockProvider(port, host).then((m) => console.log(`mock provider listening on ${host}:${m.port}`));
}
