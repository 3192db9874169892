// What the route does to a request before it leaves for the provider. In Envoy the request
// headers a filter sees are the client's; the router then rewrites the host and path and adds the
// route's headers, and that rewritten map is readable again only at access-log time (checked in
// Envoy 1.40: in the response and body callbacks the request map and the request.* properties are
// empty). So each VM learns, per client host and path, from the log of one request what the route
// sent, and replays retries the same way. Pure (route_shapes.ts keeps them).
import { HeaderList } from "../../util/header_list";
import { CREDENTIAL_HEADERS } from "../keys/credential_headers";
import { pathOnly } from "../../util/path";

/** A learned shape is used this long, then learned again from the next request (routes change). */
export const SHAPE_TTL_MS: i64 = 60_000;

// Hop-by-hop headers, and content-length, which the host recomputes for a body it sends.
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "content-length"];

/** Headers that are never part of a shape: pseudo headers (kept apart), credentials, hop-by-hop,
 *  and the router's own per-attempt bookkeeping (`x-envoy-*`: expected-rq-timeout-ms, original-path,
 *  original-host, attempt-count). */
export function isRouteBookkeeping(name: string): bool {
  return name.startsWith(":") || name.startsWith("x-envoy-") || CREDENTIAL_HEADERS.includes(name) || HOP_BY_HOP.includes(name);
}

/** The query string of a path, "?" included, or "". */
export function queryOf(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? "" : path.substring(q);
}

/** What the route sent for one client host and path. */
export class RouteShape {
  /** Headers the route added or changed (name, value). */
  changed: HeaderList = new HeaderList();
  /** Headers the client sent that the route removed. */
  removed: string[] = [];
  constructor(public authority: string, public path: string, public learnedAt: i64) {}

  /** Lines: learnedAt, authority, path, then `+name:value` per changed header, `-name` per removed one. */
  encode(): string {
    const lines: string[] = [this.learnedAt.toString(), this.authority, this.path];
    for (let i = 0; i < this.changed.length; i++) lines.push("+" + this.changed.names[i] + ":" + this.changed.values[i]);
    for (let i = 0; i < this.removed.length; i++) lines.push("-" + this.removed[i]);
    return lines.join("\n");
  }

  /** Whether `other` describes the same route (learning time aside). */
  sameRoute(other: RouteShape): bool {
    const a = this.encode(), b = other.encode();
    return a.substring(a.indexOf("\n")) == b.substring(b.indexOf("\n"));
  }

  static decode(s: string): RouteShape | null {
    const lines = s.split("\n");
    if (lines.length < 3) return null;
    const at = I64.parseInt(lines[0]);
    if (at <= 0 || lines[1].length == 0 || lines[2].length == 0) return null;
    const shape = new RouteShape(lines[1], lines[2], at);
    for (let i = 3; i < lines.length; i++) {
      const l = lines[i];
      const colon = l.indexOf(":");
      if (l.startsWith("+") && colon > 1) shape.changed.add(l.substring(1, colon), l.substring(colon + 1));
      else if (l.startsWith("-") && l.length > 1) shape.removed.push(l.substring(1));
    }
    return shape;
  }

  /** Derives the shape from the client's headers and the headers as the router sent them. */
  static derive(client: HeaderList, sent: HeaderList, now: i64): RouteShape | null {
    const authority = sent.get(":authority");
    const path = sent.get(":path");
    if (authority == null || path == null) return null;
    const shape = new RouteShape(authority, pathOnly(path), now);
    for (let i = 0; i < sent.length; i++) {
      const name = sent.names[i];
      if (isRouteBookkeeping(name)) continue;
      const was = client.get(name);
      if (was == null || was != sent.values[i]) shape.changed.add(name, sent.values[i]);
    }
    for (let i = 0; i < client.length; i++) {
      const name = client.names[i];
      if (!isRouteBookkeeping(name) && sent.get(name) == null && !shape.removed.includes(name)) shape.removed.push(name);
    }
    return shape;
  }
}

// FNV-1a over `len` bytes at `ptr`, stopping at `stop` (-1: never).
function hashBytes(h: u64, ptr: usize, len: usize, stop: i32): u64 {
  for (let i: usize = 0; i < len; i++) {
    const c = <i32>load<u8>(ptr + i);
    if (c == stop) break;
    h = (h ^ <u64>c) * 0x100000001b3;
  }
  return h;
}

/**
 * Key of a request's route shape: a hash of the client's host and path (query excluded), read
 * from the serialized request headers without building a string (it is computed per request).
 */
export function shapeKey(rawHeaders: ArrayBuffer): u64 {
  const authority = HeaderList.rawFind(rawHeaders, ":authority");
  const path = HeaderList.rawFind(rawHeaders, ":path");
  let h: u64 = 0xcbf29ce484222325;
  h = hashBytes(h, <usize>(authority >> 32), <usize>(authority & 0xffffffff), -1);
  h = (h ^ 0x20) * 0x100000001b3;
  return hashBytes(h, <usize>(path >> 32), <usize>(path & 0xffffffff), 0x3f);
}
