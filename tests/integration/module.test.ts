// The built module's interface, and the first behaviour, inside the host emulator.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import path from 'node:path';
import { DEFAULT_WASM, Host } from '../host/emulator.js';

const HIGRESS_WASM = path.join(path.dirname(DEFAULT_WASM), 'plugin.higress.wasm');

const ALLOWED_WASI = new Set(['random_get', 'fd_write', 'clock_time_get', 'environ_get', 'environ_sizes_get', 'args_get', 'args_sizes_get', 'proc_exit']);
const ABI_0_2_1_HOST_FUNCTIONS = new Set([
  'proxy_log', 'proxy_get_log_level', 'proxy_get_current_time_nanoseconds', 'proxy_set_tick_period_milliseconds',
  'proxy_get_buffer_bytes', 'proxy_set_buffer_bytes', 'proxy_get_buffer_status', 'proxy_get_header_map_pairs',
  'proxy_set_header_map_pairs', 'proxy_get_header_map_value', 'proxy_add_header_map_value',
  'proxy_replace_header_map_value', 'proxy_remove_header_map_value', 'proxy_get_property', 'proxy_set_property',
  'proxy_get_shared_data', 'proxy_set_shared_data', 'proxy_register_shared_queue', 'proxy_resolve_shared_queue',
  'proxy_enqueue_shared_queue', 'proxy_dequeue_shared_queue', 'proxy_http_call', 'proxy_send_local_response',
  'proxy_set_effective_context', 'proxy_continue_stream', 'proxy_close_stream', 'proxy_done',
  'proxy_define_metric', 'proxy_increment_metric', 'proxy_record_metric', 'proxy_get_metric',
]);
const EXPORTS_ALLOWED = /^(proxy_on_[a-z_]+|proxy_abi_version_0_2_1|_initialize|memory)$/;

const CONFIG = { provider: { apiTokens: ['sk-a', 'sk-b', 'sk-c', 'sk-d'] } };

test('module imports only ABI 0.2.1 proxy_* functions and WASI functions Envoy provides', () => {
  const mod = new WebAssembly.Module(fs.readFileSync(DEFAULT_WASM));
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (imp.module === 'env') assert.ok(ABI_0_2_1_HOST_FUNCTIONS.has(imp.name), `unexpected import env.${imp.name}`);
    else assert.ok(imp.module === 'wasi_snapshot_preview1' && ALLOWED_WASI.has(imp.name), `unexpected import ${imp.module}.${imp.name}`);
  }
});

test('the Higress build imports the standard build\'s functions and Higress\'s two Redis functions, nothing else', () => {
  const importsOf = (file: string) => WebAssembly.Module.imports(new WebAssembly.Module(fs.readFileSync(file))).map((i) => `${i.module}.${i.name}`).sort();
  const standard = importsOf(DEFAULT_WASM);
  const higress = importsOf(HIGRESS_WASM);
  assert.ok(!standard.some((n) => n.includes('redis')), standard.join(' '));
  assert.deepEqual(higress.filter((n) => !standard.includes(n)), ['env.proxy_redis_call', 'env.proxy_redis_init']);
  assert.ok(standard.every((n) => higress.includes(n)));
  const exportsOf = (file: string) => WebAssembly.Module.exports(new WebAssembly.Module(fs.readFileSync(file))).map((e) => e.name);
  assert.ok(!exportsOf(DEFAULT_WASM).includes('proxy_on_redis_call_response'));
  assert.ok(exportsOf(HIGRESS_WASM).includes('proxy_on_redis_call_response'));
});

test('module exports the ABI marker, _initialize, memory, an allocator and callbacks only; no start section', () => {
  const bytes = fs.readFileSync(DEFAULT_WASM);
  const mod = new WebAssembly.Module(bytes);
  const names = WebAssembly.Module.exports(mod).map((e) => e.name);
  for (const n of ['proxy_abi_version_0_2_1', '_initialize', 'memory', 'proxy_on_memory_allocate']) assert.ok(names.includes(n), `missing export ${n}`);
  for (const n of names) assert.match(n, EXPORTS_ALLOWED, `unexpected export ${n}`);
  // A callback that does nothing is not exported: Envoy skips it (one Wasm entry per request fewer).
  assert.ok(!names.includes('proxy_on_done'), 'proxy_on_done is exported');
  assert.ok(!hasStartSection(bytes), 'module has a start section');
});

function hasStartSection(bytes: Buffer): boolean {
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos++];
    let size = 0, shift = 0, b;
    do { b = bytes[pos++]; size |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    if (id === 8) return true;
    pos += size;
  }
  return false;
}

