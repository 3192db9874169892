// The part of the WebAssembly JavaScript API the emulator uses: Node 20 has it, but
// @types/node 20 does not declare it (it lives in TypeScript's DOM library).
declare namespace WebAssembly {
  interface ModuleImportDescriptor { module: string; name: string; kind: string }
  interface ModuleExportDescriptor { name: string; kind: string }
  class Module {
    constructor(bytes: Uint8Array);
    static imports(module: Module): ModuleImportDescriptor[];
    static exports(module: Module): ModuleExportDescriptor[];
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  type ImportValue = ((...args: any[]) => unknown) | Memory | number;
  type Imports = Record<string, Record<string, ImportValue>>;
}
