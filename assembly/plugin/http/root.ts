// The plugin's root context: configuration, the failover coordinator, ticks and call answers.
import { BufferType, LogLevel } from "../../abi/enums";
import { createShared, readShared } from "../../runtime/shared_data";
import { getBufferBytes } from "../../runtime/buffers";
import { RootContext, StreamContext, findStream } from "../../runtime/contexts";
import { getProperty, getPropertyInt, nowMs, setEffectiveContext, setTickPeriod } from "../../runtime/host";
import { BODY_WAIT_TICK_MS } from "../streams/body_wait";
import { readEnvironmentKeys } from "../keys/env_keys";
import { hostNamesProduct, logEnabled, logError, logWarn } from "../../runtime/log";
import { parseScoped, namePools } from "../config/rules_parse";
import { PluginConfig } from "../config/config";
import { RuleMatch } from "../config/rule_match";
import { hash64 } from "../../util/fingerprint";
import { KeyedStream } from "./keyed_stream";
import { PluginScopes, RuleRouter, filterFor } from "./plugin_scopes";
import { Plugin, TickControl } from "../plugin";
import { prepareRedis } from "../replica/replica_support";

/**
 * Whether this VM is the first of the process to see this configuration text: it claims a
 * shared-data key named by the text's hash with a create-only write, which only one VM wins.
 */
function firstToConfigure(text: string): bool {
  const key = String.UTF8.encode("ai-token-failover:configured:" + hash64(text).toString(16));
  if (readShared(key) != null) return false;
  return createShared(key, String.UTF8.encode("1"));
}

/** Root context of one plugin configuration in one VM: runs the lifecycle of its Plugins (the global one, and one per Higress rule). */
export class PluginRoot extends RootContext {
  /** The configurations in force (null until one is accepted). */
  private scopes: PluginScopes | null = null;
  private readonly ticks: RootTicks = new RootTicks(this);
  /** When each Plugin's failover background work runs next (ms). */
  private nextFailoverTick: i64[] = [];
  /** When each Plugin's lease holder syncs with the other replicas next (ms). */
  private nextSync: i64[] = [];

  onConfigure(configSize: usize): bool {
    const bytes = getBufferBytes(BufferType.PluginConfiguration, 0, configSize);
    const text = bytes == null ? "" : String.UTF8.decode(bytes);
    const scoped = parseScoped(text);
    // Keys from the environment and Redis are prepared by every VM before anything is logged: a
    // refusal is a configuration error.
    const configs = scoped.error.length == 0 ? scoped.all : new Array<PluginConfig>(0);
    for (let i = 0; i < configs.length && scoped.error.length == 0; i++) {
      let refusal = readEnvironmentKeys(configs[i]);
      const redis = configs[i].redis;
      if (refusal.length == 0 && redis != null) refusal = prepareRedis(redis);
      if (refusal.length > 0) scoped.error = refusal;
    }
    const accepted = scoped.error.length == 0;
    // Every worker VM parses the same configuration: only the first to claim it logs about it.
    const speaks = (scoped.warnings.length > 0 || !accepted) && firstToConfigure(text);
    if (speaks && logEnabled(LogLevel.Warn)) {
      for (let i = 0; i < scoped.warnings.length; i++) logWarn(scoped.warnings[i]);
    }
    if (!accepted) {
      if (speaks) logError("invalid config: " + scoped.error);
      return false;
    }
    namePools(scoped);
    const pluginName = getProperty("plugin_name");
    const name = pluginName != null && pluginName.length > 0 ? pluginName : "ai-token-failover";
    // Envoy prefixes the lines of stream callbacks with `wasm log <plugin name>: `: with our name
    // there, ours would repeat it.
    hostNamesProduct(name == "ai-token-failover" && pluginName != null);
    const g = scoped.global;
    const global = g != null ? new Plugin(g, name, this.id, this.ticks) : null;
    const matches: RuleMatch[] = [];
    const rulePlugins: Plugin[] = [];
    for (let i = 0; i < scoped.rules.length; i++) {
      matches.push(scoped.rules[i].match);
      rulePlugins.push(new Plugin(scoped.rules[i].config, name, this.id, this.ticks));
    }
    for (let i = 0; i < rulePlugins.length; i++) rulePlugins[i].rule = i;
    const scopes = new PluginScopes(global, matches, rulePlugins);
    for (let i = 0; i < scopes.plugins.length; i++) scopes.plugins[i].siblings = scopes.plugins;
    this.scopes = scopes;
    this.nextFailoverTick = new Array<i64>(scopes.plugins.length).fill(0);
    this.nextSync = new Array<i64>(scopes.plugins.length).fill(0);
    this.ticks.plugins = scopes.plugins;
    this.ticks.update(0);
    return true;
  }

