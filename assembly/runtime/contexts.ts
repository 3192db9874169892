// Context registry: root (plugin) contexts and stream contexts, created and found by id.
import { DataAction, HeadersAction } from "../abi/enums";

/** A plugin (root) context: configuration, ticks and HTTP-call answers arrive here. */
export class RootContext {
  constructor(public id: u32) {}
  /** VM start; return false to fail the VM. */
  onVmStart(configSize: usize): bool { return true; }
  /** Plugin configuration; return false to make the host reject it. */
  onConfigure(configSize: usize): bool { return true; }
  /** Timer tick. */
  onTick(): void {}
  /** Creates the context of a new HTTP stream. */
  createStream(id: u32): StreamContext { return new StreamContext(id, this); }
  /** The host is removing this context. */
  onDelete(): void {}
}

/** An HTTP stream (one request and its response). */
export class StreamContext {
  constructor(public id: u32, public root: RootContext) {}
  /** Request headers arrived. */
  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction { return HeadersAction.Continue; }
  /** A request body chunk arrived. */
  onRequestBody(size: usize, endOfStream: bool): DataAction { return DataAction.Continue; }
  /** Response headers arrived. */
  onResponseHeaders(numHeaders: u32, endOfStream: bool): HeadersAction { return HeadersAction.Continue; }
  /** A response body chunk arrived. */
  onResponseBody(size: usize, endOfStream: bool): DataAction { return DataAction.Continue; }
  /** The stream is finished (access-log time). */
  onLog(): void {}
  /** The host is removing this context. */
  onDelete(): void {}
}

/** Builds the root context for a new plugin context id. */
export type RootFactory = (id: u32) => RootContext;

let rootFactory: RootFactory = (id: u32): RootContext => new RootContext(id);
const roots = new Map<u32, RootContext>();
const streams = new Map<u32, StreamContext>();

/** Installs the product's root-context factory; call once from index.ts. */
export function setRootFactory(factory: RootFactory): void {
  rootFactory = factory;
}

/** Creates a root context (parent 0) or a stream context of an existing root. */
export function createContext(id: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(id, rootFactory(id));
  } else if (roots.has(parentId)) {
    streams.set(id, roots.get(parentId).createStream(id));
  }
}

/** The root context with this id, or null. */
export function findRoot(id: u32): RootContext | null {
  return roots.has(id) ? roots.get(id) : null;
}

/** The stream context with this id, or null. */
export function findStream(id: u32): StreamContext | null {
  return streams.has(id) ? streams.get(id) : null;
}

/** Makes `ctx` the context of stream `id` from now on (a stream whose filter is chosen once its headers are known). */
export function replaceStream(id: u32, ctx: StreamContext): void {
  if (streams.has(id)) streams.set(id, ctx);
}

/** Forgets a context after the host deleted it. */
export function deleteContext(id: u32): void {
  if (streams.has(id)) {
    streams.get(id).onDelete();
    streams.delete(id);
  } else if (roots.has(id)) {
    roots.get(id).onDelete();
    roots.delete(id);
  }
}
