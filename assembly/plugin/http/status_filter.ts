// A downstream instance that only answers the status path (`statusOnly`), beside the plugin as an
// upstream filter: an upstream filter cannot answer for the route. Both share the VM (the same
// vm_id), so this one reads the pool the upstream one keeps; every other request passes untouched.
import { HeadersAction, MapType } from "../../abi/enums";
import { RootContext, StreamContext } from "../../runtime/contexts";
import { getHeader } from "../../runtime/headers";
import { pathOnly } from "../../util/path";
import { Plugin } from "../plugin";
import { answerStatus } from "./status_endpoint";

export class StatusFilter extends StreamContext {
  constructor(id: u32, root: RootContext, private readonly plugin: Plugin) {
    super(id, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeadersAction {
    const path = getHeader(MapType.RequestHeaders, ":path");
    if (path == null || pathOnly(path) != this.plugin.config.statusPath) return HeadersAction.Continue;
    answerStatus(this.plugin);
    return HeadersAction.StopIteration;
  }
}
