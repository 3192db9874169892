// Redis commands through the host, where the host has them (Higress): the transport is installed
// by the Higress entry (index.higress.ts); the standard build has none. Replies come to the root
// context with the command's token; the reply is readable only while its handler runs.
import { BufferType, Status } from "../abi/enums";
import { getBufferBytes } from "./buffers";
import { parseReply, RespValue } from "../util/resp";

/** How the host carries Redis commands; `call` returns the token, or -status when refused. */
export abstract class RedisTransport {
  abstract init(service: string, username: string, password: string, timeoutMs: u32): Status;
  abstract call(service: string, query: ArrayBuffer): i64;
}

/**
 * Receives the reply of one command (the root context is effective): a RESP value, Redis errors
 * included, or null after a network error (status 1: connect or command timeout, connection closed).
 */
export abstract class RedisHandler {
  abstract onReply(reply: RespValue | null): void;
}

let transport: RedisTransport | null = null;
const pending = new Map<u32, RedisHandler>();

/** Installs the host's Redis functions (the Higress entry does, once). */
export function installRedisTransport(t: RedisTransport): void { transport = t; }

/** Whether this build can reach Redis at all. */
export function redisAvailable(): bool { return transport != null; }

/** Prepares `service` (an Envoy cluster) for commands; opens no connection. */
export function redisInit(service: string, username: string, password: string, timeoutMs: u32): Status {
  const t = transport;
  return t == null ? Status.Unimplemented : t.init(service, username, password, timeoutMs);
}

/** Sends one command; Ok, or the host's refusal (BadArgument: unknown cluster; InternalFailure: no host). */
export function redisCall(service: string, query: ArrayBuffer, handler: RedisHandler): Status {
  const t = transport;
  if (t == null) return Status.Unimplemented;
  const token = t.call(service, query);
  if (token < 0) return <Status>(<i32>-token);
  pending.set(<u32>token, handler);
  return Status.Ok;
}

/** Routes the reply of command `token` (from proxy_on_redis_call_response). */
export function routeRedisReply(token: u32, status: u32, size: usize): void {
  if (!pending.has(token)) return;
  const handler = pending.get(token);
  pending.delete(token);
  let reply: RespValue | null = null;
  if (status == 0) {
    const bytes = size > 0 ? getBufferBytes(BufferType.RedisCallResponse, 0, size) : null;
    reply = parseReply(bytes != null ? bytes : new ArrayBuffer(0));
  }
  handler.onReply(reply);
}
