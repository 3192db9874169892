// The Redis transport over Higress's host functions.
import { proxy_redis_call, proxy_redis_init } from "../abi/redis_imports";
import { Status } from "../abi/enums";
import { RedisTransport } from "../runtime/redis";
import { SLOT_EXTRA, ptrOf, utf8 } from "../runtime/memory";

export class HigressRedis extends RedisTransport {
  init(service: string, username: string, password: string, timeoutMs: u32): Status {
    const s = utf8(service), u = utf8(username), p = utf8(password);
    return <Status>proxy_redis_init(ptrOf(s), s.byteLength, ptrOf(u), u.byteLength, ptrOf(p), p.byteLength, timeoutMs);
  }

  call(service: string, query: ArrayBuffer): i64 {
    const s = utf8(service);
    store<u32>(SLOT_EXTRA, 0);
    const status = proxy_redis_call(ptrOf(s), s.byteLength, ptrOf(query), query.byteLength, SLOT_EXTRA);
    return status == Status.Ok ? <i64>load<u32>(SLOT_EXTRA) : -<i64>status;
  }
}
