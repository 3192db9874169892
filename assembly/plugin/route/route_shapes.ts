// The route shapes one VM knows, learned or published by another VM of the process in shared data.
import { readShared, writeShared } from "../../runtime/shared_data";
import { RouteShape, SHAPE_TTL_MS } from "./route_shape";
import { SHAPE_RECORD } from "../base/shared_record";

/** At most this many host+path keys per VM; past it the oldest learning starts over. */
const MAX_SHAPES = 64;

/**
 * The shapes one VM knows: those it learned, and those another VM of the process published in
 * shared data (so a route is learned once per process, not once per worker).
 */
export class RouteShapes {
  private shapes: Map<u64, RouteShape> = new Map();
  /** Shared-data key prefix of published shapes ("" until configured: nothing is shared). */
  sharedPrefix: string = "";

  /** The shape for `key` if learned within SHAPE_TTL_MS, else null. */
  get(key: u64, now: i64): RouteShape | null {
    if (!this.shapes.has(key)) return null;
    const s = this.shapes.get(key);
    return now - s.learnedAt < SHAPE_TTL_MS ? s : null;
  }

  /** Stores a learned shape. */
  put(key: u64, shape: RouteShape): void {
    if (this.shapes.size >= MAX_SHAPES && !this.shapes.has(key)) this.shapes.clear();
    this.shapes.set(key, shape);
  }

  /**
   * Learns a shape and publishes it for the other VMs: one read, and a write only when the route
   * does something the published copy does not say (first learned in the process, or changed).
   */
  learn(key: u64, shape: RouteShape): void {
    this.put(key, shape);
    if (this.sharedPrefix.length == 0) return;
    const payload = SHAPE_RECORD.decode(readShared(this.sharedKey(key)));
    const published = payload != null ? RouteShape.decode(payload) : null;
    if (published != null && published.sameRoute(shape)) return;
    writeShared(this.sharedKey(key), SHAPE_RECORD.encode(shape.encode()), 0);
  }

  /** The shape for `key`: this VM's, else the one published by another VM (one read). */
  find(key: u64, now: i64): RouteShape | null {
    const own = this.get(key, now);
    if (own != null || this.sharedPrefix.length == 0) return own;
    const payload = SHAPE_RECORD.decode(readShared(this.sharedKey(key)));
    if (payload == null) return null;
    const shape = RouteShape.decode(payload);
    if (shape == null) return null;
    // Kept as freshly learned here: this VM learns the route itself within SHAPE_TTL_MS anyway.
    shape.learnedAt = now;
    this.put(key, shape);
    return shape;
  }

  private sharedKey(key: u64): ArrayBuffer {
    return String.UTF8.encode(this.sharedPrefix + key.toString(16));
  }
}