  onTick(): void {
    const scopes = this.scopes;
    if (scopes == null) return;
    const now = nowMs();
    for (let i = 0; i < scopes.plugins.length; i++) this.background(i, scopes.plugins[i], now);
    this.ticks.update(0);
  }

  // Plugin `i`'s background work: traffic counts, held bodies, the queue, failover, replicas.
  private background(i: i32, plugin: Plugin, now: i64): void {
    plugin.traffic.sampleIfDue(now);
    if (plugin.bodyWait.waiting) this.releaseWithoutBody(plugin, now);
    const queue = plugin.queue;
    if (queue != null) queue.run(now, this.id);
    const f = plugin.failover;
    // Fast ticks while a request waits for its body do not make the background work run faster.
    if (f != null && now + <i64>BODY_WAIT_TICK_MS >= this.nextFailoverTick[i]) {
      this.nextFailoverTick[i] = now + <i64>plugin.config.failover.healthCheckInterval;
      f.onTick(plugin.random);
    }
    const replica = plugin.replica;
    if (f != null && replica != null && f.holdsLease && now + <i64>BODY_WAIT_TICK_MS >= this.nextSync[i]) {
      this.nextSync[i] = now + <i64>replica.syncInterval;
      replica.sync(now);
    }
  }

  // Held requests whose body Envoy received but did not show in time go on without it, and one VM
  // of the process says why; a held request whose client has sent no body byte yet waits on.
  private releaseWithoutBody(plugin: Plugin, now: i64): void {
    const wait = plugin.bodyWait;
    const ids = wait.due(now);
    for (let k = 0; k < ids.length; k++) {
      const stream = findStream(ids[k]);
      if (stream == null || !setEffectiveContext(ids[k])) {
        wait.forget(ids[k]);
        continue;
      }
      if (!wait.withheld(ids[k], getPropertyInt("request.total_size"), now)) continue;
      if (wait.claimHidden() && logEnabled(LogLevel.Warn)) {
        logWarn("Envoy does not pass request bodies to this filter while it holds the headers: set " +
          "allow_on_headers_stop_iteration: true on the envoy.filters.http.wasm filter; until then model lists " +
          "and tpm apply without the request body, and answers a failure rule matched are not retried (see docs/envoy.md, Envoy options)");
      }
      changetype<KeyedStream>(stream).goOnWithoutBody();
    }
    if (ids.length > 0) setEffectiveContext(this.id);
  }

  createStream(id: u32): StreamContext {
    const scopes = this.scopes;
    // Envoy creates no stream for a configuration it refused; the plain context passes everything.
    if (scopes == null) return new StreamContext(id, this);
    if (scopes.hasRules) return new RuleRouter(id, this, scopes);
    return filterFor(scopes.global!, id, this);
  }
}

/**
 * The root's tick period: fast while a request waits for its body or in the queue, healthCheckInterval for
 * failover, else none. The tick belongs to the root context, so it is set with the root effective.
 */
class RootTicks extends TickControl {
  plugins: Plugin[] = [];
  private period: u32 = 0;

  constructor(private root: RootContext) { super(); }

  update(from: u32): void {
    const plugins = this.plugins;
    if (plugins.length == 0) return;
    let slow: u32 = 0;
    let fast = false;
    for (let i = 0; i < plugins.length; i++) {
      const plugin = plugins[i];
      const cfg = plugin.config;
      // A status-only instance reads what the upstream instance of its VM keeps: no background work.
      let own: u32 = cfg.failover.enabled && !cfg.statusOnly ? <u32>cfg.failover.healthCheckInterval : 0;
      const redis = cfg.redis;
      if (redis != null && <u32>redis.syncInterval < own) own = <u32>redis.syncInterval;
      if (own > 0 && (slow == 0 || own < slow)) slow = own;
      // The queue's waiters are tried as often as held bodies are waited for.
      fast = fast || plugin.bodyWait.waiting || (plugin.queue != null && plugin.queue!.count > 0);
    }
    const period = fast && (slow == 0 || slow > BODY_WAIT_TICK_MS) ? BODY_WAIT_TICK_MS : slow;
    if (period == this.period) return;
    this.period = period;
    if (from != 0) setEffectiveContext(this.root.id);
    setTickPeriod(period);
    if (from != 0) setEffectiveContext(from);
  }
}