test('every request gets a pool token in the provider header; client credentials are removed', () => {
  const host = new Host();
  const vm = host.createVm();
  assert.equal(vm.configure(CONFIG)[0], true);
  const seen = new Map();
  for (let i = 0; i < 400; i++) {
    const s = vm.newStream();
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'api', authorization: 'Bearer client-own', 'api-key': 'client-own', 'x-api-key': 'client-own' });
    assert.equal(s.requestHeaders.get('api-key'), null);
    assert.equal(s.requestHeaders.get('x-api-key'), null);
    const auth = s.requestHeaders.get('authorization');
    assert.match(auth ?? '', /^Bearer sk-[abcd]$/);
    seen.set(auth, (seen.get(auth) ?? 0) + 1);
    s.finish();
  }
  assert.equal(seen.size, 4);
  for (const n of seen.values()) assert.ok(n >= 60 && n <= 140, `uneven spread ${[...seen.values()]}`);
});

test('azure and claude providers get their own header', () => {
  for (const [type, header] of [['azure', 'api-key'], ['claude', 'x-api-key']]) {
    const vm = new Host().createVm();
    assert.equal(vm.configure({ provider: { type, apiTokens: ['k1'] } })[0], true);
    const s = vm.newStream();
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'a', authorization: 'Bearer client-own' });
    assert.equal(s.requestHeaders.get(header), 'k1');
    assert.equal(s.requestHeaders.get('authorization'), null);
  }
});

test('invalid configuration is refused with one error line naming the field, and no token in it', () => {
  const host = new Host();
  const vm = host.createVm();
  const [ok] = vm.configure({ provider: { apiTokens: ['sk-secret-1', 'sk-secret-1'] } });
  assert.equal(ok, false);
  const errors = host.logs.filter((l) => l.level >= 4);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].msg, 'ai-token-failover: invalid config: provider.apiTokens[1] duplicates an earlier token');
  assert.ok(!host.logs.some((l) => l.msg.includes('sk-secret-1')));
});

test('unknown fields are accepted with one warning each', () => {
  const host = new Host();
  const vm = host.createVm();
  assert.equal(vm.configure({ provider: { apiTokens: ['a'], modelMapping: {} }, extra: 1 })[0], true);
  assert.deepEqual(host.logs.filter((l) => l.level === 3).map((l) => l.msg), [
    'ai-token-failover: unknown field extra ignored',
    'ai-token-failover: unknown field provider.modelMapping ignored',
  ]);
});

test('with retry on (headers captured), client credentials in any header are still removed', () => {
  const vm = new Host().createVm();
  assert.equal(vm.configure({ provider: { apiTokens: ['k1', 'k2'], retryOnFailure: { enabled: true } } })[0], true);
  const credentialSets: Array<Record<string, string>> = [{ 'api-key': 'client-own' }, { 'x-api-key': 'client-own', authorization: 'Bearer client-own' }, {}];
  for (const creds of credentialSets) {
    const s = vm.newStream();
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/chat/completions', ':authority': 'a', ...creds });
    assert.equal(s.requestHeaders.get('api-key'), null);
    assert.equal(s.requestHeaders.get('x-api-key'), null);
    assert.match(s.requestHeaders.get('authorization') ?? '', /^Bearer k[12]$/);
  }
});

test('build/plugin.wasm stays under 224 KiB (a bound that catches an accidental dependency)', () => {
  const size = fs.statSync(DEFAULT_WASM).size;
  assert.ok(size < 224 * 1024, `${size} bytes`);
});

test('Higress providers + activeProviderId: the active provider\'s keys and header are used; warnings come once per process', () => {
  const host = new Host();
  const vms = [host.createVm(), host.createVm(), host.createVm()];
  const config = {
    activeProviderId: 'b',
    providers: [{ id: 'a', apiTokens: ['sk-prov-a1'] }, { id: 'b', type: 'claude', apiTokens: ['sk-prov-b1', 'sk-prov-b2'], protocol: 'openai' }],
  };
  for (const vm of vms) assert.equal(vm.configure(config)[0], true);
  const used = new Set();
  for (let i = 0; i < 30; i++) {
    const s = vms[i % 3].newStream();
    s.onRequestHeaders({ ':method': 'POST', ':path': '/v1/messages', ':authority': 'a', 'x-api-key': 'client' }, true);
    used.add(s.requestHeaders.get('x-api-key'));
    s.finish();
  }
  assert.deepEqual([...used].sort(), ['sk-prov-b1', 'sk-prov-b2']);
  assert.deepEqual(host.logs.filter((l) => l.level >= 3).map((l) => l.msg), ['ai-token-failover: unknown field providers[1].protocol ignored']);
});
