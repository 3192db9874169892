// A mock OpenAI-compatible provider whose answer depends on the API token it receives.
// Behaviours are switched at run time through /__mock/* endpoints; every request is recorded.
//
//   node envoy/mock_provider.js [port]            (default 8081; MOCK_HOST sets the address)
//   POST /__mock/tokens {"sk-b":"401","sk-c":{"status":429,"retryAfter":2}}   set behaviours
//   POST /__mock/reset                           all tokens healthy, log cleared
//   GET  /__mock/requests                        recorded requests (token, path, body, ...)
//
// Behaviours: "ok" (default), a status such as "401" / "429" / "500", or an object with
// status, retryAfter (seconds), delayMs, body, headers, chunkDelayMs (SSE pacing).
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const CREDENTIAL_HEADERS = ['authorization', 'api-key', 'x-api-key'];

function tokenOf(req) {
  const auth = req.headers.authorization;
  if (auth && auth.startsWith('Bearer ')) return auth.slice(7);
  return req.headers['api-key'] ?? req.headers['x-api-key'] ?? null;
}

function normalise(behaviour) {
  if (behaviour === undefined || behaviour === 'ok') return { status: 200 };
  if (typeof behaviour === 'string' || typeof behaviour === 'number') return { status: Number(behaviour) };
  return { status: 200, ...behaviour };
}

function completion(model, text) {
  return JSON.stringify({
    id: 'chatcmpl-mock', object: 'chat.completion', created: 1700000000, model: model ?? 'mock-model',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
  });
}

function errorBody(status) {
  const kinds = { 400: 'invalid_request_error', 401: 'invalid_api_key', 403: 'permission_denied', 429: 'rate_limit_exceeded' };
  return JSON.stringify({ error: { message: `mock provider answered ${status}`, type: kinds[status] ?? 'server_error', code: status } });
}

export function startMockProvider(port = 0, host = '127.0.0.1') {
  const behaviours = new Map();
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 60_000;

  function handle(req, res, body) {
    const url = new URL(req.url, 'http://mock');
    if (url.pathname === '/__mock/tokens' && req.method === 'POST') {
      for (const [t, b] of Object.entries(JSON.parse(body.toString() || '{}'))) behaviours.set(t, b);
      return send(res, 200, { 'content-type': 'application/json' }, '{"ok":true}');
    }
    if (url.pathname === '/__mock/reset' && req.method === 'POST') {
      behaviours.clear();
      requests.length = 0;
      return send(res, 200, { 'content-type': 'application/json' }, '{"ok":true}');
    }
    if (url.pathname === '/__mock/requests') {
      return send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(requests));
    }
    let parsed = null;
    try { parsed = JSON.parse(body.toString()); } catch { /* not JSON: answered as is */ }
    const token = tokenOf(req);
    const credentials = Object.fromEntries(CREDENTIAL_HEADERS.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]]));
    requests.push({ time: Date.now(), method: req.method, path: req.url, host: req.headers.host, token, credentials, headers: req.headers, body: parsed ?? body.toString() });
    const b = token === null ? { status: 401 } : normalise(behaviours.get(token));
    const reply = () => {
      const headers = { 'content-type': 'application/json', 'x-mock-token-seen': token === null ? 'none' : 'yes', ...(b.headers ?? {}) };
      if (b.retryAfter !== undefined) headers['retry-after'] = String(b.retryAfter);
      if (b.status !== 200) return send(res, b.status, headers, b.body ?? errorBody(b.status));
      if (parsed && parsed.stream === true) return streamCompletion(res, parsed.model, b.chunkDelayMs ?? 0);
      send(res, 200, headers, b.body ?? completion(parsed?.model, 'Hello from the mock provider.'));
    };
    if (b.delayMs) setTimeout(reply, b.delayMs); else reply();
  }

  return new Promise((resolve) => {
    server.listen(port, host, () => resolve({
      port: server.address().port,
      server,
      behaviours,
      requests,
      close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
    }));
  });
}

function send(res, status, headers, body) {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function streamCompletion(res, model, chunkDelayMs) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const words = ['Hello', ' from', ' the', ' mock', ' provider.'];
  let i = 0;
  const next = () => {
    if (i < words.length) {
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
