// Builds an Envoy bootstrap (as a plain object; JSON is valid YAML) with the plugin in front of
// one upstream cluster. Used by the Envoy tests and the benchmark; envoy/envoy.yaml is the
// hand-written equivalent for users.
// No root_id and no vm_id: Envoy prefixes each log line with them, and the plugin names itself
// (`ai-token-failover:`), so the line reads `wasm log: ai-token-failover: …`. Filters with the
// same (empty) vm_id and code share VMs and shared data, which is what a pool needs.

/** One key of a provider block: its token, or an object with the token and its limits. */
export type TokenEntry = string | { token?: unknown; [field: string]: unknown };
export interface ProviderConfig { apiTokens?: TokenEntry[]; [field: string]: unknown }
/** A plugin configuration as tests and tools write it; the plugin itself decides what is valid. */
export interface PluginConfig { provider?: ProviderConfig; providers?: ProviderConfig[]; [field: string]: unknown }
/** A piece of Envoy configuration (JSON is valid YAML). */
export type EnvoyConfig = Record<string, unknown>;

export interface WasmFilterOptions { wasmPath: string; pluginConfig: PluginConfig | string; vmId?: string; allowOnHeadersStopIteration?: boolean }

export function wasmFilter({ wasmPath, pluginConfig, vmId = '', allowOnHeadersStopIteration = true }: WasmFilterOptions): EnvoyConfig {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name: 'ai-token-failover',
        vm_config: { ...(vmId ? { vm_id: vmId } : {}), runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasmPath } } },
        configuration: {
          '@type': 'type.googleapis.com/google.protobuf.StringValue',
          value: typeof pluginConfig === 'string' ? pluginConfig : JSON.stringify(pluginConfig),
        },
        fail_open: false,
        allow_on_headers_stop_iteration: allowOnHeadersStopIteration,
      },
    },
  };
}

export function httpConnectionManager({ filters, routeTimeoutMs = 30000 }: { filters: EnvoyConfig[]; routeTimeoutMs?: number }): EnvoyConfig {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 'ingress',
      route_config: {
        name: 'local',
        virtual_hosts: [{ name: 'llm', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'llm', timeout: `${routeTimeoutMs / 1000}s` } }] }],
      },
      http_filters: [...filters, { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    },
  };
}

export function listener({ port, filters, name = 'ingress', routeTimeoutMs }: { port: number; filters: EnvoyConfig[]; name?: string; routeTimeoutMs?: number }): EnvoyConfig {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [httpConnectionManager({ filters, routeTimeoutMs })] }],
  };
}

export function upstreamCluster({ port, name = 'llm' }: { port: number; name?: string }): EnvoyConfig {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
}

/** Runs `filters` as upstream HTTP filters of `cluster` (before the upstream codec): built for every router attempt. */
export function withUpstreamFilters(cluster: EnvoyConfig, filters: EnvoyConfig[]): EnvoyConfig {
  return {
    ...cluster,
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http_protocol_options: {} },
        http_filters: [...filters, { name: 'envoy.filters.http.upstream_codec', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec' } }],
      },
    },
  };
}

/** Turns the fingerprint in per-token metric names into a `token` label (custom stats carry a wasmcustom. prefix). */
export const TOKEN_STATS_TAG = { tag_name: 'token', regex: '^wasmcustom\\.ai_token_failover\\.token\\.((#\\d+:[0-9a-f]+)\\.)' };
/** Turns the pool name in pool-wide metric names into a `pool` label. */
export const POOL_STATS_TAG = { tag_name: 'pool', regex: '^wasmcustom\\.ai_token_failover\\.(pool\\.([^.]+)\\.)' };

/** A whole bootstrap: listener with `filters` (default: the plugin), the llm cluster, admin. */
export interface BootstrapOptions { listenPort: number; adminPort: number; upstreamPort: number; filters: EnvoyConfig[]; listeners?: EnvoyConfig[] }

export function bootstrap({ listenPort, adminPort, upstreamPort, filters, listeners }: BootstrapOptions): EnvoyConfig {
  return {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    stats_config: { stats_tags: [TOKEN_STATS_TAG, POOL_STATS_TAG] },
    static_resources: {
      listeners: listeners ?? [listener({ port: listenPort, filters })],
      clusters: [upstreamCluster({ port: upstreamPort })],
    },
  };
}

/** Every key a plugin configuration names (strings or per-key objects, provider or providers). */
export function configuredTokens(cfg: PluginConfig): string[] {
  const blocks = [cfg.provider, ...(Array.isArray(cfg.providers) ? cfg.providers : [])];
  return blocks.flatMap((b) => (b && Array.isArray(b.apiTokens) ? b.apiTokens : []))
    .map((t) => (typeof t === 'string' ? t : t?.token))
    .filter((t): t is string => typeof t === 'string' && t.length > 0);
}
